-- Fresh planner statistics after a sync changed a table wholesale.
--
-- Autovacuum analyzes a table a minute or so after a bulk change; until then the planner
-- keeps the row counts it saw before. A vCenter's first sync turns 0 VMs into 10,000, and a
-- resync right after it (or the findings and site inference that follow every sync) was
-- planned for an empty table: a nested-loop anti-join scanning the staged rows once per
-- existing row, 38 s instead of milliseconds for 10k VMs. The sync calls this after it
-- commits, naming the tables it wrote and how many rows it created, restored or removed in
-- each; a table is analyzed when that change is large against what the planner believes it
-- holds (more than 500 rows and a fifth of its estimate). An unchanged resync analyzes nothing.
--
-- SECURITY DEFINER because ANALYZE needs the table's owner and workers sign in as their own
-- logins. Only tables of this schema are touched; unknown names are ignored. Returns the
-- tables analyzed.
SET LOCAL ROLE eio_owner;

CREATE FUNCTION analyze_after_bulk_change(p_tables text[], p_changed bigint[])
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    analyzed text[] := '{}';
BEGIN
    FOR r IN
        SELECT c.relname
        FROM unnest(p_tables, p_changed) AS t(name, changed)
        JOIN pg_class c ON c.relname = t.name AND c.relkind = 'r'
                       AND c.relnamespace = 'public'::regnamespace
        WHERE t.changed > 500 + 0.2 * greatest(c.reltuples, 0)
    LOOP
        EXECUTE format('ANALYZE %I', r.relname);
        analyzed := analyzed || r.relname::text;
    END LOOP;
    RETURN analyzed;
END
$$;

REVOKE ALL ON FUNCTION analyze_after_bulk_change(text[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_after_bulk_change(text[], bigint[]) TO eio_worker;

-- When a vCenter last delivered a complete inventory, committed with it. A full sync no
-- longer rewrites rows that didn't change (10,000 row versions and every index on them),
-- so a VM's or host's own last_sync is when it last changed; when it was last confirmed is
-- the later of that and this (every live row was in that snapshot).
ALTER TABLE vcenter_instances ADD COLUMN last_full_sync_at timestamptz;
COMMENT ON COLUMN vcenter_instances.last_full_sync_at IS
    'when the last full sync committed: every live datacenter, cluster, host and VM of this vCenter was confirmed then';
