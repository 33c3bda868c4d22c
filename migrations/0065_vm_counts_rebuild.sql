-- Repair the kept VM counts (migration 0064) from the VMs themselves.
--
-- The triggers keep the counts right for every write they see and refuse the writes they
-- could not follow. What they never see can still make them drift: triggers disabled by a
-- superuser, a session at session_replication_role = replica, a data-only restore without
-- --disable-triggers. vm_counts_rebuild() replaces the log with a count of the VMs and says
-- how many groups were wrong; `eio migrate` runs it after the migrations.
--
-- Safe beside concurrent writers without locking them out: it waits for a fold under way
-- (the fold lock, held to its commit; later folds skip while it holds it), then one
-- statement, with one snapshot, deletes every delta that snapshot sees and inserts the
-- count of the VMs that snapshot sees. A writer commits its VM rows and its deltas
-- together, so the two agree in every snapshot; the deltas of writers that commit later
-- are not deleted and stay on top of the new count.
--
-- Owner only: no application login may call it (it would let one stall the folds).
SET LOCAL ROLE eio_owner;

CREATE FUNCTION vm_counts_rebuild() RETURNS bigint
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    wrong bigint;
    wrong_tags bigint;
BEGIN
    -- At REPEATABLE READ the statement below would read the snapshot taken before the
    -- fold lock, and could count a fold's rows twice.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the VM counts are rebuilt at READ COMMITTED (this transaction is %)',
            upper(current_setting('transaction_isolation'))
            USING ERRCODE = '55000';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('eio:vm_counts_fold', 0));
    WITH was AS (
        DELETE FROM vm_counts RETURNING vcenter_id, site_id, cluster_id, power_state, tools_status, n
    ), truth AS (
        SELECT x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, count(*) AS n
        FROM virtual_machines x
        LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
        WHERE x.removed_at IS NULL AND NOT x.is_template
        GROUP BY 1, 2, 3, 4, 5
    ), ins AS (
        -- A data-modifying WITH runs to completion whether or not it is read.
        INSERT INTO vm_counts (vcenter_id, site_id, cluster_id, power_state, tools_status, n)
        SELECT * FROM truth RETURNING 1
    )
    -- The groups whose kept count differs from the VMs (GROUP BY takes NULLs as equal).
    SELECT count(*) INTO wrong FROM (
        SELECT 1 FROM (SELECT vcenter_id, site_id, cluster_id, power_state, tools_status, n FROM was
                       UNION ALL
                       SELECT vcenter_id, site_id, cluster_id, power_state, tools_status, -n FROM truth) d
        GROUP BY vcenter_id, site_id, cluster_id, power_state, tools_status HAVING sum(n) <> 0) w;

    WITH was AS (
        DELETE FROM vm_tag_counts RETURNING tag, n
    ), truth AS (
        SELECT t AS tag, count(*) AS n FROM virtual_machines x, unnest(x.tags) t
        WHERE x.removed_at IS NULL AND NOT x.is_template AND t IS NOT NULL GROUP BY t
    ), ins AS (
        INSERT INTO vm_tag_counts (tag, n) SELECT tag, n FROM truth RETURNING 1
    )
    SELECT count(*) INTO wrong_tags FROM (
        SELECT 1 FROM (SELECT tag, n FROM was UNION ALL SELECT tag, -n FROM truth) d
        GROUP BY tag HAVING sum(n) <> 0) w;

    RETURN wrong + wrong_tags;
END
$$;
COMMENT ON FUNCTION vm_counts_rebuild() IS
    'recount vm_counts and vm_tag_counts from the VMs; returns how many groups were wrong (run by eio migrate)';
