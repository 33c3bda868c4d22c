-- Findings, continued (0017): the findings engine as set-based SQL over what changed
-- (issue 21: a full run over 1M observations in 3 s, the run after a watcher batch in
-- 200 ms; it took 15-18 s).
--
-- Where the time went: prefix_utilization(NULL), a range probe per prefix (100k of them)
-- with per-row helper calls; a join of every address with its supernet at every prefix
-- length, sorted to keep the longest; entity_label() planned anew for every carrier; and
-- rewriting every open finding on every run.
--
--   * The full run walks the live addresses once, in index order, merged with the prefix
--     boundaries (a prefix opens at its first address and hands back to its parent after
--     its last; the boundaries are kept in ipam_findings_bounds until a prefix changes):
--     one window pass gives each address its most specific prefix and counts the
--     addresses before each boundary, so a prefix's distinct addresses are the count at its
--     end less the count at its start. Only prefixes whose rough utilization comes near
--     their threshold are computed exactly, by the functions prefix_utilization uses.
--   * Findings are compared with what is stored; only new, changed, reopened and cleared
--     ones are written ("planned, not seen", the many, by a digest of the facts they are
--     worded from). An open finding was confirmed by every run since it opened, so its
--     last_seen_at reads as the later of the stored value and the last run
--     (ipam_findings_state.last_run_at, used by the listings); a cleared one keeps the last
--     run that saw it, as before.
--   * The run over changes: triggers on the tables findings read note what changed in
--     ipam_findings_changes (addresses with the change in their live observations, MACs,
--     planned addresses and blocks with the change in planned addresses, the prefixes whose
--     "managed" state may flip, renamed or deleted carriers), or that only a full run will
--     do (prefixes, routing domain names, statements of more than 10,000 rows, TRUNCATE).
--     run_ipam_findings_changed consumes the notes and recomputes only the findings about
--     the addresses, MACs and prefixes they touch, keeping each prefix's utilization counts
--     (ipam_prefix_usage) up to date from them; it runs in full by itself when it must, or
--     when more than p_max_subjects addresses would be examined. The same findings either
--     way (the test findings_incremental compares them after every batch of changes).
--
-- Consistency without locks: the notes a run consumes and the counts it keeps are read in
-- one statement (one snapshot); a note committed later stays for the next run. Findings
-- are recomputed from the data itself, so reading it a moment later is harmless: whatever
-- changed meanwhile has its note waiting.
--
-- run_ipam_findings(interval) keeps its signature, owner, SECURITY DEFINER, search path
-- and grants, and is the full run. Every run is recorded in finding_runs, now with its
-- scope ('full' or 'changes') and, for the latter, how many subjects it examined. The new
-- tables are readable by viewers and written by the engine (their owner) only.
SET LOCAL ROLE eio_owner;

-- ---------------------------------------------------------------------------------
-- State.

-- What changed since the engine last ran (written by the triggers below, consumed by runs).
--   address    an observation row of (routing domain, address) changed; live_delta: live
--              rows added minus removed
--   mac        a live observation with this MAC changed
--   entity     a carrier's name changed or it went (its observations' findings show names)
--   assignment a planned address or block changed; planned_delta: addresses added minus
--              removed (prefix utilization counts every assignment inside a prefix)
--   managed    assignments naming prefix_id: count_delta added minus removed (a prefix
--              with assignments is managed address by address)
--   prefixes   a prefix changed: a full run, over a prefix tree built again
--   all        only a full run will do (reason says why)
CREATE TABLE ipam_findings_changes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    what              text NOT NULL CONSTRAINT ipam_findings_changes_what_known
                      CHECK (what IN ('address', 'mac', 'entity', 'assignment', 'managed', 'prefixes', 'all')),
    routing_domain_id uuid,
    address           inet,
    mac_address       macaddr,
    entity_type       entity_kind,
    entity_id         uuid,
    prefix_id         uuid,
    live_delta        integer,
    planned_delta     numeric,
    count_delta       integer,
    reason            text,
    noted_at          timestamptz NOT NULL DEFAULT now()
);

-- Each prefix's utilization counts as of the last run (what prefix_utilization returns,
-- before the ratios): kept by the incremental run, rebuilt by the full run.
CREATE TABLE ipam_prefix_usage (
    prefix_id       uuid PRIMARY KEY,
    planned         numeric NOT NULL,
    observed        bigint NOT NULL,
    child_prefixes  bigint NOT NULL,
    child_addresses numeric NOT NULL
);

-- One row: whether ipam_prefix_usage may be kept up to date from the notes (a full run has
-- built it) and the prefix tree below is built; when the last run ran (its now()), with
-- its planned-grace cutoff, and the last full run.
CREATE TABLE ipam_findings_state (
    singleton    boolean PRIMARY KEY DEFAULT true CONSTRAINT ipam_findings_state_singleton CHECK (singleton),
    usage_valid  boolean NOT NULL DEFAULT false,
    tree_valid   boolean NOT NULL DEFAULT false,
    last_run_at  timestamptz,
    last_cutoff  timestamptz,
    last_full_at timestamptz
);
INSERT INTO ipam_findings_state DEFAULT VALUES;

ALTER TABLE finding_runs
    ADD COLUMN scope text NOT NULL DEFAULT 'full' CONSTRAINT finding_runs_scope_known CHECK (scope IN ('full', 'changes')),
    ADD COLUMN examined bigint;

-- A digest of the facts a finding was worded from, where the engine keeps one ("planned,
-- not seen": many, rarely changing): the same facts, the same finding, not worded again. The
-- digest names the wording's version: a new wording changes every digest.
ALTER TABLE ipam_findings ADD COLUMN facts_digest bigint;

-- "Planned, not seen" waits out a grace period: the plans that crossed it between two runs.
CREATE INDEX ip_assignments_created_at_idx ON ip_assignments (created_at);

-- ---------------------------------------------------------------------------------
-- Notes. SECURITY DEFINER: the logins that write the tables may not write the notes.
-- A statement of more than this many rows notes a full run instead.
CREATE FUNCTION ipam_findings_statement_limit() RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$ SELECT 10000 $$;

CREATE FUNCTION ipam_note_full_run() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    INSERT INTO ipam_findings_changes (what, reason)
    VALUES (CASE TG_TABLE_NAME WHEN 'prefixes' THEN 'prefixes' ELSE 'all' END,
            format('%s on %s', lower(TG_OP), TG_TABLE_NAME));
    RETURN NULL;
END
$fn$;

-- Observations: per (domain, address) the change in live rows; the MACs of live rows; a
-- deleted or moved observation as an entity (entity_label names 'ip_observation' carriers
-- by their address). An UPDATE that changes nothing findings read is not noted.
CREATE FUNCTION ipam_note_observation_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    n bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO n FROM new_rows;
    ELSE
        SELECT count(*) INTO n FROM old_rows;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    ELSIF n > ipam_findings_statement_limit() THEN
        INSERT INTO ipam_findings_changes (what, reason) VALUES ('all', format('%s observations: %s', lower(TG_OP), n));
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        WITH x AS (SELECT r.routing_domain_id AS rd, r.address, r.mac_address AS mac, r.gone_at IS NULL AS live
                   FROM new_rows r),
        macs AS (INSERT INTO ipam_findings_changes (what, routing_domain_id, mac_address)
                 SELECT DISTINCT 'mac', x.rd, x.mac FROM x WHERE x.live AND x.mac IS NOT NULL)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, live_delta)
        SELECT 'address', x.rd, x.address, count(*) FILTER (WHERE x.live) FROM x GROUP BY x.rd, x.address;
    ELSIF TG_OP = 'DELETE' THEN
        WITH x AS (SELECT r.id, r.routing_domain_id AS rd, r.address, r.mac_address AS mac, r.gone_at IS NULL AS live
                   FROM old_rows r),
        macs AS (INSERT INTO ipam_findings_changes (what, routing_domain_id, mac_address)
                 SELECT DISTINCT 'mac', x.rd, x.mac FROM x WHERE x.live AND x.mac IS NOT NULL),
        moved AS (INSERT INTO ipam_findings_changes (what, entity_type, entity_id)
                  SELECT 'entity', 'ip_observation'::entity_kind, x.id FROM x)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, live_delta)
        SELECT 'address', x.rd, x.address, -count(*) FILTER (WHERE x.live) FROM x GROUP BY x.rd, x.address;
    ELSE
        WITH x AS (
            SELECT s.*
            FROM old_rows o
            FULL JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (
                SELECT -1 AS sign, o.id, o.routing_domain_id AS rd, o.address, o.mac_address AS mac,
                       o.gone_at IS NULL AS live,
                       n.id IS NULL OR (n.routing_domain_id, n.address) IS DISTINCT FROM (o.routing_domain_id, o.address) AS moved
                WHERE o.id IS NOT NULL
                UNION ALL
                SELECT 1, n.id, n.routing_domain_id, n.address, n.mac_address, n.gone_at IS NULL, false
                WHERE n.id IS NOT NULL
            ) s
            WHERE o.id IS NULL OR n.id IS NULL
               OR (o.routing_domain_id, o.address, o.source, o.mac_address, o.entity_type, o.entity_id, o.hostname,
                   o.last_seen, o.gone_at IS NULL)
                  IS DISTINCT FROM
                  (n.routing_domain_id, n.address, n.source, n.mac_address, n.entity_type, n.entity_id, n.hostname,
                   n.last_seen, n.gone_at IS NULL)
        ),
        macs AS (INSERT INTO ipam_findings_changes (what, routing_domain_id, mac_address)
                 SELECT DISTINCT 'mac', x.rd, x.mac FROM x WHERE x.live AND x.mac IS NOT NULL),
        moved AS (INSERT INTO ipam_findings_changes (what, entity_type, entity_id)
                  SELECT DISTINCT 'entity', 'ip_observation'::entity_kind, x.id FROM x WHERE x.moved)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, live_delta)
        SELECT 'address', x.rd, x.address, sum(CASE WHEN x.live THEN x.sign ELSE 0 END)
        FROM x GROUP BY x.rd, x.address;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER ip_observations_note_insert AFTER INSERT ON ip_observations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_observation_changes();
CREATE TRIGGER ip_observations_note_update AFTER UPDATE ON ip_observations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_observation_changes();
CREATE TRIGGER ip_observations_note_delete AFTER DELETE ON ip_observations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_observation_changes();
CREATE TRIGGER ip_observations_note_truncate AFTER TRUNCATE ON ip_observations
    FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_full_run();

-- Assignments: per planned address or block the change in planned addresses (every
-- status counts, as in prefix_utilization); per prefix_id the change in assignments.
CREATE FUNCTION ipam_note_assignment_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    n bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO n FROM new_rows;
    ELSE
        SELECT count(*) INTO n FROM old_rows;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    ELSIF n > ipam_findings_statement_limit() THEN
        INSERT INTO ipam_findings_changes (what, reason) VALUES ('all', format('%s assignments: %s', lower(TG_OP), n));
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        WITH x AS (SELECT 1 AS sign, r.routing_domain_id AS rd, r.address, r.prefix_id FROM new_rows r),
        managed AS (INSERT INTO ipam_findings_changes (what, prefix_id, count_delta)
                    SELECT 'managed', x.prefix_id, sum(x.sign) FROM x WHERE x.prefix_id IS NOT NULL GROUP BY x.prefix_id)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, planned_delta)
        SELECT 'assignment', x.rd, x.address, sum(x.sign * ipam_address_count(network(x.address)))
        FROM x GROUP BY x.rd, x.address;
    ELSIF TG_OP = 'DELETE' THEN
        WITH x AS (SELECT -1 AS sign, r.routing_domain_id AS rd, r.address, r.prefix_id FROM old_rows r),
        managed AS (INSERT INTO ipam_findings_changes (what, prefix_id, count_delta)
                    SELECT 'managed', x.prefix_id, sum(x.sign) FROM x WHERE x.prefix_id IS NOT NULL GROUP BY x.prefix_id)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, planned_delta)
        SELECT 'assignment', x.rd, x.address, sum(x.sign * ipam_address_count(network(x.address)))
        FROM x GROUP BY x.rd, x.address;
    ELSE
        WITH x AS (
            SELECT s.*
            FROM old_rows o
            FULL JOIN new_rows n ON n.id = o.id
            CROSS JOIN LATERAL (
                SELECT -1 AS sign, o.routing_domain_id AS rd, o.address, o.prefix_id WHERE o.id IS NOT NULL
                UNION ALL
                SELECT 1, n.routing_domain_id, n.address, n.prefix_id WHERE n.id IS NOT NULL
            ) s
            WHERE o.id IS NULL OR n.id IS NULL
               OR (o.routing_domain_id, o.address, o.prefix_id, o.status, o.mac_address, o.hostname, o.created_at)
                  IS DISTINCT FROM
                  (n.routing_domain_id, n.address, n.prefix_id, n.status, n.mac_address, n.hostname, n.created_at)
        ),
        managed AS (INSERT INTO ipam_findings_changes (what, prefix_id, count_delta)
                    SELECT 'managed', x.prefix_id, sum(x.sign) FROM x WHERE x.prefix_id IS NOT NULL
                    GROUP BY x.prefix_id HAVING sum(x.sign) <> 0)
        INSERT INTO ipam_findings_changes (what, routing_domain_id, address, planned_delta)
        SELECT 'assignment', x.rd, x.address, sum(x.sign * ipam_address_count(network(x.address)))
        FROM x GROUP BY x.rd, x.address;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER ip_assignments_note_insert AFTER INSERT ON ip_assignments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_assignment_changes();
CREATE TRIGGER ip_assignments_note_update AFTER UPDATE ON ip_assignments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_assignment_changes();
CREATE TRIGGER ip_assignments_note_delete AFTER DELETE ON ip_assignments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_assignment_changes();
CREATE TRIGGER ip_assignments_note_truncate AFTER TRUNCATE ON ip_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_full_run();

-- Prefixes and routing domain names shape every finding: a full run.
CREATE TRIGGER prefixes_note_rows AFTER INSERT OR DELETE OR TRUNCATE ON prefixes
    FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_full_run();
CREATE TRIGGER prefixes_note_update AFTER UPDATE ON prefixes FOR EACH ROW
    WHEN ((OLD.id, OLD.routing_domain_id, OLD.cidr, OLD.status, OLD.utilization_threshold)
          IS DISTINCT FROM (NEW.id, NEW.routing_domain_id, NEW.cidr, NEW.status, NEW.utilization_threshold))
    EXECUTE FUNCTION ipam_note_full_run();
CREATE TRIGGER routing_domains_note_update AFTER UPDATE ON routing_domains FOR EACH ROW
    WHEN ((OLD.id, OLD.name) IS DISTINCT FROM (NEW.id, NEW.name))
    EXECUTE FUNCTION ipam_note_full_run();
CREATE TRIGGER routing_domains_note_rows AFTER DELETE OR TRUNCATE ON routing_domains
    FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_full_run();

-- Carriers, by what entity_label() shows: a rename (row trigger, only when the name
-- changes) or a deletion. An entity's observations are written after the entity itself (by
-- every sync), so a new entity changes no finding until its observations arrive.
CREATE FUNCTION ipam_note_entity_renamed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
    INSERT INTO ipam_findings_changes (what, entity_type, entity_id)
    SELECT DISTINCT 'entity', TG_ARGV[0]::entity_kind, x FROM unnest(ARRAY[OLD.id, NEW.id]) x;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION ipam_note_entities_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM old_rows;
    IF n > ipam_findings_statement_limit() THEN
        INSERT INTO ipam_findings_changes (what, reason) VALUES ('all', format('%s %s deleted', n, TG_TABLE_NAME));
    ELSIF n > 0 THEN
        INSERT INTO ipam_findings_changes (what, entity_type, entity_id)
        SELECT 'entity', TG_ARGV[0]::entity_kind, r.id FROM old_rows r;
    END IF;
    RETURN NULL;
END
$fn$;

DO $entities$
DECLARE
    t text[];
BEGIN
    FOREACH t SLICE 1 IN ARRAY ARRAY[
        -- table, entity kind, the columns its label is made of
        ARRAY['virtual_machines', 'virtual_machine', 'name'],
        ARRAY['esxi_hosts', 'esxi_host', 'name'],
        ARRAY['physical_servers', 'physical_server', 'hostname, service_tag'],
        ARRAY['idrac_endpoints', 'idrac_endpoint', 'name'],
        ARRAY['datacenters', 'datacenter', 'name'],
        ARRAY['clusters', 'cluster', 'name'],
        ARRAY['vcenter_instances', 'vcenter_instance', 'name'],
        ARRAY['ome_instances', 'ome_instance', 'name']
    ] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER UPDATE ON %I FOR EACH ROW
                 WHEN ((OLD.id, %s) IS DISTINCT FROM (NEW.id, %s))
                 EXECUTE FUNCTION ipam_note_entity_renamed(%L)',
            t[1] || '_note_renamed', t[1],
            (SELECT string_agg('OLD.' || btrim(c), ', ') FROM unnest(string_to_array(t[3], ',')) c),
            (SELECT string_agg('NEW.' || btrim(c), ', ') FROM unnest(string_to_array(t[3], ',')) c),
            t[2]);
        EXECUTE format(
            'CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_entities_deleted(%L)',
            t[1] || '_note_deleted', t[1], t[2]);
        EXECUTE format(
            'CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION ipam_note_full_run()',
            t[1] || '_note_truncate', t[1]);
    END LOOP;
END
$entities$;

-- ---------------------------------------------------------------------------------
-- Facts: which subjects have which finding, written to the temporary tables
-- ipam_findings_engine made (eio_f_addr, eio_f_plan, eio_f_mac, and eio_u: the prefixes
-- that may be over their threshold, with their counts).
--
-- Observations, plans and prefixes are looked up by (routing domain, address) as
-- `address = ANY (ARRAY[...])` with bitmap scans off: then only their btree indexes answer,
-- where a plain equality may be planned on the GiST address indexes, a hundred times
-- slower per probe.

-- The prefix lengths each routing domain uses, longest first: an address's supernets that
-- may be prefixes are found by equality at these lengths. Written by the full run (a
-- changed prefix always means one), read by the incremental run.
CREATE TABLE ipam_findings_lengths (
    routing_domain_id uuid NOT NULL,
    family            integer NOT NULL,
    lengths           integer[] NOT NULL,
    CONSTRAINT ipam_findings_lengths_key PRIMARY KEY (routing_domain_id, family)
);

-- Observations of addresses no carrier reports any more, with when they were last seen
-- (the address first: looked up by address = ANY (...), a leading column is always used).
CREATE INDEX ip_observations_gone_idx ON ip_observations (address, routing_domain_id) INCLUDE (last_seen)
    WHERE gone_at IS NOT NULL;
-- Planned blocks (not single addresses), for "does a plan hold this address".
CREATE INDEX ip_assignments_blocks_gist ON ip_assignments USING gist (address inet_ops)
    WHERE masklen(address) < CASE family(address) WHEN 4 THEN 32 ELSE 128 END;

-- Plans: "planned, not seen" (a planned single address, older than the cutoff, that no
-- live observation reports; when it was last seen, if ever) and "seen with another MAC"
-- (a plan with a MAC, live observations with others). Every plan, or (p_candidates) the
-- plans of the addresses in eio_cand.
CREATE FUNCTION ipam_findings_plan_facts(p_cutoff timestamptz, p_candidates boolean) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp SET enable_bitmapscan = off AS $fn$
DECLARE
    plans text := CASE WHEN p_candidates THEN
                      '(SELECT x.* FROM pg_temp.eio_cand k
                        CROSS JOIN LATERAL (SELECT a.* FROM ip_assignments a
                                            WHERE a.routing_domain_id = k.rd AND a.address = ANY (ARRAY[k.address])) x)'
                  ELSE 'ip_assignments' END;
BEGIN
    EXECUTE format($q$
        INSERT INTO pg_temp.eio_f_plan (rd, address, prefix_id, hostname, created_at, planned_mac, unseen, last_seen,
                                        mismatch, seen_macs)
        SELECT a.routing_domain_id, a.address, a.prefix_id, a.hostname, a.created_at, a.mac_address, true,
               (SELECT max(o.last_seen) FROM ip_observations o
                WHERE o.routing_domain_id = a.routing_domain_id AND o.address = ANY (ARRAY[a.address])
                  AND o.gone_at IS NOT NULL),
               false, NULL
        FROM %s a
        WHERE a.status = 'planned'
          AND masklen(a.address) = CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END
          AND a.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM ip_observations o
                          WHERE o.routing_domain_id = a.routing_domain_id AND o.address = ANY (ARRAY[a.address])
                            AND o.gone_at IS NULL)
        $q$, plans) USING p_cutoff;
    EXECUTE format($q$
        INSERT INTO pg_temp.eio_f_plan (rd, address, prefix_id, hostname, created_at, planned_mac, unseen, last_seen,
                                        mismatch, seen_macs)
        SELECT a.routing_domain_id, a.address, a.prefix_id, a.hostname, a.created_at, a.mac_address, false, NULL, true,
               m.seen
        FROM %s a
        CROSS JOIN LATERAL (
            SELECT jsonb_agg(DISTINCT o.mac_address::text) AS seen FROM ip_observations o
            WHERE o.routing_domain_id = a.routing_domain_id AND o.address = ANY (ARRAY[a.address]) AND o.gone_at IS NULL
              AND o.mac_address IS NOT NULL AND o.mac_address <> a.mac_address
        ) m
        WHERE a.mac_address IS NOT NULL AND m.seen IS NOT NULL
        $q$, plans);
END
$fn$;

-- The prefix tree as the full run uses it, kept until a prefix changes (a 'prefixes' note):
-- the prefixes numbered in (domain, cidr) order (idx; 0 is "no prefix") with their parent
-- and the space their direct children cover, and their boundaries in address order. A
-- prefix opens at its first address and hands back to its parent after its last; the
-- rank orders the boundaries of a domain (at one address: the ends, deepest first, then
-- the starts, widest first). The key of a boundary sorts before the address it is at and
-- after every address before it: the prefix itself for a start, the next block of its
-- size for an end. Single-address prefixes have no boundaries (no key sorts between two
-- addresses): the full run looks them up.
CREATE TABLE ipam_findings_tree (
    idx               integer PRIMARY KEY,
    prefix_id         uuid NOT NULL,
    routing_domain_id uuid NOT NULL,
    cidr              cidr NOT NULL,
    status            prefix_status NOT NULL,
    threshold         real NOT NULL,
    parent            integer NOT NULL,
    child_prefixes    bigint NOT NULL,
    child_addresses   numeric NOT NULL
);
CREATE TABLE ipam_findings_bounds (
    routing_domain_id uuid NOT NULL,
    key               inet NOT NULL,
    rank              bigint NOT NULL,
    opens             boolean NOT NULL,
    owner             integer NOT NULL,
    active            integer NOT NULL
);
CREATE INDEX ipam_findings_bounds_order_idx ON ipam_findings_bounds (routing_domain_id, key);

-- The full run's facts.
--   1. The notes asking for a full run are this run's (a prefix or routing domain changed
--      after this leaves one for the next run). The prefix tree is built again if a prefix
--      changed (or p_rebuild).
--   2. One statement, one snapshot: the other notes, consumed (this run covers them), and
--      the live addresses and planned single addresses in (domain, address) order merged
--      with the boundaries (planned blocks, rare, are matched to the prefixes holding them
--      by equality at the prefix lengths in use). At each address the last boundary before
--      it names its most specific prefix (unless a single-address prefix is that address);
--      at each boundary the window counts the addresses and plans before it, so a prefix's
--      distinct addresses are the count at its end less the count at its start (at the end
--      of the domain's space for a prefix that reaches it; a single-address prefix: whether
--      its address is live), and likewise its planned addresses.
--   3. Counts per prefix, written to ipam_prefix_usage where they changed; the candidates
--      for "over threshold"; the addresses with findings; plans; MACs.
CREATE FUNCTION ipam_findings_full_facts(p_cutoff timestamptz, p_rebuild boolean) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp SET client_min_messages = warning SET enable_bitmapscan = off
    SET enable_hashagg = on AS $fn$
DECLARE
    rebuild boolean;
BEGIN
    DROP TABLE IF EXISTS pg_temp.eio_p0, pg_temp.eio_planned, pg_temp.eio_sweep;
    CREATE TEMP TABLE eio_planned (idx int, planned numeric) ON COMMIT DROP;
    -- kind 0: an address of interest (several carriers, no prefix, or in a managed prefix);
    -- 1: a boundary; 2: the end of a routing domain's address space. cum: the distinct live
    -- addresses before it; planned: the planned single addresses before it.
    CREATE TEMP TABLE eio_sweep (rd uuid, key inet, kind smallint, opens boolean, owner int, n bigint, cum bigint,
                                 planned bigint, cur bigint) ON COMMIT DROP;

    -- 1.
    WITH taken AS (DELETE FROM ipam_findings_changes WHERE what IN ('all', 'prefixes') RETURNING what)
    SELECT p_rebuild OR NOT s.tree_valid OR EXISTS (SELECT 1 FROM taken t WHERE t.what = 'prefixes')
    INTO rebuild
    FROM ipam_findings_state s WHERE s.singleton;
    IF coalesce(rebuild, true) THEN
        TRUNCATE ipam_findings_tree, ipam_findings_bounds, ipam_findings_lengths;
        CREATE TEMP TABLE eio_p0 ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY p.routing_domain_id, p.cidr)::int AS idx, p.id, p.routing_domain_id AS rd,
               p.cidr, p.status, p.utilization_threshold AS threshold
        FROM prefixes p;
        ANALYZE pg_temp.eio_p0;
        INSERT INTO ipam_findings_lengths (routing_domain_id, family, lengths)
        SELECT x.rd, family(x.cidr), array_agg(DISTINCT masklen(x.cidr) ORDER BY masklen(x.cidr) DESC)
        FROM pg_temp.eio_p0 x
        GROUP BY x.rd, family(x.cidr);
        -- A prefix's parent: its longest strict supernet (at the lengths in use) that is a prefix.
        INSERT INTO ipam_findings_tree (idx, prefix_id, routing_domain_id, cidr, status, threshold, parent,
                                        child_prefixes, child_addresses)
        WITH par AS (
            SELECT DISTINCT ON (c.idx) c.idx AS child, s.idx AS parent
            FROM pg_temp.eio_p0 c
            JOIN ipam_findings_lengths fl ON fl.routing_domain_id = c.rd AND fl.family = family(c.cidr)
            CROSS JOIN LATERAL unnest(fl.lengths) l(len)
            JOIN pg_temp.eio_p0 s ON s.rd = c.rd AND s.cidr = set_masklen(c.cidr, l.len)
            WHERE l.len < masklen(c.cidr)
            ORDER BY c.idx, l.len DESC
        ),
        children AS (
            SELECT par.parent AS idx, count(*) AS n,
                   sum(CASE WHEN family(c.cidr) = 4 THEN (1::int8 << (32 - masklen(c.cidr)))::numeric
                            WHEN masklen(c.cidr) >= 66 THEN (1::int8 << (128 - masklen(c.cidr)))::numeric
                            ELSE ipam_address_count(c.cidr) END) AS covered
            FROM par JOIN pg_temp.eio_p0 c ON c.idx = par.child
            GROUP BY par.parent
        )
        SELECT p.idx, p.id, p.rd, p.cidr, p.status, p.threshold, coalesce(par.parent, 0), coalesce(ch.n, 0),
               coalesce(ch.covered, 0)
        FROM pg_temp.eio_p0 p
        LEFT JOIN par ON par.child = p.idx
        LEFT JOIN children ch ON ch.idx = p.idx;
        INSERT INTO ipam_findings_bounds (routing_domain_id, key, rank, opens, owner, active)
        SELECT b.rd, set_masklen(b.point, b.len),
               row_number() OVER (PARTITION BY b.rd ORDER BY b.point, b.tie), b.opens, b.owner, b.active
        FROM (
            SELECT t.routing_domain_id AS rd, set_masklen(t.cidr::inet, CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END) AS point,
                   masklen(t.cidr) AS len, 1 + masklen(t.cidr) AS tie, true AS opens, t.idx AS owner, t.idx AS active
            FROM ipam_findings_tree t
            WHERE masklen(t.cidr) < CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END
            UNION ALL
            -- (An IPv4 prefix that ends the IPv4 space ends before the first IPv6 address.)
            SELECT t.routing_domain_id,
                   CASE WHEN l.last = '255.255.255.255'::inet THEN '::'::inet ELSE l.last + 1 END,
                   CASE WHEN l.last = '255.255.255.255'::inet THEN 0 ELSE masklen(t.cidr) END,
                   -masklen(t.cidr), false, t.idx, t.parent
            FROM ipam_findings_tree t
            CROSS JOIN LATERAL (
                SELECT set_masklen(broadcast(t.cidr), CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END) AS last
            ) l
            WHERE masklen(t.cidr) < CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END
              AND l.last <> 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'::inet
        ) b;
        ANALYZE ipam_findings_tree, ipam_findings_bounds;
        UPDATE ipam_findings_state SET tree_valid = true WHERE singleton;
    END IF;

    -- 2. (The addresses are read in index order and merged with the boundaries, no sort.)
    PERFORM set_config('enable_hashagg', 'off', true);
    WITH consumed AS (DELETE FROM ipam_findings_changes WHERE what NOT IN ('all', 'prefixes')),
    keep_planned AS (
        INSERT INTO pg_temp.eio_planned (idx, planned)
        SELECT t.idx, sum(b.size)
        FROM (SELECT a.routing_domain_id AS rd, a.address::cidr AS blk,
                     CASE WHEN family(a.address) = 4 THEN (1::int8 << (32 - masklen(a.address)))::numeric
                          WHEN masklen(a.address) >= 66 THEN (1::int8 << (128 - masklen(a.address)))::numeric
                          ELSE ipam_address_count(network(a.address)) END AS size
              FROM ip_assignments a
              WHERE masklen(a.address) < CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END) b
        JOIN ipam_findings_lengths fl ON fl.routing_domain_id = b.rd AND fl.family = family(b.blk)
        CROSS JOIN LATERAL unnest(fl.lengths) l(len)
        JOIN ipam_findings_tree t ON t.routing_domain_id = b.rd AND t.cidr = set_masklen(b.blk, l.len)
        WHERE l.len <= masklen(b.blk)
        GROUP BY t.idx
    ),
    managed AS (
        SELECT t.idx FROM ipam_findings_tree t
        WHERE t.prefix_id IN (SELECT a.prefix_id FROM ip_assignments a WHERE a.prefix_id IS NOT NULL)
    ),
    single AS (
        SELECT t.routing_domain_id AS rd, t.cidr::inet AS address FROM ipam_findings_tree t
        WHERE masklen(t.cidr) = CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END
    ),
    -- (Same column types in every branch: the union stays a plain append, merged in order.)
    -- enc: the boundary's rank, whether the prefix in force from it is managed, that prefix.
    stream AS (
        SELECT b.routing_domain_id AS rd, b.key, 1::smallint AS kind,
               (b.rank << 32) | (CASE WHEN b.active IN (SELECT m.idx FROM managed m) THEN 2147483648 ELSE 0 END)
               | b.active AS enc,
               b.opens, b.owner, NULL::bigint AS n, NULL::integer AS plan
        FROM ipam_findings_bounds b
        UNION ALL
        SELECT d.id, NULL::inet, 2::smallint, NULL::bigint, NULL::boolean, NULL::integer, NULL::bigint, NULL::integer
        FROM routing_domains d
        UNION ALL
        SELECT o.routing_domain_id, o.address, 0::smallint, NULL::bigint, NULL::boolean, NULL::integer, count(*),
               NULL::integer
        FROM ip_observations o WHERE o.gone_at IS NULL
        GROUP BY o.routing_domain_id, o.address
        UNION ALL
        SELECT a.routing_domain_id, a.address, 3::smallint, NULL::bigint, NULL::boolean, NULL::integer, NULL::bigint, 1
        FROM ip_assignments a WHERE masklen(a.address) = CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END
    ),
    w AS (
        SELECT s.rd, s.key, s.kind, s.opens, s.owner, s.n,
               count(s.n) OVER win AS cum, count(s.plan) OVER win AS planned,
               coalesce(max(s.enc) OVER win, 0) & 4294967295 AS cur
        FROM stream s
        -- No key is shared by a boundary and an address or plan; the domain's end (NULL)
        -- sorts last.
        WINDOW win AS (PARTITION BY s.rd ORDER BY s.key ROWS UNBOUNDED PRECEDING)
    )
    INSERT INTO pg_temp.eio_sweep
    SELECT w.rd, w.key, w.kind, w.opens, w.owner, w.n, w.cum, w.planned, w.cur & 2147483647
    FROM w
    WHERE w.kind = 1 OR w.kind = 2
       OR w.kind = 0 AND (w.n > 1 OR w.cur = 0 OR w.cur >= 2147483648
                          OR EXISTS (SELECT 1 FROM single) AND (w.rd, w.key) IN (SELECT x.rd, x.address FROM single x));
    PERFORM set_config('enable_hashagg', 'on', true);
    ANALYZE pg_temp.eio_sweep;

    -- 3. Per prefix: observed (addresses before its end less those before its start),
    -- planned, its direct children and the space they cover; written to ipam_prefix_usage
    -- where they changed. Active prefixes that may be over their threshold (a float
    -- estimate with a margin picks them; the engine then computes them exactly).
    WITH ev AS (
        SELECT s.owner, sum(CASE WHEN s.opens THEN -s.cum ELSE s.cum END) AS n,
               sum(CASE WHEN s.opens THEN -s.planned ELSE s.planned END) AS planned, bool_or(NOT s.opens) AS closes
        FROM pg_temp.eio_sweep s WHERE s.kind = 1
        GROUP BY s.owner
    ),
    u AS MATERIALIZED (
        SELECT t.prefix_id, t.routing_domain_id AS rd, t.cidr, t.status, t.threshold,
               coalesce(pl.planned, 0)
               + CASE WHEN masklen(t.cidr) = CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END
                      THEN EXISTS (SELECT 1 FROM ip_assignments a
                                   WHERE a.routing_domain_id = t.routing_domain_id
                                     AND a.address = ANY (ARRAY[t.cidr::inet]))::int
                      WHEN e.closes THEN e.planned
                      ELSE e.planned + (SELECT s.planned FROM pg_temp.eio_sweep s
                                        WHERE s.kind = 2 AND s.rd = t.routing_domain_id) END AS planned,
               CASE WHEN masklen(t.cidr) = CASE family(t.cidr) WHEN 4 THEN 32 ELSE 128 END
                    THEN EXISTS (SELECT 1 FROM ip_observations o
                                 WHERE o.routing_domain_id = t.routing_domain_id
                                   AND o.address = ANY (ARRAY[t.cidr::inet]) AND o.gone_at IS NULL)::int
                    WHEN e.closes THEN e.n
                    ELSE e.n + (SELECT s.cum FROM pg_temp.eio_sweep s
                                WHERE s.kind = 2 AND s.rd = t.routing_domain_id) END::bigint AS observed,
               t.child_prefixes, t.child_addresses
        FROM ipam_findings_tree t
        LEFT JOIN ev e ON e.owner = t.idx
        LEFT JOIN pg_temp.eio_planned pl ON pl.idx = t.idx
    ),
    candidates AS (
        INSERT INTO pg_temp.eio_u (prefix_id, rd, cidr, threshold, planned, observed, child_addresses)
        SELECT u.prefix_id, u.rd, u.cidr, u.threshold, u.planned, u.observed, u.child_addresses
        FROM u
        CROSS JOIN LATERAL (
            SELECT power(2::float8, CASE family(u.cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(u.cidr)) AS size
        ) z
        WHERE u.status = 'active'
          AND (greatest(u.planned::float8, u.observed::float8)
               / greatest(z.size - CASE WHEN masklen(u.cidr) >= CASE family(u.cidr) WHEN 4 THEN 31 ELSE 127 END THEN 0
                                        WHEN family(u.cidr) = 4 THEN 2 ELSE 1 END, 1)
               >= u.threshold::float8 * 0.999999
               OR u.child_addresses::float8 / z.size >= u.threshold::float8 * 0.999999)
    ),
    -- (Prefixes only go with a new tree.)
    stale AS (
        DELETE FROM ipam_prefix_usage c
        WHERE rebuild AND NOT EXISTS (SELECT 1 FROM u WHERE u.prefix_id = c.prefix_id)
    )
    INSERT INTO ipam_prefix_usage AS c (prefix_id, planned, observed, child_prefixes, child_addresses)
    SELECT u.prefix_id, u.planned, u.observed, u.child_prefixes, u.child_addresses
    FROM u
    LEFT JOIN ipam_prefix_usage c ON c.prefix_id = u.prefix_id
    WHERE c.prefix_id IS NULL
       OR (c.planned, c.observed, c.child_prefixes, c.child_addresses)
          IS DISTINCT FROM (u.planned, u.observed, u.child_prefixes, u.child_addresses)
    ON CONFLICT (prefix_id) DO UPDATE
        SET planned = EXCLUDED.planned, observed = EXCLUDED.observed,
            child_prefixes = EXCLUDED.child_prefixes, child_addresses = EXCLUDED.child_addresses;

    -- Addresses: several MACs, no prefix at all, or in a managed prefix that no plan (a
    -- planned address, or a planned block holding it) covers.
    INSERT INTO pg_temp.eio_f_addr (rd, address, prefix_id, prefix_cidr, dup, outside, unplanned)
    SELECT f.* FROM (
        SELECT a.rd, a.key, t.prefix_id, t.cidr,
               a.n > 1 AND (SELECT count(DISTINCT o.mac_address) FROM ip_observations o
                            WHERE o.routing_domain_id = a.rd AND o.address = ANY (ARRAY[a.key])
                              AND o.gone_at IS NULL) > 1 AS dup,
               t.idx IS NULL AS outside,
               t.prefix_id IN (SELECT x.prefix_id FROM ip_assignments x WHERE x.prefix_id IS NOT NULL)
               AND NOT EXISTS (SELECT 1 FROM ip_assignments x
                               WHERE x.routing_domain_id = a.rd AND x.address = ANY (ARRAY[a.key]))
               AND NOT EXISTS (SELECT 1 FROM ip_assignments x
                               WHERE x.routing_domain_id = a.rd
                                 AND masklen(x.address) < CASE family(x.address) WHEN 4 THEN 32 ELSE 128 END
                                 AND x.address >>= a.key) AS unplanned
        FROM pg_temp.eio_sweep a
        LEFT JOIN ipam_findings_tree h ON h.routing_domain_id = a.rd AND h.cidr = a.key::cidr
                                      AND masklen(h.cidr) = CASE family(h.cidr) WHEN 4 THEN 32 ELSE 128 END
        LEFT JOIN ipam_findings_tree t ON t.idx = coalesce(h.idx, a.cur)
        WHERE a.kind = 0
    ) f
    WHERE f.dup OR f.outside OR f.unplanned;

    PERFORM ipam_findings_plan_facts(p_cutoff, false);

    -- MACs on two or more carriers (read in index order, like the addresses).
    PERFORM set_config('enable_hashagg', 'off', true);
    INSERT INTO pg_temp.eio_f_mac (rd, mac)
    SELECT m.rd, m.mac
    FROM (SELECT o.routing_domain_id AS rd, o.mac_address AS mac
          FROM ip_observations o
          WHERE o.gone_at IS NULL AND o.mac_address IS NOT NULL
          GROUP BY o.routing_domain_id, o.mac_address
          HAVING count(*) > 1) m
    WHERE (SELECT count(DISTINCT o.entity_id) FROM ip_observations o
           WHERE o.routing_domain_id = m.rd AND o.mac_address = m.mac AND o.gone_at IS NULL) > 1;
    PERFORM set_config('enable_hashagg', 'on', true);
END
$fn$;

-- The incremental run's facts, from the notes; false (having changed nothing a full run
-- would not redo) when only a full run will do.
--   1. One statement, one snapshot: the notes, consumed, with each noted address's live
--      observation count now (at the last run it was that minus the noted changes) and
--      each noted prefix's assignment count now (likewise).
--   2. The addresses to examine: the noted ones, those inside noted planned blocks and
--      inside prefixes that became managed or stopped being, those of renamed carriers,
--      those whose plan crossed the grace cutoff between the two runs, and those of the open
--      findings inside any of those blocks. Too many, and it is a full run.
--   3. ipam_prefix_usage: +1/-1 observed for each address that became live or went, in
--      every prefix holding it; the planned addresses added or removed, likewise. The
--      prefixes it changed are examined for their threshold.
--   4. The facts of what is examined.
CREATE FUNCTION ipam_findings_changed_facts(p_cutoff timestamptz, p_last_cutoff timestamptz, p_max_subjects integer)
RETURNS boolean
LANGUAGE plpgsql SET search_path = public, pg_temp SET client_min_messages = warning SET enable_bitmapscan = off AS $fn$
DECLARE
    n bigint;
BEGIN
    DROP TABLE IF EXISTS pg_temp.eio_chg, pg_temp.eio_range, pg_temp.eio_cand, pg_temp.eio_mscope, pg_temp.eio_pscope,
        pg_temp.eio_scope;
    CREATE TEMP TABLE eio_chg (what text, rd uuid, address inet, mac macaddr, entity_type entity_kind, entity_id uuid,
                               prefix_id uuid, live_delta integer, planned_delta numeric, count_delta integer,
                               rows_now bigint, count_now bigint) ON COMMIT DROP;
    CREATE TEMP TABLE eio_range (rd uuid, r inet) ON COMMIT DROP;
    CREATE TEMP TABLE eio_cand (rd uuid, address inet) ON COMMIT DROP;
    CREATE TEMP TABLE eio_mscope (rd uuid, mac macaddr) ON COMMIT DROP;
    CREATE TEMP TABLE eio_pscope (prefix_id uuid) ON COMMIT DROP;
    -- The subjects examined (a finding type and what it is about).
    CREATE TEMP TABLE eio_scope (type finding_type, subject_key text) ON COMMIT DROP;

    -- A quick look first: with far too many notes the full run consumes them all itself.
    SELECT count(*) INTO n FROM (SELECT 1 FROM ipam_findings_changes LIMIT p_max_subjects * 4 + 1) x;
    IF n > p_max_subjects * 4 THEN
        RETURN false;
    END IF;

    -- 1.
    WITH d AS MATERIALIZED (DELETE FROM ipam_findings_changes RETURNING *),
    live AS (
        SELECT x.rd, x.address,
               (SELECT count(*) FROM ip_observations o
                WHERE o.routing_domain_id = x.rd AND o.address = ANY (ARRAY[x.address]) AND o.gone_at IS NULL) AS n
        FROM (SELECT DISTINCT d.routing_domain_id AS rd, d.address FROM d WHERE d.what = 'address') x
    ),
    assigned AS (
        SELECT x.prefix_id, (SELECT count(*) FROM ip_assignments a WHERE a.prefix_id = x.prefix_id) AS n
        FROM (SELECT DISTINCT d.prefix_id FROM d WHERE d.what = 'managed') x
    )
    INSERT INTO pg_temp.eio_chg
    SELECT d.what, d.routing_domain_id, d.address, d.mac_address, d.entity_type, d.entity_id, d.prefix_id,
           d.live_delta, d.planned_delta, d.count_delta, l.n, a.n
    FROM d
    LEFT JOIN live l ON d.what = 'address' AND l.rd = d.routing_domain_id AND l.address = d.address
    LEFT JOIN assigned a ON d.what = 'managed' AND a.prefix_id = d.prefix_id;
    IF EXISTS (SELECT 1 FROM pg_temp.eio_chg c WHERE c.what IN ('all', 'prefixes')) THEN
        RETURN false;
    END IF;

    -- 2.
    INSERT INTO pg_temp.eio_range (rd, r)
    SELECT DISTINCT x.rd, x.r
    FROM (
        SELECT c.rd, c.address AS r FROM pg_temp.eio_chg c WHERE c.what IN ('address', 'assignment')
        UNION ALL
        SELECT o.routing_domain_id, o.address
        FROM (SELECT DISTINCT c.entity_type, c.entity_id FROM pg_temp.eio_chg c WHERE c.what = 'entity') e
        JOIN ip_observations o ON o.entity_type = e.entity_type AND o.entity_id = e.entity_id AND o.gone_at IS NULL
        UNION ALL
        SELECT p.routing_domain_id, p.cidr::inet
        FROM (SELECT c.prefix_id FROM pg_temp.eio_chg c WHERE c.what = 'managed'
              GROUP BY c.prefix_id
              HAVING (max(c.count_now) > 0) <> (max(c.count_now) - sum(c.count_delta) > 0)) f
        JOIN prefixes p ON p.id = f.prefix_id
        UNION ALL
        SELECT a.routing_domain_id, a.address
        FROM ip_assignments a
        WHERE a.created_at >= least(p_cutoff, p_last_cutoff) AND a.created_at < greatest(p_cutoff, p_last_cutoff)
    ) x;

    INSERT INTO pg_temp.eio_cand (rd, address)
    SELECT DISTINCT x.rd, x.address
    FROM (
        SELECT r.rd, r.r AS address FROM pg_temp.eio_range r
        WHERE masklen(r.r) = CASE family(r.r) WHEN 4 THEN 32 ELSE 128 END
        UNION ALL
        (SELECT q.rd, q.address
         FROM (SELECT r.rd, o.address
               FROM pg_temp.eio_range r
               JOIN ip_observations o ON o.routing_domain_id = r.rd AND o.gone_at IS NULL AND o.address <<= r.r
               WHERE masklen(r.r) < CASE family(r.r) WHEN 4 THEN 32 ELSE 128 END
               UNION ALL
               SELECT r.rd, a.address
               FROM pg_temp.eio_range r
               JOIN ip_assignments a ON a.routing_domain_id = r.rd AND a.address <<= r.r
                                    AND masklen(a.address) = CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END
               WHERE masklen(r.r) < CASE family(r.r) WHEN 4 THEN 32 ELSE 128 END
               UNION ALL
               SELECT r.rd, f.address
               FROM pg_temp.eio_range r
               JOIN ipam_findings f ON f.routing_domain_id = r.rd AND f.address <<= r.r AND f.resolved_at IS NULL
                                   AND f.type IN ('duplicate_usage', 'outside_any_prefix', 'seen_not_planned',
                                                  'planned_not_seen', 'mac_conflict')
               WHERE masklen(r.r) < CASE family(r.r) WHEN 4 THEN 32 ELSE 128 END) q
         LIMIT p_max_subjects + 1)
    ) x;
    SELECT count(*) INTO n FROM pg_temp.eio_cand;
    IF n > p_max_subjects THEN
        RETURN false;
    END IF;
    ANALYZE pg_temp.eio_cand;

    -- 3.
    WITH flips AS (
        SELECT c.rd, c.address,
               (max(c.rows_now) > 0)::int - (max(c.rows_now) - sum(c.live_delta) > 0)::int AS flip
        FROM pg_temp.eio_chg c WHERE c.what = 'address'
        GROUP BY c.rd, c.address
    ),
    planned AS (
        SELECT c.rd, c.address, sum(c.planned_delta) AS d
        FROM pg_temp.eio_chg c WHERE c.what = 'assignment'
        GROUP BY c.rd, c.address
    ),
    deltas AS (
        SELECT f.rd, f.address, f.flip::bigint AS observed, 0::numeric AS planned FROM flips f WHERE f.flip <> 0
        UNION ALL
        SELECT p.rd, p.address, 0, p.d FROM planned p WHERE p.d <> 0
    ),
    -- Every supernet of each address or block at the prefix lengths in use ...
    keys AS (
        SELECT d.rd, set_masklen(d.address::cidr, l.len) AS key, d.observed, d.planned
        FROM deltas d
        JOIN ipam_findings_lengths fl ON fl.routing_domain_id = d.rd AND fl.family = family(d.address)
        CROSS JOIN LATERAL unnest(fl.lengths) l(len)
        WHERE l.len <= masklen(d.address)
    ),
    -- ... that is a prefix.
    per AS (
        SELECT p.id, sum(k.observed) AS observed, sum(k.planned) AS planned
        FROM keys k
        JOIN prefixes p ON p.routing_domain_id = k.rd AND p.cidr = ANY (ARRAY[k.key])
        GROUP BY p.id
    ),
    upd AS (
        UPDATE ipam_prefix_usage u SET observed = u.observed + per.observed, planned = u.planned + per.planned
        FROM per WHERE u.prefix_id = per.id
        RETURNING u.prefix_id
    )
    INSERT INTO pg_temp.eio_pscope SELECT upd.prefix_id FROM upd;

    -- 4.
    INSERT INTO pg_temp.eio_mscope (rd, mac)
    SELECT DISTINCT x.rd, x.mac
    FROM (
        SELECT c.rd, c.mac FROM pg_temp.eio_chg c WHERE c.what = 'mac'
        UNION ALL
        SELECT o.routing_domain_id, o.mac_address
        FROM (SELECT DISTINCT c.entity_type, c.entity_id FROM pg_temp.eio_chg c WHERE c.what = 'entity') e
        JOIN ip_observations o ON o.entity_type = e.entity_type AND o.entity_id = e.entity_id
                              AND o.gone_at IS NULL AND o.mac_address IS NOT NULL
    ) x;

    WITH live AS MATERIALIZED (
        SELECT k.rd, k.address, s.macs
        FROM pg_temp.eio_cand k
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, count(DISTINCT o.mac_address) AS macs FROM ip_observations o
            WHERE o.routing_domain_id = k.rd AND o.address = ANY (ARRAY[k.address]) AND o.gone_at IS NULL
        ) s
        WHERE s.n > 0
    ),
    -- The most specific prefix: the longest supernet at the lengths in use that is one.
    most AS (
        SELECT DISTINCT ON (v.rd, v.address) v.rd, v.address, p.id, p.cidr
        FROM live v
        JOIN ipam_findings_lengths fl ON fl.routing_domain_id = v.rd AND fl.family = family(v.address)
        CROSS JOIN LATERAL unnest(fl.lengths) l(len)
        JOIN prefixes p ON p.routing_domain_id = v.rd AND p.cidr = ANY (ARRAY[set_masklen(v.address::cidr, l.len)])
        ORDER BY v.rd, v.address, l.len DESC
    )
    INSERT INTO pg_temp.eio_f_addr (rd, address, prefix_id, prefix_cidr, dup, outside, unplanned)
    SELECT f.* FROM (
        SELECT v.rd, v.address, m.id, m.cidr, v.macs > 1 AS dup, m.id IS NULL AS outside,
               m.id IS NOT NULL
               AND EXISTS (SELECT 1 FROM ip_assignments a WHERE a.prefix_id = m.id)
               AND NOT EXISTS (SELECT 1 FROM ip_assignments a
                               WHERE a.routing_domain_id = v.rd AND a.address = ANY (ARRAY[v.address]))
               AND NOT EXISTS (SELECT 1 FROM ip_assignments a
                               WHERE a.routing_domain_id = v.rd
                                 AND masklen(a.address) < CASE family(a.address) WHEN 4 THEN 32 ELSE 128 END
                                 AND a.address >>= v.address) AS unplanned
        FROM live v
        LEFT JOIN most m ON m.rd = v.rd AND m.address = v.address
    ) f
    WHERE f.dup OR f.outside OR f.unplanned;

    PERFORM ipam_findings_plan_facts(p_cutoff, true);

    INSERT INTO pg_temp.eio_f_mac (rd, mac)
    SELECT m.rd, m.mac FROM pg_temp.eio_mscope m
    WHERE (SELECT count(DISTINCT o.entity_id) FROM ip_observations o
           WHERE o.routing_domain_id = m.rd AND o.mac_address = m.mac AND o.gone_at IS NULL) > 1;

    -- (Near their threshold by a float estimate with a margin; the engine computes them exactly.)
    INSERT INTO pg_temp.eio_u (prefix_id, rd, cidr, threshold, planned, observed, child_addresses)
    SELECT p.id, p.routing_domain_id, p.cidr, p.utilization_threshold, u.planned, u.observed, u.child_addresses
    FROM (SELECT DISTINCT s.prefix_id FROM pg_temp.eio_pscope s) s
    JOIN prefixes p ON p.id = s.prefix_id
    JOIN ipam_prefix_usage u ON u.prefix_id = p.id
    CROSS JOIN LATERAL (
        SELECT power(2::float8, CASE family(p.cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(p.cidr)) AS size
    ) z
    WHERE p.status = 'active'
      AND (greatest(u.planned::float8, u.observed::float8)
           / greatest(z.size - CASE WHEN masklen(p.cidr) >= CASE family(p.cidr) WHEN 4 THEN 31 ELSE 127 END THEN 0
                                    WHEN family(p.cidr) = 4 THEN 2 ELSE 1 END, 1)
           >= p.utilization_threshold::float8 * 0.999999
           OR u.child_addresses::float8 / z.size >= p.utilization_threshold::float8 * 0.999999);

    -- The subjects examined: their open findings that are not current resolve.
    INSERT INTO pg_temp.eio_scope (type, subject_key)
    SELECT t.type, k.rd::text || '/' || host(k.address)
    FROM pg_temp.eio_cand k
    CROSS JOIN unnest('{duplicate_usage,outside_any_prefix,seen_not_planned,planned_not_seen}'::finding_type[]) t(type)
    UNION ALL
    SELECT 'mac_conflict', 'planned/' || k.rd::text || '/' || host(k.address) FROM pg_temp.eio_cand k
    UNION ALL
    SELECT 'mac_conflict', 'mac/' || m.rd::text || '/' || m.mac::text FROM pg_temp.eio_mscope m
    UNION ALL
    SELECT DISTINCT 'prefix_over_threshold'::finding_type, 'prefix/' || s.prefix_id::text FROM pg_temp.eio_pscope s;
    RETURN true;
END
$fn$;

-- ---------------------------------------------------------------------------------
-- The engine. One implementation, two entry points: run_ipam_findings (the full run, as
-- ever) and run_ipam_findings_changed (over the notes when it can). Not granted to
-- anyone: the entry points run it as its owner.
CREATE FUNCTION ipam_findings_engine(p_planned_grace interval, p_changes_only boolean, p_max_subjects integer)
RETURNS finding_runs
LANGUAGE plpgsql SET search_path = public, pg_temp SET jit = off SET work_mem = '64MB'
    SET client_min_messages = warning SET enable_bitmapscan = off SET enable_hashjoin = on SET enable_mergejoin = on
    AS $fn$
#variable_conflict use_column
DECLARE
    started    timestamptz := clock_timestamp();
    v_cutoff   timestamptz := now() - coalesce(p_planned_grace, interval '0');
    st         ipam_findings_state;
    v_full     boolean;
    v_rebuild  boolean;
    v_examined bigint;
    n_opened   integer;
    n_reopened integer;
    n_resolved integer;
    run        finding_runs;
BEGIN
    -- One run at a time: a second caller waits, then runs on what the first one left.
    PERFORM pg_advisory_xact_lock(hashtextextended('eio:ipam:findings', 0));
    PERFORM refresh_credential_findings();
    SELECT * INTO st FROM ipam_findings_state WHERE singleton;

    -- Working tables (the caller's temporary schema, gone at commit). Facts say which
    -- subjects have which finding; both runs fill them, then share the rest.
    DROP TABLE IF EXISTS pg_temp.eio_f_addr, pg_temp.eio_f_plan, pg_temp.eio_f_mac, pg_temp.eio_u, pg_temp.eio_cur,
        pg_temp.eio_diff;
    CREATE TEMP TABLE eio_f_addr (rd uuid, address inet, prefix_id uuid, prefix_cidr cidr,
                                  dup boolean, outside boolean, unplanned boolean) ON COMMIT DROP;
    CREATE TEMP TABLE eio_f_plan (rd uuid, address inet, prefix_id uuid, hostname text, created_at timestamptz,
                                  planned_mac macaddr, unseen boolean, last_seen timestamptz,
                                  mismatch boolean, seen_macs jsonb) ON COMMIT DROP;
    CREATE TEMP TABLE eio_f_mac (rd uuid, mac macaddr) ON COMMIT DROP;
    -- Prefixes whose utilization may exceed their threshold, with their counts.
    CREATE TEMP TABLE eio_u (prefix_id uuid, rd uuid, cidr cidr, threshold real, planned numeric, observed bigint,
                             child_addresses numeric) ON COMMIT DROP;

    v_full := coalesce(NOT p_changes_only OR NOT st.usage_valid OR st.last_cutoff IS NULL, true)
              OR EXISTS (SELECT 1 FROM ipam_findings_changes c WHERE c.what IN ('all', 'prefixes'));
    IF NOT v_full THEN
        v_full := NOT ipam_findings_changed_facts(v_cutoff, st.last_cutoff, p_max_subjects);
        IF NOT v_full THEN
            SELECT count(*) INTO v_examined FROM pg_temp.eio_scope;
        END IF;
    END IF;
    IF v_full THEN
        -- (An attempt over changes that gave up wrote no facts.) The prefix tree is built again when a prefix changed (the notes consumed by an
        -- attempt over changes that gave up may say so, as may the notes still waiting).
        v_rebuild := false;
        IF to_regclass('pg_temp.eio_chg') IS NOT NULL THEN
            v_rebuild := EXISTS (SELECT 1 FROM pg_temp.eio_chg c WHERE c.what = 'prefixes');
        END IF;
        PERFORM ipam_findings_full_facts(v_cutoff, v_rebuild);
    END IF;

    -- The findings the facts make, worded as they always were. Carriers are named as
    -- entity_label() names them, its body written out: called once per carrier, the
    -- function (not inlined: its search path is pinned) would plan its query on every call.
    -- Utilization exactly as prefix_utilization() computes it.
    CREATE TEMP TABLE eio_cur ON COMMIT DROP AS
    WITH f_prefix AS (
        SELECT x.prefix_id, x.rd, x.cidr, x.threshold, x.addresses, x.usable, x.planned, x.observed,
               x.child_addresses, (x.planned / x.usable)::float8 AS planned_ratio,
               (x.observed / x.usable)::float8 AS observed_ratio, (x.child_addresses / x.addresses)::float8 AS child_ratio,
               greatest(x.planned / x.usable, x.observed / x.usable, x.child_addresses / x.addresses)::float8 AS utilization
        FROM (SELECT u.*, ipam_address_count(u.cidr) AS addresses, greatest(ipam_usable_count(u.cidr), 1) AS usable
              FROM pg_temp.eio_u u) x
        WHERE greatest(x.planned / x.usable, x.observed / x.usable, x.child_addresses / x.addresses)::float8 > x.threshold
    ),
    unseen AS MATERIALIZED (
        SELECT n.*, rd.name AS rd_name, p.cidr, n.rd::text || '/' || host(n.address) AS subject_key,
               hash_record_extended(ROW('planned_not_seen 1'::text, n.rd, rd.name, n.address, n.hostname, n.created_at,
                                        n.last_seen, p.cidr), 0) AS digest
        FROM pg_temp.eio_f_plan n
        JOIN routing_domains rd ON rd.id = n.rd
        LEFT JOIN prefixes p ON p.id = n.prefix_id
        WHERE n.unseen
    ),
    carriers AS (
        SELECT o.routing_domain_id AS rd, o.address,
               jsonb_agg(jsonb_build_object('entity_type', o.entity_type, 'entity_id', o.entity_id,
                                            'name', CASE o.entity_type
                   WHEN 'virtual_machine' THEN (SELECT x.name FROM virtual_machines x WHERE x.id = o.entity_id)
                   WHEN 'esxi_host' THEN (SELECT x.name FROM esxi_hosts x WHERE x.id = o.entity_id)
                   WHEN 'physical_server' THEN (SELECT coalesce(x.hostname, x.service_tag, x.id::text)
                                                FROM physical_servers x WHERE x.id = o.entity_id)
                   WHEN 'idrac_endpoint' THEN (SELECT x.name FROM idrac_endpoints x WHERE x.id = o.entity_id)
                   WHEN 'ip_observation' THEN (SELECT host(x.address) FROM ip_observations x WHERE x.id = o.entity_id)
                   WHEN 'datacenter' THEN (SELECT x.name FROM datacenters x WHERE x.id = o.entity_id)
                   WHEN 'cluster' THEN (SELECT x.name FROM clusters x WHERE x.id = o.entity_id)
                   WHEN 'vcenter_instance' THEN (SELECT x.name FROM vcenter_instances x WHERE x.id = o.entity_id)
                   WHEN 'ome_instance' THEN (SELECT x.name FROM ome_instances x WHERE x.id = o.entity_id)
               END,
                                            'source', o.source, 'mac', o.mac_address::text,
                                            'hostname', o.hostname, 'last_seen', o.last_seen)
                         ORDER BY o.mac_address, o.entity_type, o.entity_id, o.source) AS carriers,
               count(DISTINCT o.mac_address) AS macs
        FROM pg_temp.eio_f_addr k
        JOIN ip_observations o ON o.routing_domain_id = k.rd AND o.address = ANY (ARRAY[k.address]) AND o.gone_at IS NULL
        WHERE k.dup OR k.unplanned
        GROUP BY o.routing_domain_id, o.address
    ),
    cur AS (
        SELECT 'duplicate_usage'::finding_type AS type, 'error'::finding_severity AS severity,
               d.rd::text || '/' || host(d.address) AS subject_key, d.rd AS routing_domain_id, NULL::uuid AS prefix_id,
               d.address,
               format('%s is in use by %s different MAC addresses in routing domain %s', host(d.address), c.macs, rd.name)
                   AS message,
               jsonb_build_object('routing_domain', rd.name, 'prefix', d.prefix_cidr::text, 'carriers', c.carriers)
                   AS details,
               NULL::bigint AS digest, false AS same
        FROM pg_temp.eio_f_addr d
        JOIN routing_domains rd ON rd.id = d.rd
        JOIN carriers c ON c.rd = d.rd AND c.address = d.address
        WHERE d.dup
        UNION ALL
        SELECT 'mac_conflict', 'warning', 'mac/' || m.rd::text || '/' || m.mac::text, m.rd, NULL, NULL,
               format('MAC address %s is reported by %s different carriers in routing domain %s', m.mac, x.n, rd.name),
               jsonb_build_object('routing_domain', rd.name, 'mac', m.mac::text, 'carriers', x.carriers), NULL, false
        FROM pg_temp.eio_f_mac m
        JOIN routing_domains rd ON rd.id = m.rd
        CROSS JOIN LATERAL (
            SELECT count(DISTINCT o.entity_id) AS n,
                   jsonb_agg(jsonb_build_object('entity_type', o.entity_type, 'entity_id', o.entity_id,
                                                'name', CASE o.entity_type
                       WHEN 'virtual_machine' THEN (SELECT x.name FROM virtual_machines x WHERE x.id = o.entity_id)
                       WHEN 'esxi_host' THEN (SELECT x.name FROM esxi_hosts x WHERE x.id = o.entity_id)
                       WHEN 'physical_server' THEN (SELECT coalesce(x.hostname, x.service_tag, x.id::text)
                                                    FROM physical_servers x WHERE x.id = o.entity_id)
                       WHEN 'idrac_endpoint' THEN (SELECT x.name FROM idrac_endpoints x WHERE x.id = o.entity_id)
                       WHEN 'ip_observation' THEN (SELECT host(x.address) FROM ip_observations x WHERE x.id = o.entity_id)
                       WHEN 'datacenter' THEN (SELECT x.name FROM datacenters x WHERE x.id = o.entity_id)
                       WHEN 'cluster' THEN (SELECT x.name FROM clusters x WHERE x.id = o.entity_id)
                       WHEN 'vcenter_instance' THEN (SELECT x.name FROM vcenter_instances x WHERE x.id = o.entity_id)
                       WHEN 'ome_instance' THEN (SELECT x.name FROM ome_instances x WHERE x.id = o.entity_id)
                   END,
                                                'address', host(o.address), 'source', o.source)
                             ORDER BY o.entity_type, o.entity_id, o.address, o.source) AS carriers
            FROM ip_observations o
            WHERE o.routing_domain_id = m.rd AND o.mac_address = m.mac AND o.gone_at IS NULL
        ) x
        UNION ALL
        SELECT 'mac_conflict', 'warning', 'planned/' || m.rd::text || '/' || host(m.address), m.rd, NULL, m.address,
               format('%s is planned for MAC %s but seen with %s', host(m.address), m.planned_mac,
                      (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(m.seen_macs) v)),
               jsonb_build_object('routing_domain', rd.name, 'planned_mac', m.planned_mac::text,
                                  'seen_macs', m.seen_macs, 'hostname', m.hostname, 'prefix', p.cidr::text),
               NULL, false
        FROM pg_temp.eio_f_plan m
        JOIN routing_domains rd ON rd.id = m.rd
        LEFT JOIN prefixes p ON p.id = m.prefix_id
        WHERE m.mismatch
        UNION ALL
        SELECT 'outside_any_prefix', 'warning', o.rd::text || '/' || host(o.address), o.rd, NULL, o.address,
               format('%s is in use but no prefix of routing domain %s holds it', host(o.address), rd.name),
               jsonb_build_object('routing_domain', rd.name), NULL, false
        FROM pg_temp.eio_f_addr o
        JOIN routing_domains rd ON rd.id = o.rd
        WHERE o.outside
        UNION ALL
        SELECT 'seen_not_planned', 'warning', u.rd::text || '/' || host(u.address), u.rd, NULL, u.address,
               format('%s is in use in %s but not planned', host(u.address), u.prefix_cidr),
               jsonb_build_object('routing_domain', rd.name, 'prefix', u.prefix_cidr::text, 'carriers', c.carriers),
               NULL, false
        FROM pg_temp.eio_f_addr u
        JOIN routing_domains rd ON rd.id = u.rd
        JOIN carriers c ON c.rd = u.rd AND c.address = u.address
        WHERE u.unplanned
        UNION ALL
        -- (Many and rarely changing: one whose facts digest matches the stored open finding's
        -- is the same finding, and is not worded again.)
        SELECT 'planned_not_seen', 'info', n.subject_key, n.rd, NULL, n.address,
               CASE WHEN f.id IS NULL THEN
                   format('%s is planned%s since %s but nothing reports it%s', host(n.address),
                          coalesce(' for ' || n.hostname, ''), to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                          CASE WHEN n.last_seen IS NULL THEN '' ELSE ' any more' END) END,
               CASE WHEN f.id IS NULL THEN
                   jsonb_build_object('routing_domain', n.rd_name, 'hostname', n.hostname, 'planned_at', n.created_at,
                                      'last_seen', n.last_seen, 'prefix', n.cidr::text) END,
               n.digest, f.id IS NOT NULL
        FROM unseen n
        LEFT JOIN ipam_findings f ON f.type = 'planned_not_seen' AND f.subject_key = n.subject_key
                                 AND f.resolved_at IS NULL AND f.facts_digest = n.digest
        UNION ALL
        SELECT 'prefix_over_threshold', CASE WHEN f.utilization >= 1 THEN 'error' ELSE 'warning' END::finding_severity,
               'prefix/' || f.prefix_id::text, f.rd, f.prefix_id, f.cidr::inet,
               format('%s in %s is %s%% used (planned %s%%, seen %s%%, child prefixes %s%%; threshold %s%%)',
                      f.cidr, rd.name, round((f.utilization * 100)::numeric, 1),
                      round((f.planned_ratio * 100)::numeric, 1), round((f.observed_ratio * 100)::numeric, 1),
                      round((f.child_ratio * 100)::numeric, 1), round((f.threshold * 100)::numeric, 1)),
               jsonb_build_object('routing_domain', rd.name, 'prefix', f.cidr::text,
                                  'utilization', f.utilization, 'threshold', f.threshold,
                                  'planned', f.planned, 'observed', f.observed, 'usable', f.usable,
                                  'child_addresses', f.child_addresses, 'addresses', f.addresses), NULL, false
        FROM f_prefix f
        JOIN routing_domains rd ON rd.id = f.rd
    )
    SELECT * FROM cur;

    -- Against what is stored: write only what is new, changed or back.
    CREATE TEMP TABLE eio_diff ON COMMIT DROP AS
    SELECT c.*, f.id IS NULL AS is_new, coalesce(f.resolved_at IS NOT NULL, false) AS is_back,
           f.id IS NULL OR f.resolved_at IS NOT NULL
           OR (f.severity, f.routing_domain_id, f.prefix_id, f.address, f.message, f.details, f.facts_digest)
              IS DISTINCT FROM (c.severity, c.routing_domain_id, c.prefix_id, c.address, c.message, c.details, c.digest)
              AS write
    FROM pg_temp.eio_cur c
    LEFT JOIN ipam_findings f ON f.type = c.type AND f.subject_key = c.subject_key
    WHERE NOT c.same;

    SELECT count(*) FILTER (WHERE d.is_new), count(*) FILTER (WHERE d.is_back)
    INTO n_opened, n_reopened
    FROM pg_temp.eio_diff d;

    -- (Only this engine writes findings, one run at a time: what was new is still new.)
    INSERT INTO ipam_findings (type, severity, subject_key, routing_domain_id, prefix_id, address, message, details,
                               facts_digest)
    SELECT d.type, d.severity, d.subject_key, d.routing_domain_id, d.prefix_id, d.address, d.message, d.details,
           d.digest
    FROM pg_temp.eio_diff d
    WHERE d.is_new;
    -- A finding back after it cleared reopens: its acknowledgement covered one occurrence.
    UPDATE ipam_findings f
    SET last_seen_at = now(), severity = d.severity, routing_domain_id = d.routing_domain_id, prefix_id = d.prefix_id,
        address = d.address, message = d.message, details = d.details, facts_digest = d.digest,
        resolved_at = NULL,
        reopened_count = f.reopened_count + CASE WHEN f.resolved_at IS NULL THEN 0 ELSE 1 END,
        acknowledged_at = CASE WHEN f.resolved_at IS NULL THEN f.acknowledged_at END,
        acknowledged_by = CASE WHEN f.resolved_at IS NULL THEN f.acknowledged_by END,
        acknowledge_note = CASE WHEN f.resolved_at IS NULL THEN f.acknowledge_note END
    FROM pg_temp.eio_diff d
    WHERE d.write AND NOT d.is_new AND f.type = d.type AND f.subject_key = d.subject_key;

    -- What cleared: everything open that is not current (full), or of the subjects examined
    -- (changes). The last run that saw it is the one before this one.
    IF v_full THEN
        UPDATE ipam_findings f SET resolved_at = now(), last_seen_at = greatest(f.last_seen_at, st.last_run_at)
        WHERE f.type <> 'credential_rotation_due' AND f.resolved_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM pg_temp.eio_cur c WHERE c.type = f.type AND c.subject_key = f.subject_key);
    ELSE
        -- (Subject by subject, through the (type, subject_key) key: not a scan of all
        -- open findings.)
        PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
        UPDATE ipam_findings f SET resolved_at = now(), last_seen_at = greatest(f.last_seen_at, st.last_run_at)
        FROM (SELECT DISTINCT s.type, s.subject_key FROM pg_temp.eio_scope s) s
        WHERE f.type = s.type AND f.subject_key = s.subject_key AND f.resolved_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM pg_temp.eio_cur c WHERE c.type = f.type AND c.subject_key = f.subject_key);
    END IF;
    GET DIAGNOSTICS n_resolved = ROW_COUNT;
    PERFORM set_config('enable_hashjoin', 'on', true), set_config('enable_mergejoin', 'on', true);
    -- After a burst of writes (the first run), statistics the planner can trust next time.
    IF n_opened + n_reopened + n_resolved > 10000 THEN
        ANALYZE ipam_findings;
    END IF;

    UPDATE ipam_findings_state
    SET last_run_at = now(), last_cutoff = v_cutoff,
        usage_valid = usage_valid OR v_full,
        last_full_at = CASE WHEN v_full THEN now() ELSE last_full_at END
    WHERE singleton;

    INSERT INTO finding_runs (started_at, finished_at, duration_ms, opened, reopened, resolved, open_total, open_by_type,
                              scope, examined)
    SELECT started, clock_timestamp(),
           greatest(0, (extract(epoch FROM clock_timestamp() - started) * 1000)::bigint),
           n_opened, n_reopened, n_resolved, coalesce(sum(t.n), 0), coalesce(jsonb_object_agg(t.type, t.n), '{}'),
           CASE WHEN v_full THEN 'full' ELSE 'changes' END, v_examined
    FROM (SELECT f.type::text AS type, count(*) AS n FROM ipam_findings f WHERE f.resolved_at IS NULL GROUP BY f.type) t
    RETURNING * INTO run;
    -- The ledger of runs keeps a quarter's worth.
    DELETE FROM finding_runs WHERE started_at < now() - interval '90 days';
    RETURN run;
END
$fn$;

-- The full run, as ever (same signature, owner, security and grants).
CREATE OR REPLACE FUNCTION run_ipam_findings(p_planned_grace interval DEFAULT interval '1 day') RETURNS finding_runs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM ipam_findings_engine(p_planned_grace, false, 0)
$$;

-- After a batch of changes: the findings about what changed, or the full run when only it
-- will do (the first run, a changed prefix or routing domain name, a bulk change, or more
-- than p_max_subjects addresses to examine). The same findings either way.
CREATE FUNCTION run_ipam_findings_changed(p_planned_grace interval DEFAULT interval '1 day',
                                          p_max_subjects integer DEFAULT 20000) RETURNS finding_runs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM ipam_findings_engine(p_planned_grace, true, greatest(coalesce(p_max_subjects, 0), 0))
$$;

-- ---------------------------------------------------------------------------------
-- Grants. Viewers read everything here; only the engine (its owner) writes.
GRANT SELECT ON ipam_findings_changes, ipam_prefix_usage, ipam_findings_state, ipam_findings_lengths,
    ipam_findings_tree, ipam_findings_bounds TO eio_viewer;
GRANT EXECUTE ON FUNCTION run_ipam_findings_changed(interval, integer) TO eio_operator, eio_worker;
