-- Open findings in the order the IPAM page and a prefix's page list them (most severe
-- first, then type, address, subject), so a page reads the 200 it shows instead of
-- sorting every open finding (issue 19: ipam_page p95 297 ms, ipam_prefix 100 ms with
-- 10k VMs, whose 10,200 open findings were all joined and sorted for each page).
SET LOCAL ROLE eio_owner;

CREATE INDEX ipam_findings_open_order ON ipam_findings (severity DESC, type, address, subject_key)
    WHERE resolved_at IS NULL;
