-- A prefix's open findings by prefix, so a prefix's page finds them without reading every
-- finding (issue 19: the page's findings read was 12-16 ms with 10k VMs, a sequential scan
-- of all 10,200 findings and a nested loop over the address arm).
SET LOCAL ROLE eio_owner;

CREATE INDEX ipam_findings_open_prefix ON ipam_findings (prefix_id) WHERE resolved_at IS NULL;
