-- Fuzzy search (issue 6), continued: a ledger of writes to the tables text search reads,
-- so the in-process search index (core/src/search.rs) can tell in the same round trip as
-- a search whether it is still current.
--
-- Every statement that writes virtual_machines, esxi_hosts, physical_servers,
-- ip_assignments or routing_domains inserts one row here (a statement trigger: a bulk
-- upsert of 100k VMs adds one row, not 100k). A row's xid is its writer's transaction, and
-- the row becomes visible exactly when that transaction's data does, so an index read under
-- snapshot S is current unless some row has an xid S does not see (committed after S).
-- Rows are pruned below the oldest running transaction every 1000th change; the horizon
-- records how far, and an index whose snapshot is older than the horizon reloads.
SET LOCAL ROLE eio_owner;

CREATE TABLE search_changes (
    id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX search_changes_xid_idx ON search_changes (xid);

CREATE TABLE search_changes_horizon (
    one  boolean PRIMARY KEY DEFAULT true CONSTRAINT search_changes_horizon_one_row CHECK (one),
    horizon xid8 NOT NULL DEFAULT '0'
);
INSERT INTO search_changes_horizon DEFAULT VALUES;

CREATE FUNCTION note_search_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
    h xid8;
BEGIN
    INSERT INTO search_changes DEFAULT VALUES RETURNING id INTO n;
    IF n % 1000 = 0 THEN
        h := pg_snapshot_xmin(pg_current_snapshot());
        UPDATE search_changes_horizon SET horizon = greatest(horizon, h);
        DELETE FROM search_changes WHERE xid < h;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER virtual_machines_search_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON virtual_machines
    FOR EACH STATEMENT EXECUTE FUNCTION note_search_change();
CREATE TRIGGER esxi_hosts_search_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON esxi_hosts
    FOR EACH STATEMENT EXECUTE FUNCTION note_search_change();
CREATE TRIGGER physical_servers_search_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON physical_servers
    FOR EACH STATEMENT EXECUTE FUNCTION note_search_change();
CREATE TRIGGER ip_assignments_search_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ip_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION note_search_change();
CREATE TRIGGER routing_domains_search_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routing_domains
    FOR EACH STATEMENT EXECUTE FUNCTION note_search_change();

-- Whether anything written since snapshot p_snapshot (an index read under it) is visible now.
CREATE FUNCTION search_index_stale(p_snapshot pg_snapshot) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (SELECT h.horizon FROM search_changes_horizon h) > pg_snapshot_xmin(p_snapshot)
           OR EXISTS (SELECT 1 FROM search_changes c
                      WHERE c.xid >= pg_snapshot_xmin(p_snapshot) AND NOT pg_visible_in_snapshot(c.xid, p_snapshot))
$$;

GRANT SELECT ON search_changes, search_changes_horizon TO eio_viewer;
GRANT EXECUTE ON FUNCTION search_index_stale(pg_snapshot) TO eio_viewer;
