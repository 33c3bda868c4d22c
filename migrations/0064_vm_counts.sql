-- How many VMs there are, by group, kept as they change (issue 21): the dashboard's per-site
-- counts and totals and the inventory's facets counted every VM on every load, 300 ms and
-- more at 100k VMs.
--
-- vm_counts and vm_tag_counts are logs of signed deltas. Every statement that writes
-- virtual_machines, or moves a VM's placement (entity_sites), appends for each group it
-- changed how many counted VMs (not removed, not templates) it added or took away. Readers
-- sum by group. Appending locks no existing row, so concurrent syncs, watchers and
-- inference runs never wait for each other here, and a reader sees exactly the committed
-- writes its snapshot sees. About every 1000 appended rows, the statement that crosses the
-- mark folds the log into one row per group; one folder at a time, a statement that can't
-- get the fold lock at once skips it (the next mark folds).
--
-- A group is (vCenter, placement, cluster, power, tools). The site a page shows is
-- coalesce(placement, the vCenter's site), and site codes and cluster names are joined at
-- read time, so a vCenter's site, a site's code or a cluster's name changing moves no count.
--
-- The race this must not lose: a VM's power changes in one transaction while an inference
-- run or a pin moves the VM to another site in another. Each would count from its own
-- snapshot, and the move would carry the old power state to the new site. So both triggers
-- first take a transaction lock per vCenter whose VMs they count (pg_advisory_xact_lock, in
-- key order), then read in a statement of their own, whose snapshot sees what the other
-- committed: a move waits for a writer of that vCenter's VMs to commit, and a writer for a
-- move. Neither waits for a row lock of the other, so they cannot deadlock on each other
-- (a transaction writing several vCenters' VMs in separate statements could still meet
-- another doing so in the other order; PostgreSQL then rolls one back). The waits are per
-- vCenter: a sync of one vCenter never waits for a move of another's VMs.
--
-- Two things would make the counts wrong, so the triggers refuse them with a clear error:
-- a writer that is not READ COMMITTED (its trigger statements would not see what it waited
-- for; 55000), and one statement that writes virtual_machines and moves placements at once,
-- through a data-modifying WITH (the move would see the VMs' new state and the VM trigger
-- count it again; 0A000). Write them in separate statements. A login that may write VMs can
-- still misstate the counts on purpose, as it can misstate the VMs themselves.
--
-- Written by nothing but these triggers: no application role has a write grant.
SET LOCAL ROLE eio_owner;

CREATE TABLE vm_counts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vcenter_id   uuid NOT NULL,
    -- The winning placement (entity_sites); NULL: none, the vCenter's site applies.
    site_id      uuid,
    cluster_id   uuid,
    power_state  vm_power_state,
    tools_status vm_tools_status,
    n            bigint NOT NULL
);
COMMENT ON TABLE vm_counts IS 'signed deltas of counted VMs per group, summed by readers, kept by triggers';

CREATE TABLE vm_tag_counts (
    id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag text NOT NULL,
    n   bigint NOT NULL
);
COMMENT ON TABLE vm_tag_counts IS 'signed deltas of counted VMs per tag, summed by readers, kept by triggers';

GRANT SELECT ON vm_counts, vm_tag_counts TO eio_viewer, eio_worker;

-- Fold each log into one row per group. Called by the triggers; only one at a time.
CREATE FUNCTION vm_counts_fold() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('eio:vm_counts_fold', 0)) THEN
        RETURN;
    END IF;
    WITH d AS (DELETE FROM vm_counts RETURNING vcenter_id, site_id, cluster_id, power_state, tools_status, n)
    INSERT INTO vm_counts (vcenter_id, site_id, cluster_id, power_state, tools_status, n)
    SELECT vcenter_id, site_id, cluster_id, power_state, tools_status, sum(n) FROM d
    GROUP BY vcenter_id, site_id, cluster_id, power_state, tools_status HAVING sum(n) <> 0;
    WITH d AS (DELETE FROM vm_tag_counts RETURNING tag, n)
    INSERT INTO vm_tag_counts (tag, n) SELECT tag, sum(n) FROM d GROUP BY tag HAVING sum(n) <> 0;
END
$$;

-- Refuse what would make the counts wrong (see above), before any count is read.
-- p_self: 'vms' or 'places', the table whose statement trigger runs; the other's flag set
-- for this same client statement means one statement wrote both.
CREATE FUNCTION vm_counts_check(p_self text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    other text := CASE p_self WHEN 'vms' THEN 'places' ELSE 'vms' END;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'VMs and their placements are written at READ COMMITTED (this transaction is %)',
            upper(current_setting('transaction_isolation'))
            USING ERRCODE = '55000', HINT = 'the kept VM counts (migration 0064) read what concurrent writers committed';
    END IF;
    IF current_setting('eio.vm_counts_' || other, true) = statement_timestamp()::text THEN
        RAISE EXCEPTION 'one statement writes virtual_machines and moves placements at once'
            USING ERRCODE = '0A000', HINT = 'write the VMs and the site opinions in separate statements';
    END IF;
    PERFORM set_config('eio.vm_counts_' || p_self, '', true);
END
$$;

-- Marks a statement that writes virtual_machines ('vms') or entity_sites ('places') as
-- under way, for vm_counts_check.
CREATE FUNCTION vm_counts_mark() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM set_config('eio.vm_counts_' || TG_ARGV[0], statement_timestamp()::text, true);
    RETURN NULL;
END
$$;

-- Wait for every other transaction counting VMs of these vCenters (see above), in key order.
CREATE FUNCTION vm_counts_lock(p_vcenters uuid[]) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    k bigint;
BEGIN
    FOR k IN SELECT DISTINCT hashtextextended('eio:vm_counts:' || v::text, 0) FROM unnest(p_vcenters) v ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
END
$$;

-- One counted VM's contribution: +1 where it now is, -1 where it was.
CREATE TYPE vm_count_delta AS (
    sign         integer,
    vcenter_id   uuid,
    site_id      uuid,
    cluster_id   uuid,
    power_state  vm_power_state,
    tools_status vm_tools_status,
    tags         text[]
);

-- Append the deltas (grouped; groups that net to zero append nothing) and fold when the
-- log crosses a mark. Transition tables are visible only inside the trigger function
-- itself, so the triggers collect their rows and pass them here.
CREATE FUNCTION vm_counts_append(p vm_count_delta[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    lo bigint;
    hi bigint;
    t_lo bigint;
    t_hi bigint;
BEGIN
    IF coalesce(cardinality(p), 0) = 0 THEN
        RETURN;
    END IF;
    WITH ins AS (
        INSERT INTO vm_counts (vcenter_id, site_id, cluster_id, power_state, tools_status, n)
        SELECT r.vcenter_id, r.site_id, r.cluster_id, r.power_state, r.tools_status, sum(r.sign) FROM unnest(p) r
        GROUP BY r.vcenter_id, r.site_id, r.cluster_id, r.power_state, r.tools_status HAVING sum(r.sign) <> 0
        RETURNING id)
    SELECT min(id), max(id) INTO lo, hi FROM ins;
    WITH ins AS (
        INSERT INTO vm_tag_counts (tag, n)
        SELECT t, sum(r.sign) FROM unnest(p) r, unnest(r.tags) t WHERE t IS NOT NULL
        GROUP BY t HAVING sum(r.sign) <> 0
        RETURNING id)
    SELECT min(id), max(id) INTO t_lo, t_hi FROM ins;
    IF hi / 1000 <> (lo - 1) / 1000 OR t_hi / 1000 <> (t_lo - 1) / 1000 THEN
        PERFORM vm_counts_fold();
    END IF;
END
$$;

-- virtual_machines: the rows a statement took away count -1, the rows it left +1, each at
-- the VM's placement now.
CREATE FUNCTION virtual_machines_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    vcs uuid[];
    d vm_count_delta[];
BEGIN
    PERFORM vm_counts_check('vms');
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT x.vcenter_id) INTO vcs FROM new_rows x;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT x.vcenter_id) INTO vcs FROM old_rows x;
    ELSE
        SELECT array_agg(DISTINCT x.vcenter_id) INTO vcs
        FROM (SELECT vcenter_id FROM old_rows UNION SELECT vcenter_id FROM new_rows) x;
    END IF;
    IF vcs IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM vm_counts_lock(vcs);
    -- Each statement below has a fresh snapshot: it sees the placements a move this waited
    -- for committed.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg((1, x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, x.tags)::vm_count_delta)
        INTO d
        FROM new_rows x LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
        WHERE x.removed_at IS NULL AND NOT x.is_template;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg((-1, x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, x.tags)::vm_count_delta)
        INTO d
        FROM old_rows x LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
        WHERE x.removed_at IS NULL AND NOT x.is_template;
    ELSE
        -- Only rows whose counted fields changed (a full join: an id that changed is a row
        -- gone and a row come).
        WITH changed AS (
            SELECT o AS o_row, n AS n_row FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
            WHERE o.id IS NULL OR n.id IS NULL
               OR (o.vcenter_id, o.cluster_id, o.power_state, o.tools_status, o.tags, o.removed_at IS NULL, o.is_template)
                  IS DISTINCT FROM
                  (n.vcenter_id, n.cluster_id, n.power_state, n.tools_status, n.tags, n.removed_at IS NULL, n.is_template)
        ), x AS (
            SELECT -1 AS sign, (c.o_row).* FROM changed c WHERE (c.o_row).id IS NOT NULL
            UNION ALL SELECT 1, (c.n_row).* FROM changed c WHERE (c.n_row).id IS NOT NULL
        )
        SELECT array_agg((x.sign, x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, x.tags)::vm_count_delta)
        INTO d
        FROM x LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
        WHERE x.removed_at IS NULL AND NOT x.is_template;
    END IF;
    PERFORM vm_counts_append(d);
    RETURN NULL;
END
$$;

-- entity_sites: a placement that appears moves a counted VM from "none" (NULL) to its site,
-- one that goes moves it back, a change does both. Waits for writers of their vCenters first.
CREATE FUNCTION entity_sites_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m_sign integer[];
    m_id uuid[];
    m_site uuid[];
    d vm_count_delta[];
BEGIN
    PERFORM vm_counts_check('places');
    -- Placements that appeared count +1, those that went -1 (a change is both).
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(1), array_agg(e.entity_id), array_agg(e.site_id) INTO m_sign, m_id, m_site
        FROM new_rows e WHERE e.entity_type = 'virtual_machine';
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(-1), array_agg(e.entity_id), array_agg(e.site_id) INTO m_sign, m_id, m_site
        FROM old_rows e WHERE e.entity_type = 'virtual_machine';
    ELSE
        SELECT array_agg(m.sign), array_agg(m.entity_id), array_agg(m.site_id) INTO m_sign, m_id, m_site
        FROM (SELECT 1 AS sign, e.entity_id, e.site_id FROM new_rows e WHERE e.entity_type = 'virtual_machine'
              UNION ALL
              SELECT -1, e.entity_id, e.site_id FROM old_rows e WHERE e.entity_type = 'virtual_machine') m;
    END IF;
    IF m_id IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM vm_counts_lock(array_agg(DISTINCT v.vcenter_id)) FROM virtual_machines v WHERE v.id = ANY (m_id);
    -- A fresh snapshot: it sees what a writer of these VMs this waited for committed.
    SELECT array_agg((m.sign * p.sign, v.vcenter_id, CASE WHEN p.sign = 1 THEN m.site_id END,
                      v.cluster_id, v.power_state, v.tools_status, '{}'::text[])::vm_count_delta)
    INTO d
    FROM unnest(m_sign, m_id, m_site) AS m(sign, entity_id, site_id)
    CROSS JOIN (VALUES (1), (-1)) AS p(sign)
    JOIN virtual_machines v ON v.id = m.entity_id
    WHERE v.removed_at IS NULL AND NOT v.is_template;
    PERFORM vm_counts_append(d);
    RETURN NULL;
END
$$;

-- A TRUNCATE (a test, a restore) empties the counts with the VMs. Truncating entity_sites
-- leaves every VM unplaced: recount from the table.
CREATE FUNCTION vm_counts_recount() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM vm_counts;
    DELETE FROM vm_tag_counts;
    PERFORM vm_counts_append(array_agg(
        (1, x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, x.tags)::vm_count_delta))
    FROM virtual_machines x LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
    WHERE x.removed_at IS NULL AND NOT x.is_template;
    RETURN NULL;
END
$$;

CREATE TRIGGER virtual_machines_count_mark BEFORE INSERT OR UPDATE OR DELETE ON virtual_machines
    FOR EACH STATEMENT EXECUTE FUNCTION vm_counts_mark('vms');
CREATE TRIGGER entity_sites_count_mark BEFORE INSERT OR UPDATE OR DELETE ON entity_sites
    FOR EACH STATEMENT EXECUTE FUNCTION vm_counts_mark('places');
CREATE TRIGGER virtual_machines_count_inserted AFTER INSERT ON virtual_machines
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION virtual_machines_count();
CREATE TRIGGER virtual_machines_count_updated AFTER UPDATE ON virtual_machines
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION virtual_machines_count();
CREATE TRIGGER virtual_machines_count_deleted AFTER DELETE ON virtual_machines
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION virtual_machines_count();
CREATE TRIGGER virtual_machines_count_truncated AFTER TRUNCATE ON virtual_machines
    FOR EACH STATEMENT EXECUTE FUNCTION vm_counts_recount();
CREATE TRIGGER entity_sites_count_inserted AFTER INSERT ON entity_sites
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION entity_sites_count();
CREATE TRIGGER entity_sites_count_updated AFTER UPDATE ON entity_sites
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION entity_sites_count();
CREATE TRIGGER entity_sites_count_deleted AFTER DELETE ON entity_sites
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION entity_sites_count();
CREATE TRIGGER entity_sites_count_truncated AFTER TRUNCATE ON entity_sites
    FOR EACH STATEMENT EXECUTE FUNCTION vm_counts_recount();

-- What is there now. The migration holds the tables' trigger locks, so nothing is written
-- between this count and the triggers taking over.
INSERT INTO vm_counts (vcenter_id, site_id, cluster_id, power_state, tools_status, n)
SELECT x.vcenter_id, es.site_id, x.cluster_id, x.power_state, x.tools_status, count(*)
FROM virtual_machines x LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = x.id
WHERE x.removed_at IS NULL AND NOT x.is_template
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO vm_tag_counts (tag, n)
SELECT t, count(*) FROM virtual_machines x, unnest(x.tags) t
WHERE x.removed_at IS NULL AND NOT x.is_template AND t IS NOT NULL GROUP BY t;
