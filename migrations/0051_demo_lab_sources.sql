-- Sources the demo lab registered are marked as such, so the dashboard can say "the demo
-- lab is not running" instead of listing dozens of unreachable sources, and the demo can
-- pause them (disable them) when it stops and resume them when it starts.
SET LOCAL ROLE eio_owner;

ALTER TABLE vcenter_instances ADD COLUMN demo_lab boolean NOT NULL DEFAULT false;
ALTER TABLE idrac_endpoints ADD COLUMN demo_lab boolean NOT NULL DEFAULT false;
ALTER TABLE ome_instances ADD COLUMN demo_lab boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN vcenter_instances.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';
COMMENT ON COLUMN idrac_endpoints.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';
COMMENT ON COLUMN ome_instances.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';
