-- The database boundary against insiders (issue 18). The threat: a person with their own
-- EIO login and `psql` — a viewer, operator, approver, admin, or a worker login such as a
-- desktop running local workers — who wants more than the UI would give them. Every rule
-- below holds for plain SQL; the application's own checks only give clearer messages.
--
--   * Approval is not the initiator's to waive. For disruptive jobs (maintenance mode,
--     firmware, power) an override at submission may only tighten the named policy. A
--     policy that skips approval or allows VM shutdown / hard power-off exists only as a
--     named policy an admin created (audited), and using it needs the `relaxed_policy`
--     capability. `lease_jobs` refuses a job whose policy requires an approval it lacks.
--   * Workers move jobs only through functions: no application role may INSERT or UPDATE
--     `jobs`; each transition a worker makes goes through a SECURITY DEFINER function that
--     checks the lease (and the transition table, by trigger).
--   * Actors are set by the database: every "who did this" column is stamped from
--     session_user whatever the client sent, and never changes afterwards; a worker adds
--     events only to the timeline of a job it holds.
--   * Every project function runs with a pinned search_path (public, then pg_temp last), so
--     a temp table can't shadow a table a check reads.
--   * Linking a login refuses worker, owner, pg_* and other-group members, and logins with
--     superuser, CREATEROLE, REPLICATION or BYPASSRLS.
--   * A job's scope (clusters, sites) is derived here from its plan's material part, never
--     taken from the client; capabilities and concurrency limits use every cluster and site.
--     Disruptive jobs must carry a plan; the worker compares it before acting.
--   * Row authorship holds on UPDATE and DELETE: manual placements and mappings, and
--     acknowledgements, are changed only by their author or an admin.
--   * A job's type is its target's type: what the database checked is what the worker runs.
--   * A lease is held by a login: only the login that leased a job moves it.
SET LOCAL ROLE eio_owner;

-- ---------------------------------------------------------------------------------
-- Helpers.

CREATE FUNCTION is_admin_session() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_has_role(session_user, 'eio_admin', 'MEMBER')
$$;

CREATE FUNCTION require_worker(doing text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, 'eio_worker', 'MEMBER') AND NOT is_superuser_session() THEN
        RAISE EXCEPTION 'permission denied: % needs the worker role', doing USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE FUNCTION job_type_is_disruptive(t job_type) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT t IN ('maintenance_mode', 'firmware_update', 'power')
$$;

-- A policy that lets a job act without a second person or stop VMs.
CREATE FUNCTION job_policy_is_relaxed(p jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT NOT coalesce((p ->> 'require_approval')::boolean, true)
        OR coalesce((p ->> 'allow_vm_shutdown')::boolean, false)
        OR coalesce((p ->> 'allow_hard_poweroff')::boolean, false)
$$;

-- ---------------------------------------------------------------------------------
-- 1. Approval is not the initiator's to waive.

INSERT INTO capabilities (name, description) VALUES
    ('relaxed_policy', 'Submit disruptive jobs under a named policy that skips approval or allows VM shutdown or hard power-off');

CREATE OR REPLACE FUNCTION check_user_capabilities() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    cap text;
BEGIN
    FOREACH cap IN ARRAY NEW.capabilities LOOP
        IF NOT EXISTS (
            SELECT 1 FROM capabilities c
            WHERE c.name = cap
               OR (c.name LIKE '%:*' AND cap LIKE rtrim(c.name, '*') || '_%')
        ) THEN
            RAISE EXCEPTION 'unknown capability "%"', cap
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'users_capabilities_known',
                      HINT = 'known capabilities: firmware_update, maintenance_mode, power, relaxed_policy, site:<code>';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

-- The effective policy of a new job of type `p_type`: the named policy, overridden key by
-- key. For disruptive types (and when no type is given) an override may only tighten:
-- never allow what the named policy forbids, never skip an approval it requires, never
-- raise vm_limit, shorten the shutdown wait, or replace its VM filters.
CREATE FUNCTION resolve_job_policy(policy_name text, overrides jsonb, p_type job_type) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p job_policies;
    base jsonb;
    result jsonb;
    k text;
    tighten_only boolean := p_type IS NULL OR job_type_is_disruptive(p_type);
    named text;
BEGIN
    SELECT * INTO p FROM job_policies WHERE name = coalesce(policy_name, 'default');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown job policy "%"', policy_name USING ERRCODE = 'no_data_found';
    END IF;
    named := p.name;
    base := jsonb_build_object(
        'policy_name', p.name,
        'allow_vm_shutdown', p.allow_vm_shutdown,
        'allow_hard_poweroff', p.allow_hard_poweroff,
        'vm_limit', p.vm_limit,
        'shutdown_timeout_seconds', p.shutdown_timeout_seconds,
        'require_approval', p.require_approval,
        'tag_filters', to_jsonb(p.tag_filters),
        'folder_filters', to_jsonb(p.folder_filters));
    IF overrides IS NULL OR overrides = 'null'::jsonb OR overrides = '{}'::jsonb THEN
        RETURN base;
    END IF;
    IF jsonb_typeof(overrides) <> 'object' THEN
        RAISE EXCEPTION 'job policy must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(overrides) LOOP
        IF NOT base ? k OR k = 'policy_name' THEN
            RAISE EXCEPTION 'unknown job policy field "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'fields: allow_vm_shutdown, allow_hard_poweroff, vm_limit, shutdown_timeout_seconds, require_approval, tag_filters, folder_filters';
        END IF;
        IF jsonb_typeof(overrides -> k) <> jsonb_typeof(base -> k) THEN
            RAISE EXCEPTION 'job policy field "%" must be a %', k, jsonb_typeof(base -> k)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF tighten_only AND (
               (k IN ('allow_vm_shutdown', 'allow_hard_poweroff')
                    AND (overrides ->> k)::boolean AND NOT (base ->> k)::boolean)
            OR (k = 'require_approval' AND NOT (overrides ->> k)::boolean AND (base ->> k)::boolean)
            OR (k = 'vm_limit' AND (overrides ->> k)::int > (base ->> k)::int)
            OR (k = 'shutdown_timeout_seconds' AND (overrides ->> k)::int < (base ->> k)::int)
            OR (k IN ('tag_filters', 'folder_filters')
                    AND jsonb_array_length(base -> k) > 0 AND overrides -> k <> base -> k)
        ) THEN
            RAISE EXCEPTION 'permission denied: an override may only tighten the job policy "%": % = % would loosen it (the policy says %)',
                named, k, overrides -> k, base -> k
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'a job that may skip approval, shut VMs down or power them off runs under a named policy an admin created; ask an admin';
        END IF;
    END LOOP;
    result := base || overrides;
    IF (result ->> 'vm_limit')::int < 0 THEN
        RAISE EXCEPTION 'vm_limit must be 0 or more' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (result ->> 'shutdown_timeout_seconds')::int NOT BETWEEN 1 AND 86400 THEN
        RAISE EXCEPTION 'shutdown_timeout_seconds must be between 1 and 86400' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (result ->> 'allow_hard_poweroff')::boolean AND NOT (result ->> 'allow_vm_shutdown')::boolean THEN
        RAISE EXCEPTION 'allow_hard_poweroff needs allow_vm_shutdown' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN result;
END
$$;

-- Without a job type: the strict rules (what a disruptive job would get).
CREATE OR REPLACE FUNCTION resolve_job_policy(policy_name text, overrides jsonb) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT resolve_job_policy(policy_name, overrides, NULL::job_type)
$$;

-- Named policies are an admin's decision, and every change to one is audited.
CREATE FUNCTION audit_job_policy_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM record_audit('job_policy.' || lower(TG_OP), 'job_policy',
                         coalesce(NEW.id, OLD.id)::text,
                         jsonb_build_object('name', coalesce(NEW.name, OLD.name),
                                            'before', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'created_by' END,
                                            'after', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'created_by' END));
    RETURN NULL;
END
$$;
CREATE TRIGGER job_policies_audit AFTER INSERT OR UPDATE OR DELETE ON job_policies
    FOR EACH ROW EXECUTE FUNCTION audit_job_policy_change();

-- ---------------------------------------------------------------------------------
-- 5. Scope is derived, not trusted.

ALTER TABLE jobs
    ADD COLUMN cluster_ids uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN site_ids uuid[] NOT NULL DEFAULT '{}';
UPDATE jobs SET cluster_ids = CASE WHEN cluster_id IS NULL THEN '{}' ELSE ARRAY[cluster_id] END,
                site_ids = CASE WHEN site_id IS NULL THEN '{}' ELSE ARRAY[site_id] END;

-- The clusters and sites a plan touches, from its material part (what the worker checks
-- against before acting): hosts [moid, order, vcenter], VMs [moid, action, vcenter],
-- servers [service_tag, action]. A moid without its vCenter matches it in every vCenter.
-- An entity counts as at every site any opinion names — its vCenter's site and every site
-- inference, manual ones included — not only the winning one: a placement an operator made
-- by hand must not move a job out of the sites that operator may act on.
CREATE FUNCTION job_scope(p_plan jsonb, OUT cluster_ids uuid[], OUT site_ids uuid[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH m AS (SELECT coalesce(p_plan -> 'material', '{}'::jsonb) AS m),
    touched AS (
        SELECT 'esxi_host'::entity_kind AS kind, h.id, h.cluster_id, vc.site_id AS vc_site
        FROM m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.m -> 'hosts') = 'array' THEN m.m -> 'hosts' ELSE '[]' END) e
        JOIN esxi_hosts h ON h.moid = e ->> 0 AND h.removed_at IS NULL
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        WHERE e ->> 2 IS NULL OR vc.name = e ->> 2
        UNION ALL
        SELECT 'virtual_machine', v.id, v.cluster_id, vc.site_id
        FROM m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.m -> 'vms') = 'array' THEN m.m -> 'vms' ELSE '[]' END) e
        JOIN virtual_machines v ON v.moid = e ->> 0 AND v.removed_at IS NULL
        JOIN vcenter_instances vc ON vc.id = v.vcenter_id
        WHERE e ->> 2 IS NULL OR vc.name = e ->> 2
        UNION ALL
        -- A server: its own opinions, and the host it is mapped to (with that host's).
        SELECT 'physical_server', p.id, h.cluster_id, vc.site_id
        FROM m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.m -> 'servers') = 'array' THEN m.m -> 'servers' ELSE '[]' END) e
        JOIN physical_servers p ON upper(p.service_tag) = upper(e ->> 0) AND p.removed_at IS NULL
        LEFT JOIN server_mappings sm ON sm.physical_server_id = p.id AND sm.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = sm.esxi_host_id
        LEFT JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        UNION ALL
        SELECT 'esxi_host', h.id, h.cluster_id, vc.site_id
        FROM m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.m -> 'servers') = 'array' THEN m.m -> 'servers' ELSE '[]' END) e
        JOIN physical_servers p ON upper(p.service_tag) = upper(e ->> 0) AND p.removed_at IS NULL
        JOIN server_mappings sm ON sm.physical_server_id = p.id AND sm.status = 'active'
        JOIN esxi_hosts h ON h.id = sm.esxi_host_id
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
    ),
    sites AS (
        SELECT t.vc_site AS site FROM touched t
        UNION
        SELECT i.site_id FROM touched t JOIN site_inferences i ON i.entity_type = t.kind AND i.entity_id = t.id
    )
    SELECT coalesce((SELECT array_agg(DISTINCT t.cluster_id) FROM touched t WHERE t.cluster_id IS NOT NULL), '{}'),
           coalesce((SELECT array_agg(s.site ORDER BY s.site) FROM sites s WHERE s.site IS NOT NULL), '{}')
$$;

-- May `u` act (capability) on every one of `sites`? No site at all is judged as today:
-- a user limited to sites may not act on something that is at none.
CREATE FUNCTION user_may_all(u users, capability text, sites uuid[]) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN cardinality(sites) = 0 THEN user_may(u, capability, NULL)
                ELSE NOT EXISTS (SELECT 1 FROM unnest(sites) s WHERE NOT user_may(u, capability, s)) END
$$;

-- The checks every way of creating a job shares: role, user, a plan for disruptive jobs,
-- the capability for every site it touches, and `relaxed_policy` for a relaxed policy.
CREATE FUNCTION check_job_submission(u users, p_type job_type, pol jsonb, p_plan jsonb, sites uuid[]) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF job_type_is_disruptive(p_type) AND (p_plan IS NULL OR coalesce(jsonb_typeof(p_plan -> 'material'), 'none') <> 'object') THEN
        RAISE EXCEPTION '% jobs need their plan (with its material part): the approver approves the plan', p_type
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT user_may_all(u, job_type_capability(p_type), sites) THEN
        RAISE EXCEPTION 'permission denied: % jobs need the % capability%', p_type,
            coalesce(job_type_capability(p_type), 'site'),
            CASE WHEN cardinality(sites) = 0 THEN '' ELSE ' for every site the job touches' END
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF job_type_is_disruptive(p_type) AND job_policy_is_relaxed(pol) AND NOT user_may_all(u, 'relaxed_policy', sites) THEN
        RAISE EXCEPTION 'permission denied: the policy "%" skips approval or allows stopping VMs; using it needs the relaxed_policy capability',
            pol ->> 'policy_name' USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The job an idempotency key already names for this user and type (the same request
-- again), an empty row when it names none, or a refusal when it names someone else's.
CREATE FUNCTION job_for_idempotency_key(p_key text, p_type job_type, p_user uuid) RETURNS jobs
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    IF p_key IS NULL THEN
        RETURN j;
    END IF;
    SELECT * INTO j FROM jobs WHERE idempotency_key = p_key;
    IF FOUND AND (j.type <> p_type OR j.initiated_by_user IS DISTINCT FROM p_user) THEN
        RAISE EXCEPTION 'idempotency key "%" already names a different job (%)', p_key, j.id
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'jobs_idempotency_key_key';
    END IF;
    RETURN j;
END
$$;

CREATE OR REPLACE FUNCTION submit_job(
    p_type            job_type,
    p_title           text,
    p_target          jsonb DEFAULT '{}',
    p_params          jsonb DEFAULT '{}',
    p_policy_name     text DEFAULT 'default',
    p_policy          jsonb DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_run_at          timestamptz DEFAULT NULL,
    p_site_id         uuid DEFAULT NULL,    -- ignored: the scope is derived from the plan
    p_cluster_id      uuid DEFAULT NULL,    -- ignored: the scope is derived from the plan
    p_service_identity_id uuid DEFAULT NULL,
    p_plan            jsonb DEFAULT NULL
) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    pol jsonb;
    j jobs;
    initial job_status;
    scope record;
BEGIN
    PERFORM require_role('eio_operator', 'submitting a job');
    u := require_app_user('submitting a job');
    j := job_for_idempotency_key(p_idempotency_key, p_type, u.id);
    IF j.id IS NOT NULL THEN
        RETURN j;
    END IF;
    pol := resolve_job_policy(p_policy_name, p_policy, p_type);
    scope := job_scope(p_plan);
    PERFORM check_job_submission(u, p_type, pol, p_plan, scope.site_ids);
    initial := CASE
        WHEN (pol ->> 'require_approval')::boolean THEN 'awaiting_approval'
        WHEN p_run_at IS NOT NULL AND p_run_at > now() THEN 'scheduled'
        ELSE 'pending'
    END;
    INSERT INTO jobs (type, status, title, target, params, policy_id, policy, plan, plan_hash,
                      service_identity_id, initiated_by_user, idempotency_key, run_at,
                      site_id, cluster_id, site_ids, cluster_ids)
    VALUES (p_type, initial, p_title, coalesce(p_target, '{}'), coalesce(p_params, '{}'),
            (SELECT id FROM job_policies WHERE name = pol ->> 'policy_name'), pol,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            p_service_identity_id, u.id, p_idempotency_key, p_run_at,
            CASE WHEN cardinality(scope.site_ids) = 1 THEN scope.site_ids[1] END,
            CASE WHEN cardinality(scope.cluster_ids) = 1 THEN scope.cluster_ids[1] END,
            scope.site_ids, scope.cluster_ids)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING * INTO j;
    IF NOT FOUND THEN
        -- Lost a race with the same key: the winner's job is the job.
        SELECT * INTO j FROM jobs WHERE idempotency_key = p_idempotency_key;
        RETURN j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'info', format('submitted by %s', u.email),
            jsonb_build_object('status', j.status, 'policy', pol, 'site_ids', j.site_ids, 'cluster_ids', j.cluster_ids));
    IF j.status = 'awaiting_approval' THEN
        PERFORM pg_notify('eio_approvals', json_build_object('job_id', j.id)::text);
    END IF;
    RETURN j;
END
$$;

CREATE OR REPLACE FUNCTION submit_scheduled_job(
    p_type            job_type,
    p_title           text,
    p_target          jsonb,
    p_schedule        text,
    p_next_run_at     timestamptz,
    p_policy_name     text DEFAULT 'default',
    p_policy          jsonb DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_site_id         uuid DEFAULT NULL,    -- ignored: the scope is derived from the plan
    p_cluster_id      uuid DEFAULT NULL,    -- ignored: the scope is derived from the plan
    p_plan            jsonb DEFAULT NULL
) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    pol jsonb;
    j jobs;
    scope record;
BEGIN
    PERFORM require_role('eio_operator', 'submitting a job');
    u := require_app_user('submitting a job');
    IF p_schedule IS NULL OR btrim(p_schedule) = '' OR p_next_run_at IS NULL THEN
        RAISE EXCEPTION 'a scheduled job needs a schedule and its next time' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    j := job_for_idempotency_key(p_idempotency_key, p_type, u.id);
    IF j.id IS NOT NULL THEN
        RETURN j;
    END IF;
    pol := resolve_job_policy(p_policy_name, p_policy, p_type);
    scope := job_scope(p_plan);
    PERFORM check_job_submission(u, p_type, pol, p_plan, scope.site_ids);
    INSERT INTO jobs (type, status, title, target, policy_id, policy, plan, plan_hash, initiated_by_user,
                      idempotency_key, run_at, schedule, next_run_at, site_id, cluster_id, site_ids, cluster_ids)
    VALUES (p_type, 'scheduled', p_title, coalesce(p_target, '{}'),
            (SELECT id FROM job_policies WHERE name = pol ->> 'policy_name'), pol,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            u.id, p_idempotency_key, 'infinity', btrim(p_schedule), p_next_run_at,
            CASE WHEN cardinality(scope.site_ids) = 1 THEN scope.site_ids[1] END,
            CASE WHEN cardinality(scope.cluster_ids) = 1 THEN scope.cluster_ids[1] END,
            scope.site_ids, scope.cluster_ids)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING * INTO j;
    IF NOT FOUND THEN
        SELECT * INTO j FROM jobs WHERE idempotency_key = p_idempotency_key;
        RETURN j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'info', format('submitted by %s to run on the schedule "%s"', u.email, j.schedule),
            jsonb_build_object('status', j.status, 'policy', pol, 'schedule', j.schedule,
                               'next_run_at', j.next_run_at));
    RETURN j;
END
$$;

-- One run of a definition: as in 0040, with the run's scope derived from its plan and the
-- initiator's rights checked against it (a relaxed policy included).
CREATE OR REPLACE FUNCTION create_scheduled_run(
    p_definition uuid,
    p_due        timestamptz,
    p_plan       jsonb,
    p_refusal    text DEFAULT NULL,
    p_site_id    uuid DEFAULT NULL,    -- ignored: the scope is derived from the plan
    p_cluster_id uuid DEFAULT NULL     -- ignored: the scope is derived from the plan
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    d jobs;
    u users;
    r jobs;
    key text;
    scope record;
    allowed boolean;
BEGIN
    PERFORM require_worker('creating scheduled runs');
    SELECT * INTO d FROM jobs WHERE id = p_definition;
    IF NOT FOUND OR d.schedule IS NULL OR d.status <> 'scheduled' THEN
        RETURN NULL;
    END IF;
    scope := job_scope(p_plan);
    SELECT * INTO u FROM users WHERE id = d.initiated_by_user;
    allowed := FOUND AND u.disabled_at IS NULL AND user_may_all(u, job_type_capability(d.type), scope.site_ids)
               AND NOT (job_type_is_disruptive(d.type) AND job_policy_is_relaxed(d.policy)
                        AND NOT user_may_all(u, 'relaxed_policy', scope.site_ids));
    IF NOT allowed THEN
        UPDATE jobs SET status = 'cancelled', next_run_at = NULL,
                        error = 'the schedule ended: its initiator may no longer submit such jobs'
        WHERE id = d.id;
        INSERT INTO job_events (job_id, level, message, data)
        VALUES (d.id, 'warning', 'the schedule ended: its initiator may no longer submit such jobs',
                jsonb_build_object('due_at', p_due));
        RETURN NULL;
    END IF;
    IF job_type_is_disruptive(d.type) AND p_refusal IS NULL
       AND (p_plan IS NULL OR coalesce(jsonb_typeof(p_plan -> 'material'), 'none') <> 'object') THEN
        RAISE EXCEPTION '% runs need their plan (with its material part)', d.type USING ERRCODE = 'invalid_parameter_value';
    END IF;
    key := format('schedule:%s:%s', d.id, to_char(p_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    INSERT INTO jobs (type, status, title, target, params, policy_id, policy, plan, plan_hash, initiated_by_user,
                      idempotency_key, parent_job_id, site_id, cluster_id, site_ids, cluster_ids, priority)
    VALUES (d.type,
            CASE WHEN coalesce((d.policy ->> 'require_approval')::boolean, true) THEN 'awaiting_approval'
                 ELSE 'pending' END::job_status,
            format('%s (due %s)', d.title, to_char(p_due AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')),
            d.target, jsonb_build_object('due_at', p_due, 'schedule', d.schedule), d.policy_id, d.policy,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            d.initiated_by_user, key, d.id,
            CASE WHEN cardinality(scope.site_ids) = 1 THEN scope.site_ids[1] END,
            CASE WHEN cardinality(scope.cluster_ids) = 1 THEN scope.cluster_ids[1] END,
            scope.site_ids, scope.cluster_ids, d.priority)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (r.id, 'info', format('created by the schedule "%s" of job %s for %s', d.schedule, d.id, p_due),
            jsonb_build_object('status', r.status, 'definition', d.id, 'due_at', p_due, 'policy', r.policy));
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (d.id, 'info', format('run %s created for %s', r.id, p_due),
            jsonb_build_object('run', r.id, 'due_at', p_due, 'status', r.status));
    IF p_refusal IS NOT NULL THEN
        UPDATE jobs SET status = 'cancelled', error = 'refused before touching anything: ' || p_refusal
        WHERE id = r.id;
        INSERT INTO job_events (job_id, level, message, data)
        VALUES (r.id, 'warning', 'refused before touching anything: ' || p_refusal, '{}');
    ELSIF r.status = 'awaiting_approval' THEN
        PERFORM pg_notify('eio_approvals', json_build_object('job_id', r.id)::text);
    END IF;
    RETURN r.id;
END
$$;

-- Approving or denying: as in 0008, with the capability checked for every site the job
-- touches, and a relaxed policy's approval needing `relaxed_policy` too.
CREATE OR REPLACE FUNCTION decide_approval(p_job uuid, p_decision approval_decision, p_comment text)
RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    j jobs;
BEGIN
    PERFORM require_role('eio_approver', format('%s a job', CASE p_decision WHEN 'approved' THEN 'approving' ELSE 'denying' END));
    u := require_app_user('approving a job');
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job USING ERRCODE = 'no_data_found';
    END IF;
    IF j.initiated_by_user = u.id OR j.initiated_by_user IS NULL THEN
        RAISE EXCEPTION 'permission denied: four eyes: % cannot approve or deny a job they submitted', u.email
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT user_may_all(u, job_type_capability(j.type), j.site_ids) THEN
        RAISE EXCEPTION 'permission denied: approving % jobs needs the % capability', j.type,
            coalesce(job_type_capability(j.type), 'site')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF j.status <> 'awaiting_approval' THEN
        RAISE EXCEPTION 'job % is %, not awaiting approval', j.id, j.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO approvals (job_id, approver_user_id, decision, comment, plan_hash)
    VALUES (j.id, u.id, p_decision, p_comment, j.plan_hash);
    IF p_decision = 'approved' THEN
        UPDATE jobs SET approved_by_user = u.id,
                        status = CASE WHEN run_at IS NOT NULL AND run_at > now() THEN 'scheduled' ELSE 'pending' END::job_status
        WHERE id = j.id RETURNING * INTO j;
    ELSE
        UPDATE jobs SET status = 'cancelled', error = format('denied by %s', u.email)
        WHERE id = j.id RETURNING * INTO j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'info', format('%s by %s', p_decision, u.email),
            jsonb_build_object('decision', p_decision, 'comment', p_comment, 'plan_hash', j.plan_hash));
    PERFORM record_audit('job.' || CASE p_decision WHEN 'approved' THEN 'approve' ELSE 'deny' END,
                         'job', j.id::text, jsonb_build_object('comment', p_comment));
    RETURN j;
END
$$;

-- A paused job's decision: as in 0012, the capability for every site the job touches.
CREATE OR REPLACE FUNCTION decide_job(p_job uuid, p_choice text, p_vms text[] DEFAULT '{}', p_comment text DEFAULT NULL) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    j jobs;
BEGIN
    PERFORM require_role('eio_operator', 'deciding on a paused job');
    u := require_app_user('deciding on a paused job');
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT user_may_all(u, job_type_capability(j.type), j.site_ids) THEN
        RAISE EXCEPTION 'permission denied: deciding on % jobs needs the % capability', j.type,
            coalesce(job_type_capability(j.type), 'site') USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF j.status <> 'paused' THEN
        RAISE EXCEPTION 'job % is %, not paused: there is nothing to decide', j.id, j.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF p_choice NOT IN ('retry', 'cancel', 'shutdown', 'suspend') THEN
        RAISE EXCEPTION 'unknown choice "%": retry, cancel, shutdown or suspend', p_choice
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_choice IN ('shutdown', 'suspend') THEN
        IF cardinality(p_vms) = 0 THEN
            RAISE EXCEPTION 'say which VMs to %', p_choice USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_choice = 'shutdown' AND NOT coalesce((j.policy ->> 'allow_vm_shutdown')::boolean, false) THEN
            RAISE EXCEPTION 'the job''s policy does not allow shutting VMs down (allow_vm_shutdown is false); cancel, retry or suspend instead'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF cardinality(p_vms) > coalesce((j.policy ->> 'vm_limit')::int, 0) THEN
            RAISE EXCEPTION '% VMs chosen, but the job''s policy allows at most % per host (vm_limit)',
                cardinality(p_vms), coalesce((j.policy ->> 'vm_limit')::int, 0)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(p_vms) v
                   WHERE NOT coalesce(j.pause_reason -> 'blocking_vms', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('vm_moid', v))) THEN
            RAISE EXCEPTION 'only VMs listed as blocking the job may be chosen' USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF p_choice = 'cancel' THEN
        UPDATE jobs SET status = 'cancelled', error = format('cancelled by %s at the pause', u.email),
                        decision = jsonb_build_object('choice', p_choice, 'by', u.email, 'at', now(), 'comment', p_comment)
        WHERE id = j.id RETURNING * INTO j;
    ELSE
        UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, pause_reason = NULL,
                        decision = jsonb_build_object('choice', p_choice, 'vms', to_jsonb(p_vms), 'by', u.email,
                                                      'by_user', u.id, 'at', now(), 'comment', p_comment)
        WHERE id = j.id RETURNING * INTO j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'info', format('%s chose %s', u.email, p_choice),
            jsonb_build_object('choice', p_choice, 'vms', to_jsonb(p_vms), 'comment', p_comment));
    PERFORM record_audit('job.decide', 'job', j.id::text, jsonb_build_object('choice', p_choice, 'vms', to_jsonb(p_vms)));
    RETURN j;
END
$$;

-- May this job be leased as far as approval goes? Its policy's require_approval (absent:
-- required for disruptive jobs, not for sync and report jobs) and an approval on record.
CREATE FUNCTION job_approval_satisfied(j jobs) RETURNS boolean
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT j.approved_by_user IS NOT NULL
        OR NOT coalesce((j.policy ->> 'require_approval')::boolean, job_type_is_disruptive(j.type))
$$;

-- Who holds a lease: the worker's name (free text, per process) and the login that leased
-- it. Only that login moves the job (a worker login can't finish another's job by name).
ALTER TABLE jobs ADD COLUMN lease_login name;

-- Leasing, as in 0012, but never a job whose policy requires an approval it lacks, and the
-- per-cluster and per-site limits count a job against every cluster and site it touches.
CREATE OR REPLACE FUNCTION lease_jobs(p_worker text, p_limit integer, p_ttl interval) RETURNS SETOF jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    taken integer := 0;
    full_scope boolean;
BEGIN
    PERFORM require_worker('leasing jobs');
    IF (SELECT engaged FROM kill_switch) THEN
        RETURN;
    END IF;

    -- Disruptive jobs first (they are rare and wait longest), one at a time under the lock.
    IF EXISTS (SELECT 1 FROM jobs WHERE disruptive AND status IN ('pending', 'scheduled', 'running')) THEN
        PERFORM pg_advisory_xact_lock(hashtext('eio:lease_jobs'));
        FOR j IN
            SELECT * FROM jobs
            WHERE disruptive
              AND (status = 'pending'
                   OR (status = 'scheduled' AND coalesce(run_at, now()) <= now())
                   OR (status = 'running' AND lease_expires_at < now()))
              AND cancel_requested_at IS NULL
            ORDER BY priority DESC, created_at
            FOR UPDATE SKIP LOCKED
        LOOP
            EXIT WHEN taken >= p_limit;
            CONTINUE WHEN NOT job_approval_satisfied(j);
            SELECT EXISTS (
                SELECT 1 FROM unnest(j.cluster_ids) c
                WHERE (SELECT count(*) FROM jobs o
                       WHERE o.cluster_ids @> ARRAY[c] AND o.id <> j.id AND o.disruptive
                         AND o.status IN ('running', 'paused'))
                      >= coalesce((SELECT max_running FROM concurrency_limits WHERE scope_type = 'cluster' AND scope_id = c),
                                  (SELECT max_running FROM concurrency_limits WHERE scope_type = 'cluster' AND scope_id IS NULL),
                                  1)
                UNION ALL
                SELECT 1 FROM unnest(j.site_ids) s
                WHERE (SELECT count(*) FROM jobs o
                       WHERE o.site_ids @> ARRAY[s] AND o.id <> j.id AND o.disruptive
                         AND o.status IN ('running', 'paused'))
                      >= coalesce((SELECT max_running FROM concurrency_limits WHERE scope_type = 'site' AND scope_id = s),
                                  (SELECT max_running FROM concurrency_limits WHERE scope_type = 'site' AND scope_id IS NULL),
                                  4)
            ) INTO full_scope;
            CONTINUE WHEN full_scope;
            UPDATE jobs SET status = 'running', lease_owner = p_worker, lease_login = session_user,
                            lease_expires_at = now() + p_ttl, heartbeat_at = now(), attempts = attempts + 1
            WHERE id = j.id RETURNING * INTO j;
            INSERT INTO job_events (job_id, level, message, data)
            VALUES (j.id, 'info', format('leased by %s (attempt %s)', p_worker, j.attempts),
                    jsonb_build_object('worker', p_worker, 'attempt', j.attempts));
            taken := taken + 1;
            RETURN NEXT j;
        END LOOP;
    END IF;

    IF taken < p_limit THEN
        RETURN QUERY
        WITH candidates AS (
            SELECT id FROM jobs
            WHERE NOT disruptive
              AND (status = 'pending'
                   OR (status = 'scheduled' AND coalesce(run_at, now()) <= now())
                   OR (status = 'running' AND lease_expires_at < now()))
              AND cancel_requested_at IS NULL
              AND (approved_by_user IS NOT NULL OR NOT coalesce((policy ->> 'require_approval')::boolean, false))
            ORDER BY priority DESC, created_at
            LIMIT p_limit - taken
            FOR UPDATE SKIP LOCKED
        ),
        leased AS (
            UPDATE jobs SET status = 'running', lease_owner = p_worker, lease_login = session_user,
                            lease_expires_at = now() + p_ttl, heartbeat_at = now(), attempts = attempts + 1
            FROM candidates WHERE jobs.id = candidates.id
            RETURNING jobs.*
        ),
        logged AS (
            INSERT INTO job_events (job_id, level, message, data)
            SELECT l.id, 'info', format('leased by %s (attempt %s)', p_worker, l.attempts),
                   jsonb_build_object('worker', p_worker, 'attempt', l.attempts)
            FROM leased l
        )
        SELECT * FROM leased;
    END IF;
END
$$;
-- Jobs already waiting when this migration runs: one whose target is not of its type is
-- cancelled; a disruptive one submitted without a plan is cancelled (the worker would have
-- nothing to compare); a disruptive one that skips approval without an approval on record
-- goes back to awaiting approval (its named policy, if any, can't tell a waiver by override
-- from an admin's policy: one approval more is the safe side); a schedule definition that
-- skips approval must now be resubmitted under a named policy.
UPDATE jobs SET status = 'cancelled', next_run_at = NULL,
                error = format('cancelled on upgrade: its target is not a %s job', type)
WHERE status IN ('pending', 'scheduled', 'awaiting_approval', 'paused')
  AND target ? 'type' AND target ->> 'type' IS DISTINCT FROM type::text;
UPDATE jobs SET status = 'cancelled', next_run_at = NULL,
                error = 'cancelled on upgrade: submitted without a plan; submit it again'
WHERE disruptive AND plan IS NULL AND status IN ('pending', 'scheduled', 'awaiting_approval', 'paused');
UPDATE jobs SET status = 'cancelled', next_run_at = NULL,
                error = 'cancelled on upgrade: the schedule skipped approval; submit it again under a named policy'
WHERE disruptive AND schedule IS NOT NULL AND status = 'scheduled'
  AND NOT coalesce((policy ->> 'require_approval')::boolean, true);
UPDATE jobs SET status = 'awaiting_approval', policy = policy || '{"require_approval": true}'
WHERE disruptive AND status IN ('pending', 'scheduled', 'paused') AND approved_by_user IS NULL AND schedule IS NULL
  AND NOT coalesce((policy ->> 'require_approval')::boolean, true);

-- The type the database checks is the type that runs.
ALTER TABLE jobs ADD CONSTRAINT jobs_target_matches_type
    CHECK (NOT target ? 'type' OR target ->> 'type' = type::text) NOT VALID;

CREATE INDEX jobs_cluster_ids_active_idx ON jobs USING gin (cluster_ids) WHERE status IN ('running', 'paused');
CREATE INDEX jobs_site_ids_active_idx ON jobs USING gin (site_ids) WHERE status IN ('running', 'paused');

-- ---------------------------------------------------------------------------------
-- 2. Workers move jobs only through functions. Each acts only on a job the calling worker
-- holds the lease of, and returns whether it did (false: the lease was lost).

REVOKE INSERT, UPDATE ON jobs FROM eio_worker;

CREATE FUNCTION job_report_progress(p_job uuid, p_worker text, p_progress real, p_message text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('reporting a job''s progress');
    UPDATE jobs SET progress = p_progress, progress_message = p_message
    WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    RETURN FOUND;
END
$$;

-- Record an external task id (vCenter task, iDRAC job) before waiting on it.
CREATE FUNCTION job_record_task(p_job uuid, p_worker text, p_task text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('recording a job''s task');
    UPDATE jobs SET external_task_ids = array_append(external_task_ids, p_task)
    WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    RETURN FOUND;
END
$$;

-- Hand a job back at shutdown: the next worker resumes it from its steps.
CREATE FUNCTION job_hand_back(p_job uuid, p_worker text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('handing a job back');
    UPDATE jobs SET lease_expires_at = now()
    WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    RETURN FOUND;
END
$$;

-- End a handler run: succeeded (with its result), failed, cancelled, or paused (with why and
-- what the operator may choose). The lease is released and the end recorded as an event.
CREATE FUNCTION job_finish(p_job uuid, p_worker text, p_status job_status, p_message text,
                           p_data jsonb DEFAULT '{}', p_pause_reason jsonb DEFAULT NULL, p_result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('finishing a job');
    IF p_status NOT IN ('succeeded', 'failed', 'cancelled', 'paused') THEN
        RAISE EXCEPTION 'a worker ends a run as succeeded, failed, cancelled or paused, not %', p_status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_status = 'succeeded' THEN
        UPDATE jobs SET status = 'succeeded', result = p_result, progress = 1, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    ELSE
        UPDATE jobs SET status = p_status,
                        error = CASE WHEN p_status IN ('failed', 'cancelled') THEN p_message ELSE error END,
                        pause_reason = CASE WHEN p_status = 'paused' THEN p_pause_reason END,
                        lease_owner = NULL, lease_expires_at = NULL
        WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    END IF;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (p_job,
            CASE p_status WHEN 'succeeded' THEN 'info' WHEN 'failed' THEN 'error' ELSE 'warning' END::event_level,
            CASE WHEN p_status = 'succeeded' THEN 'succeeded' ELSE p_message END,
            coalesce(CASE WHEN p_status = 'succeeded' THEN p_result ELSE p_data END, '{}'));
    RETURN true;
END
$$;

-- The inventory changed since approval: back to awaiting_approval with the new plan, the
-- old approval void, the scope derived again — and if the initiator may not act on the new
-- scope, the job is cancelled instead.
CREATE FUNCTION job_reapprove(p_job uuid, p_worker text, p_plan jsonb, p_message text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    u users;
    scope record;
BEGIN
    PERFORM require_worker('sending a job back for approval');
    SELECT * INTO j FROM jobs WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user
                                AND status = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF job_type_is_disruptive(j.type) AND coalesce(jsonb_typeof(p_plan -> 'material'), 'none') <> 'object' THEN
        RAISE EXCEPTION 'a % job goes back for approval with its new plan (with its material part)', j.type
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    scope := job_scope(p_plan);
    SELECT * INTO u FROM users WHERE id = j.initiated_by_user;
    IF job_type_is_disruptive(j.type) AND (
           NOT FOUND OR u.disabled_at IS NOT NULL
        OR NOT user_may_all(u, job_type_capability(j.type), scope.site_ids)
        OR (job_policy_is_relaxed(j.policy) AND NOT user_may_all(u, 'relaxed_policy', scope.site_ids))) THEN
        UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
                        error = 'the new plan touches what its initiator may not act on'
        WHERE id = j.id;
        INSERT INTO job_events (job_id, level, message, data)
        VALUES (j.id, 'error', 'cancelled: the new plan touches what its initiator may not act on',
                jsonb_build_object('new_plan', p_plan, 'site_ids', scope.site_ids));
        RETURN true;
    END IF;
    UPDATE jobs SET status = 'awaiting_approval', plan = p_plan,
                    plan_hash = md5(coalesce(p_plan -> 'material', p_plan)::text), approved_by_user = NULL,
                    site_ids = scope.site_ids, cluster_ids = scope.cluster_ids,
                    site_id = CASE WHEN cardinality(scope.site_ids) = 1 THEN scope.site_ids[1] END,
                    cluster_id = CASE WHEN cardinality(scope.cluster_ids) = 1 THEN scope.cluster_ids[1] END,
                    lease_owner = NULL, lease_expires_at = NULL
    WHERE id = j.id;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'warning', p_message, jsonb_build_object('new_plan', p_plan));
    PERFORM pg_notify('eio_approvals', json_build_object('job_id', j.id)::text);
    RETURN true;
END
$$;

-- The engine's own jobs (scheduled syncs, scheduled reports): never disruptive, no
-- initiator, pending at once. The same key always yields one job. Returns its id, or NULL
-- when the key already has its job.
CREATE FUNCTION enqueue_system_job(p_type job_type, p_title text, p_target jsonb, p_params jsonb, p_idempotency_key text)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    id uuid;
BEGIN
    PERFORM require_worker('creating the engine''s own jobs');
    IF job_type_is_disruptive(p_type) THEN
        RAISE EXCEPTION 'permission denied: the engine creates only sync and report jobs, not %', p_type
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO jobs (type, status, title, target, params, policy, idempotency_key)
    VALUES (p_type, 'pending', p_title, coalesce(p_target, '{}'), coalesce(p_params, '{}'),
            '{"require_approval": false}', p_idempotency_key)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING jobs.id INTO id;
    RETURN id;
END
$$;

-- Advance a scheduled job definition to its next due time (NULL: schedule it no more).
CREATE FUNCTION set_job_next_run(p_job uuid, p_next timestamptz) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('advancing a job schedule');
    UPDATE jobs SET next_run_at = p_next WHERE id = p_job AND schedule IS NOT NULL AND status = 'scheduled';
    RETURN FOUND;
END
$$;

-- Completing and renewing, as in 0012, by the login that holds the lease only.
CREATE OR REPLACE FUNCTION complete_jobs(p_worker text, p_jobs uuid[], p_results jsonb[]) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH done AS (
        UPDATE jobs j SET status = 'succeeded', result = d.result, progress = 1, lease_owner = NULL, lease_expires_at = NULL
        FROM unnest(p_jobs, p_results) AS d(id, result)
        WHERE j.id = d.id AND j.lease_owner = p_worker AND j.lease_login = session_user AND j.status = 'running'
          AND (pg_has_role(session_user, 'eio_worker', 'MEMBER') OR is_superuser_session())
        RETURNING j.id, d.result
    ),
    logged AS (
        INSERT INTO job_events (job_id, level, message, data) SELECT id, 'info', 'succeeded', result FROM done
    )
    SELECT id FROM done
$$;

CREATE OR REPLACE FUNCTION renew_leases(p_worker text, p_jobs uuid[], p_ttl interval) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs SET lease_expires_at = now() + p_ttl, heartbeat_at = now()
    WHERE id = ANY (p_jobs) AND lease_owner = p_worker AND lease_login = session_user AND status = 'running'
      AND (pg_has_role(session_user, 'eio_worker', 'MEMBER') OR is_superuser_session())
    RETURNING id
$$;

GRANT EXECUTE ON FUNCTION
    job_report_progress(uuid, text, real, text), job_record_task(uuid, text, text), job_hand_back(uuid, text),
    job_finish(uuid, text, job_status, text, jsonb, jsonb, jsonb), job_reapprove(uuid, text, jsonb, text),
    enqueue_system_job(job_type, text, jsonb, jsonb, text), set_job_next_run(uuid, timestamptz)
TO eio_worker;
GRANT EXECUTE ON FUNCTION resolve_job_policy(text, jsonb, job_type) TO eio_operator;
GRANT EXECUTE ON FUNCTION job_scope(jsonb) TO eio_viewer, eio_worker;

-- ---------------------------------------------------------------------------------
-- 3. Actors are set by the database. The columns name the session's own user (NULL for a
-- worker or an unmapped login), whatever the client sent, and never change afterwards.

-- Ledgers: who wrote the row.
CREATE FUNCTION stamp_ledger_actor() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.actor_login := session_user;
    NEW.actor_user := current_app_user_id();
    RETURN NEW;
END
$$;
CREATE TRIGGER job_events_stamp_actor BEFORE INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION stamp_ledger_actor();

-- A worker writes into the timeline of a job it holds, not into anybody's: an event such as
-- "approved by alice" in someone else's job is evidence forged even with its real actor.
ALTER TABLE job_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_events_read ON job_events FOR SELECT TO eio_viewer USING (true);
CREATE POLICY job_events_held ON job_events FOR INSERT TO eio_worker
    WITH CHECK (EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_id AND j.lease_login = session_user AND j.status = 'running'));
CREATE TRIGGER audit_events_stamp_actor BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION stamp_ledger_actor();

-- Authored rows: the column named by the trigger's argument is the author, set on INSERT
-- and kept on UPDATE.
CREATE FUNCTION stamp_author() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    col text := TG_ARGV[0];
    author uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        author := current_app_user_id();
    ELSE
        author := (to_jsonb(OLD) ->> col)::uuid;
    END IF;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(col, author));
    RETURN NEW;
END
$$;

DO $stamp$
DECLARE
    t text[];
BEGIN
    FOREACH t SLICE 1 IN ARRAY ARRAY[
        ARRAY['prefixes', 'created_by'],
        ARRAY['ip_assignments', 'created_by'],
        ARRAY['site_inferences', 'created_by'],
        ARRAY['server_mappings', 'created_by'],
        ARRAY['site_rules', 'created_by'],
        ARRAY['report_definitions', 'created_by'],
        ARRAY['report_executions', 'requested_by'],
        ARRAY['job_policies', 'created_by'],
        ARRAY['worker_keys', 'created_by'],
        ARRAY['service_identities', 'created_by']
    ] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION stamp_author(%L)',
                       t[1] || '_stamp_author', t[1], t[2]);
    END LOOP;
END
$stamp$;

-- Acknowledgements: whoever sets one is its author; clearing one leaves no author.
CREATE FUNCTION stamp_acknowledgement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.acknowledged_by := CASE WHEN NEW.acknowledged_by IS NULL THEN NULL ELSE current_app_user_id() END;
    ELSIF NEW.acknowledged_by IS DISTINCT FROM OLD.acknowledged_by
          OR NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at
          OR NEW.acknowledge_note IS DISTINCT FROM OLD.acknowledge_note THEN
        NEW.acknowledged_by := CASE WHEN NEW.acknowledged_at IS NULL AND NEW.acknowledged_by IS NULL THEN NULL
                                    ELSE current_app_user_id() END;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ipam_findings_stamp_acknowledgement BEFORE INSERT OR UPDATE ON ipam_findings
    FOR EACH ROW EXECUTE FUNCTION stamp_acknowledgement();

-- ---------------------------------------------------------------------------------
-- 6. Row authorship holds on UPDATE and DELETE: the author or an admin.

ALTER POLICY site_inferences_manual ON site_inferences
    USING (method = 'manual' AND (created_by = current_app_user_id() OR is_admin_session()))
    WITH CHECK (method = 'manual' AND (created_by = current_app_user_id() OR is_admin_session()));
ALTER POLICY server_mappings_manual ON server_mappings
    USING (method = 'manual' AND (created_by = current_app_user_id() OR is_admin_session()))
    WITH CHECK (method = 'manual' AND (created_by = current_app_user_id() OR is_admin_session()));
ALTER POLICY ipam_findings_acknowledge ON ipam_findings
    USING (acknowledged_by IS NULL OR acknowledged_by = current_app_user_id() OR is_admin_session())
    WITH CHECK (acknowledged_by IS NULL OR acknowledged_by = current_app_user_id());
GRANT EXECUTE ON FUNCTION is_admin_session() TO eio_viewer, eio_worker;

-- A manual row's evidence names who set it, from the database too (pages show it).
CREATE FUNCTION stamp_manual_evidence() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.method::text = 'manual' THEN
        NEW.evidence := coalesce(NEW.evidence, '{}'::jsonb) - 'set_by'
                        || jsonb_strip_nulls(jsonb_build_object('set_by', (SELECT email FROM users WHERE id = NEW.created_by)));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER site_inferences_stamp_evidence BEFORE INSERT OR UPDATE ON site_inferences
    FOR EACH ROW EXECUTE FUNCTION stamp_manual_evidence();
CREATE TRIGGER server_mappings_stamp_evidence BEFORE INSERT OR UPDATE ON server_mappings
    FOR EACH ROW EXECUTE FUNCTION stamp_manual_evidence();

-- Mapping a server by hand (0011), without removing someone else's manual mapping: only
-- its author or an admin replaces it.
CREATE OR REPLACE FUNCTION set_manual_mapping(p_server uuid, p_host uuid) RETURNS server_mappings
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    m server_mappings;
    theirs text;
BEGIN
    PERFORM require_role('eio_operator', 'mapping a server to a host by hand');
    u := require_app_user('mapping a server to a host by hand');
    IF NOT EXISTS (SELECT 1 FROM physical_servers WHERE id = p_server AND removed_at IS NULL) THEN
        RAISE EXCEPTION 'no such server' USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM esxi_hosts WHERE id = p_host AND removed_at IS NULL) THEN
        RAISE EXCEPTION 'no such ESXi host' USING ERRCODE = 'no_data_found';
    END IF;
    SELECT coalesce(a.email, 'someone') INTO theirs
    FROM server_mappings sm LEFT JOIN users a ON a.id = sm.created_by
    WHERE (sm.physical_server_id = p_server OR sm.esxi_host_id = p_host) AND sm.method = 'manual'
      AND sm.created_by IS DISTINCT FROM u.id
    LIMIT 1;
    IF FOUND AND u.role <> 'admin' THEN
        RAISE EXCEPTION 'permission denied: that server or host was mapped by hand by %: only they or an admin may change it', theirs
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM server_mappings WHERE physical_server_id = p_server OR esxi_host_id = p_host;
    INSERT INTO server_mappings (idrac_id, physical_server_id, esxi_host_id, confidence, method, status, evidence,
                                 created_by, verified_at)
    SELECT p.idrac_id, p.id, p_host, 1.0, 'manual', 'active', '{}', u.id, now()
    FROM physical_servers p WHERE p.id = p_server
    RETURNING * INTO m;
    PERFORM record_audit('mapping.manual', 'physical_server', p_server::text,
                         jsonb_build_object('esxi_host', p_host));
    RETURN m;
END
$$;

-- ---------------------------------------------------------------------------------
-- 4. Linking logins is safe.

CREATE OR REPLACE FUNCTION check_linkable_login(p_login name, p_role user_role) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r pg_roles;
    other name;
BEGIN
    PERFORM check_linkable_login(p_login);
    SELECT * INTO r FROM pg_roles WHERE rolname = p_login;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls OR r.rolcreatedb THEN
        RAISE EXCEPTION 'login "%" is too powerful to be an EIO user (superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS)', p_login
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM check_login_memberships(p_login, p_role);
END
$$;

-- What an existing login may already belong to, to be an EIO user of `p_role` (NULL: of
-- the role it has): nothing but that EIO group (and the groups below it), and nothing with
-- ADMIN OPTION (it could hand the group on). Anything else — eio_worker, eio_owner, a pg_*
-- role, another application's roles — means it is someone else's login to manage.
CREATE FUNCTION check_login_memberships(p_login name, p_role user_role) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    other name;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = p_login::regrole AND m.admin_option) THEN
        RAISE EXCEPTION 'login "%" holds a role WITH ADMIN OPTION: it is not managed as an EIO user', p_login
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Owning something, or holding a privilege of its own, in any database of the cluster:
    -- another system's login (an EIO user's rights come from its group alone).
    IF EXISTS (SELECT 1 FROM pg_shdepend d
               WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = p_login::regrole AND d.deptype IN ('o', 'a')) THEN
        RAISE EXCEPTION 'login "%" owns objects or holds privileges of its own: it is another system''s login, not managed as an EIO user', p_login
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT g.rolname INTO other FROM pg_roles g
    WHERE pg_has_role(p_login, g.oid, 'MEMBER') AND g.rolname <> p_login
      AND NOT (g.rolname IN (SELECT pg_role FROM roles)
               AND (p_role IS NULL
                    OR pg_has_role((SELECT pg_role FROM roles WHERE role = p_role), g.oid, 'MEMBER')))
    ORDER BY g.rolname LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'login "%" is a member of %: it can''t be an EIO user% (it would keep what that role gives, or it is another system''s login)',
            p_login, other, coalesce(' of role ' || p_role, '')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION create_user(
    p_email             text,
    p_role              user_role,
    p_login             name,
    p_capabilities      text[] DEFAULT '{}',
    p_password_verifier text DEFAULT NULL,
    p_display_name      text DEFAULT NULL
) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    actor uuid;
    u users;
    existed boolean;
BEGIN
    actor := require_admin('adding a user');
    PERFORM check_linkable_login(p_login, p_role);
    PERFORM check_password_verifier(p_password_verifier);
    existed := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_login);
    IF existed THEN
        -- An existing login (LDAP, GSSAPI, made by a DBA) is linked as it is: its password is
        -- not EIO's to set, or an admin could take over any login of the cluster.
        IF p_password_verifier IS NOT NULL THEN
            RAISE EXCEPTION 'login "%" already exists: it is linked as it is, without setting its password', p_login
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'leave the password out to link it (its own authentication stays), or choose a new login name';
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN', p_login);
    ELSIF p_password_verifier IS NOT NULL THEN
        EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_login, p_password_verifier);
    ELSE
        -- No password: authentication is left to pg_hba.conf (LDAP/AD, GSSAPI, peer).
        EXECUTE format('CREATE ROLE %I LOGIN', p_login);
    END IF;
    PERFORM assign_group_role(p_login, p_role);
    INSERT INTO users (email, display_name, role, capabilities, login_role, created_by)
    VALUES (p_email, p_display_name, p_role, coalesce(p_capabilities, '{}'), p_login, actor)
    RETURNING * INTO u;
    PERFORM record_audit('user.create', 'user', u.id::text, jsonb_build_object(
        'email', u.email, 'role', u.role, 'login', p_login, 'capabilities', u.capabilities,
        'linked_existing_login', existed, 'password_set', p_password_verifier IS NOT NULL));
    RETURN u;
END
$$;

-- A login that became a worker, owner or pg_* member after it was linked can't be moved
-- between roles, nor have its password set, by an admin either.
CREATE FUNCTION check_managed_login(p_login name) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r pg_roles;
    other name;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = p_login;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls OR r.rolcreatedb THEN
        RAISE EXCEPTION 'login "%" is too powerful to be managed as an EIO user', p_login
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM check_login_memberships(p_login, NULL);
END
$$;

CREATE OR REPLACE FUNCTION set_user_role(p_email text, p_role user_role) RETURNS users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    before user_role;
BEGIN
    PERFORM require_admin('changing a user''s role');
    u := find_user(p_email);
    before := u.role;
    IF before = p_role THEN
        RETURN u;
    END IF;
    PERFORM check_managed_login(u.login_role);
    IF before = 'admin' THEN
        PERFORM check_not_last_admin(u.id);
    END IF;
    PERFORM assign_group_role(u.login_role, p_role);
    UPDATE users SET role = p_role WHERE id = u.id RETURNING * INTO u;
    PERFORM record_audit('user.role_change', 'user', u.id::text,
                         jsonb_build_object('email', u.email, 'from', before, 'to', p_role));
    RETURN u;
END
$$;

CREATE OR REPLACE FUNCTION set_user_password(p_email text, p_password_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
BEGIN
    u := find_user(p_email);
    IF u.login_role <> session_user THEN
        PERFORM require_admin('resetting another user''s password');
        PERFORM check_managed_login(u.login_role);
    END IF;
    IF p_password_verifier IS NULL THEN
        RAISE EXCEPTION 'no password given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM check_password_verifier(p_password_verifier);
    EXECUTE format('ALTER ROLE %I PASSWORD %L', u.login_role, p_password_verifier);
    PERFORM record_audit('user.password_change', 'user', u.id::text, jsonb_build_object('email', u.email));
END
$$;

-- ---------------------------------------------------------------------------------
-- 7. Report files go only to folders an admin allowed. A definition's `output_dir` is NULL
-- (the reports folder of the data directory of whoever runs it) or a folder on this list;
-- its name can't leave the folder. Workers check the list again before writing.

CREATE TABLE report_output_folders (
    path        text PRIMARY KEY CONSTRAINT report_output_folders_path_format CHECK (
                    path ~ '^/[^[:cntrl:]]*[^/]$' AND path !~ '(^|/)\.\.?(/|$)' AND path !~ '//'),
    description text,
    created_by  uuid CONSTRAINT report_output_folders_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER report_output_folders_stamp_author BEFORE INSERT OR UPDATE ON report_output_folders
    FOR EACH ROW EXECUTE FUNCTION stamp_author('created_by');

CREATE FUNCTION audit_report_output_folder_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM record_audit('report_output_folder.' || lower(TG_OP), 'report_output_folder',
                         coalesce(NEW.path, OLD.path), '{}');
    RETURN NULL;
END
$$;
CREATE TRIGGER report_output_folders_audit AFTER INSERT OR UPDATE OR DELETE ON report_output_folders
    FOR EACH ROW EXECUTE FUNCTION audit_report_output_folder_change();

GRANT SELECT ON report_output_folders TO eio_viewer, eio_worker;
GRANT INSERT (path, description), DELETE ON report_output_folders TO eio_admin;

CREATE FUNCTION report_output_allowed(p_dir text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p_dir IS NULL OR EXISTS (SELECT 1 FROM report_output_folders WHERE path = p_dir)
$$;
GRANT EXECUTE ON FUNCTION report_output_allowed(text) TO eio_viewer, eio_worker;

CREATE FUNCTION check_report_definition_output() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.name !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' THEN
        RAISE EXCEPTION 'report name "%" must be 1-63 letters, digits, ''.'', ''_'' or ''-'', starting with a letter or digit', NEW.name
            USING ERRCODE = 'check_violation', CONSTRAINT = 'report_definitions_name_format';
    END IF;
    IF NOT report_output_allowed(NEW.output_dir) THEN
        RAISE EXCEPTION 'output folder "%" is not on the list of report folders an admin allowed', NEW.output_dir
            USING ERRCODE = 'check_violation', CONSTRAINT = 'report_definitions_output_dir_allowed',
                  HINT = 'an admin adds it with `eio report folder add <path>`; without a folder, reports go to the reports folder of the data directory';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER report_definitions_output_allowed BEFORE INSERT OR UPDATE OF name, output_dir ON report_definitions
    FOR EACH ROW EXECUTE FUNCTION check_report_definition_output();

-- ---------------------------------------------------------------------------------
-- 10. A notification is a hint, never a fact. Any login may NOTIFY any channel with any
-- payload, so payloads carry ids only, and every listener re-reads the row it names with its
-- own rights before it says or does anything (the worker re-reads the kill switch; the
-- desktop re-reads the job before a tray notification).

CREATE OR REPLACE FUNCTION notify_job_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = 'running' AND OLD.status IN ('pending', 'scheduled', 'running') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('eio_jobs', json_build_object('id', NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION notify_job_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('eio_job_events', json_build_object('job_id', NEW.job_id, 'id', NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION notify_kill_switch() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('eio_kill_switch', '{}');
    RETURN NULL;
END
$$;

-- ---------------------------------------------------------------------------------
-- Pinned search paths: every function of ours — trigger, definer or invoker — resolves
-- names in public, with pg_temp searched last, so a temp table shadows nothing.
DO $pin$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole
               AND p.prokind = 'f'
               AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c LIKE 'search\_path=%')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = public, pg_temp', f);
    END LOOP;
END
$pin$;

-- Nothing new is callable unless granted above.
DO $revoke$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'eio_owner'::regrole
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;
