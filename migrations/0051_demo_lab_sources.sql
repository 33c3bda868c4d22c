-- Sources the demo lab registered are marked as such, so the dashboard can say "the demo
-- lab is not running" instead of listing dozens of unreachable sources, and the demo can
-- pause them (disable them) when it stops and resume, when it starts, exactly the ones it
-- paused (never a source an operator disabled).
SET LOCAL ROLE eio_owner;

ALTER TABLE vcenter_instances ADD COLUMN demo_lab boolean NOT NULL DEFAULT false,
                              ADD COLUMN demo_lab_paused boolean NOT NULL DEFAULT false;
ALTER TABLE idrac_endpoints ADD COLUMN demo_lab boolean NOT NULL DEFAULT false,
                            ADD COLUMN demo_lab_paused boolean NOT NULL DEFAULT false;
ALTER TABLE ome_instances ADD COLUMN demo_lab boolean NOT NULL DEFAULT false,
                          ADD COLUMN demo_lab_paused boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN vcenter_instances.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';
COMMENT ON COLUMN idrac_endpoints.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';
COMMENT ON COLUMN ome_instances.demo_lab IS 'registered by the demo lab (eio demo, the desktop''s Try the demo lab)';

-- Workers may update source rows (sync status), but marking a source as the demo's, or
-- pausing it as the demo, is an admin's (the demo runs as one): otherwise a worker login
-- could have a real source described as "the demo lab is not running" and paused with it.
CREATE FUNCTION check_demo_lab_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF (NEW.demo_lab IS DISTINCT FROM OLD.demo_lab OR NEW.demo_lab_paused IS DISTINCT FROM OLD.demo_lab_paused)
       AND NOT pg_has_role(current_user, 'eio_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'only an admin (the demo lab runs as one) marks or pauses demo-lab sources'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER vcenter_instances_demo_lab BEFORE UPDATE OF demo_lab, demo_lab_paused ON vcenter_instances
    FOR EACH ROW EXECUTE FUNCTION check_demo_lab_change();
CREATE TRIGGER idrac_endpoints_demo_lab BEFORE UPDATE OF demo_lab, demo_lab_paused ON idrac_endpoints
    FOR EACH ROW EXECUTE FUNCTION check_demo_lab_change();
CREATE TRIGGER ome_instances_demo_lab BEFORE UPDATE OF demo_lab, demo_lab_paused ON ome_instances
    FOR EACH ROW EXECUTE FUNCTION check_demo_lab_change();
