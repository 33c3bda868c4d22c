-- The job engine's coordination, all in PostgreSQL (DESIGN.md §2): leasing with
-- SKIP LOCKED under per-site and per-cluster limits, heartbeats, recovery of lapsed leases,
-- cancellation, operator decisions on paused jobs, and the kill switch check.
SET LOCAL ROLE eio_owner;

-- How many jobs may run at once per site / per cluster (NULL scope_id: the default for
-- every site or cluster without its own row). Checked when leasing, under a lock.
CREATE TABLE concurrency_limits (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scope_type  text NOT NULL CONSTRAINT concurrency_limits_scope_type_known CHECK (scope_type IN ('site', 'cluster')),
    scope_id    uuid,
    max_running integer NOT NULL CONSTRAINT concurrency_limits_max_running_positive CHECK (max_running >= 1)
);
CREATE UNIQUE INDEX concurrency_limits_scope_key
    ON concurrency_limits (scope_type, coalesce(scope_id, '00000000-0000-0000-0000-000000000000'::uuid));
-- One disruptive job per cluster at a time (a rolling update must never take two hosts of
-- one cluster down together); a handful per site.
INSERT INTO concurrency_limits (scope_type, scope_id, max_running) VALUES ('cluster', NULL, 1), ('site', NULL, 4);

ALTER TABLE jobs
    ADD COLUMN cancel_requested_at timestamptz,
    ADD COLUMN cancel_requested_by uuid CONSTRAINT jobs_cancel_requested_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    -- An operator's answer to a pause: {"choice": "retry|cancel|shutdown|suspend", "vms": [...], "by": ..., "at": ...}
    ADD COLUMN decision jsonb,
    -- Sync and report jobs touch no cluster and hold no slot.
    ADD COLUMN disruptive boolean GENERATED ALWAYS AS (type IN ('maintenance_mode', 'firmware_update', 'power')) STORED;

CREATE INDEX jobs_lease_candidates_idx ON jobs (priority DESC, created_at)
    WHERE status IN ('pending', 'scheduled', 'running');

ALTER TABLE job_steps ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE TRIGGER job_steps_touch BEFORE UPDATE ON job_steps FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Lease up to `p_limit` runnable jobs for `p_worker` for `p_ttl`: pending ones, scheduled
-- ones that are due, and running ones whose lease lapsed (their worker died: they resume
-- where their steps say). Nothing is leased while the kill switch is engaged.
-- Jobs that touch no cluster (sync, report) are leased set-based, in one statement;
-- disruptive ones one by one under a lock, so the per-cluster and per-site limits can't
-- be overrun by two workers leasing at once.
CREATE FUNCTION lease_jobs(p_worker text, p_limit integer, p_ttl interval) RETURNS SETOF jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    taken integer := 0;
    cluster_cap integer;
    site_cap integer;
BEGIN
    IF NOT pg_has_role(session_user, 'eio_worker', 'MEMBER') AND NOT is_superuser_session() THEN
        RAISE EXCEPTION 'permission denied: leasing jobs needs the worker role' USING ERRCODE = 'insufficient_privilege';
    END IF;
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
            IF j.cluster_id IS NOT NULL THEN
                SELECT coalesce((SELECT max_running FROM concurrency_limits WHERE scope_type = 'cluster' AND scope_id = j.cluster_id),
                                (SELECT max_running FROM concurrency_limits WHERE scope_type = 'cluster' AND scope_id IS NULL),
                                1) INTO cluster_cap;
                CONTINUE WHEN (SELECT count(*) FROM jobs o
                               WHERE o.cluster_id = j.cluster_id AND o.id <> j.id AND o.disruptive
                                 AND o.status IN ('running', 'paused')) >= cluster_cap;
            END IF;
            IF j.site_id IS NOT NULL THEN
                SELECT coalesce((SELECT max_running FROM concurrency_limits WHERE scope_type = 'site' AND scope_id = j.site_id),
                                (SELECT max_running FROM concurrency_limits WHERE scope_type = 'site' AND scope_id IS NULL),
                                4) INTO site_cap;
                CONTINUE WHEN (SELECT count(*) FROM jobs o
                               WHERE o.site_id = j.site_id AND o.id <> j.id AND o.disruptive
                                 AND o.status IN ('running', 'paused')) >= site_cap;
            END IF;
            UPDATE jobs SET status = 'running', lease_owner = p_worker, lease_expires_at = now() + p_ttl,
                            heartbeat_at = now(), attempts = attempts + 1
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
            ORDER BY priority DESC, created_at
            LIMIT p_limit - taken
            FOR UPDATE SKIP LOCKED
        ),
        leased AS (
            UPDATE jobs SET status = 'running', lease_owner = p_worker, lease_expires_at = now() + p_ttl,
                            heartbeat_at = now(), attempts = attempts + 1
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

-- Finish many succeeded jobs at once (the worker batches completions); only those this
-- worker still holds. Returns the ids it finished.
CREATE FUNCTION complete_jobs(p_worker text, p_jobs uuid[], p_results jsonb[]) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH done AS (
        UPDATE jobs j SET status = 'succeeded', result = d.result, progress = 1, lease_owner = NULL, lease_expires_at = NULL
        FROM unnest(p_jobs, p_results) AS d(id, result)
        WHERE j.id = d.id AND j.lease_owner = p_worker AND j.status = 'running'
          AND (pg_has_role(session_user, 'eio_worker', 'MEMBER') OR is_superuser_session())
        RETURNING j.id, d.result
    ),
    logged AS (
        INSERT INTO job_events (job_id, level, message, data) SELECT id, 'info', 'succeeded', result FROM done
    )
    SELECT id FROM done
$$;

-- Extend the leases `p_worker` still holds; returns the ids it holds. A job missing from
-- the answer was lost (lapsed and taken over): its worker must stop at once.
CREATE FUNCTION renew_leases(p_worker text, p_jobs uuid[], p_ttl interval) RETURNS SETOF uuid
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs SET lease_expires_at = now() + p_ttl, heartbeat_at = now()
    WHERE id = ANY (p_jobs) AND lease_owner = p_worker AND status = 'running'
      AND (pg_has_role(session_user, 'eio_worker', 'MEMBER') OR is_superuser_session())
    RETURNING id
$$;

-- Cancel a job: at once if it hasn't started, at the next safe point if it runs.
-- The initiator, an approver or an admin may.
CREATE FUNCTION cancel_job(p_job uuid, p_reason text) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    j jobs;
BEGIN
    PERFORM require_role('eio_operator', 'cancelling a job');
    u := require_app_user('cancelling a job');
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % not found', p_job USING ERRCODE = 'no_data_found';
    END IF;
    IF j.initiated_by_user IS DISTINCT FROM u.id AND NOT pg_has_role(session_user, 'eio_approver', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied: only the job''s initiator or an approver may cancel it'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF j.status IN ('succeeded', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'job % already ended (%)', j.id, j.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF j.status = 'running' THEN
        UPDATE jobs SET cancel_requested_at = now(), cancel_requested_by = u.id WHERE id = j.id RETURNING * INTO j;
        INSERT INTO job_events (job_id, level, message, data, actor_user)
        VALUES (j.id, 'warning', format('cancel requested by %s: it stops at the next safe point', u.email),
                jsonb_build_object('reason', p_reason), u.id);
    ELSE
        UPDATE jobs SET status = 'cancelled', error = format('cancelled by %s: %s', u.email, p_reason),
                        lease_owner = NULL, lease_expires_at = NULL
        WHERE id = j.id RETURNING * INTO j;
        INSERT INTO job_events (job_id, level, message, data, actor_user)
        VALUES (j.id, 'warning', format('cancelled by %s', u.email), jsonb_build_object('reason', p_reason), u.id);
    END IF;
    PERFORM record_audit('job.cancel', 'job', j.id::text, jsonb_build_object('reason', p_reason));
    RETURN j;
END
$$;

-- An operator's explicit choice for a paused job (the maintenance-mode gate): retry,
-- cancel, or shut down / suspend selected VMs. Shutting VMs down needs the job's policy
-- to allow it and stays within its vm_limit; the worker checks again before acting.
CREATE FUNCTION decide_job(p_job uuid, p_choice text, p_vms text[] DEFAULT '{}', p_comment text DEFAULT NULL) RETURNS jobs
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
    IF NOT user_may(u, job_type_capability(j.type), j.site_id) THEN
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
    INSERT INTO job_events (job_id, level, message, data, actor_user)
    VALUES (j.id, 'info', format('%s chose %s', u.email, p_choice),
            jsonb_build_object('choice', p_choice, 'vms', to_jsonb(p_vms), 'comment', p_comment), u.id);
    PERFORM record_audit('job.decide', 'job', j.id::text, jsonb_build_object('choice', p_choice, 'vms', to_jsonb(p_vms)));
    RETURN j;
END
$$;

-- Job notifications: skip the lease transition (pending → running), which only the leasing
-- worker cares about; every other change still wakes workers and UIs.
CREATE OR REPLACE FUNCTION notify_job_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = 'running' AND OLD.status IN ('pending', 'scheduled', 'running') THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('eio_jobs', json_build_object(
        'id', NEW.id, 'type', NEW.type, 'status', NEW.status,
        'initiated_by_user', NEW.initiated_by_user)::text);
    RETURN NULL;
END
$$;

-- Live progress for desktops and browsers: every job event is announced (ids only).
CREATE FUNCTION notify_job_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eio_job_events', json_build_object('job_id', NEW.job_id, 'id', NEW.id, 'level', NEW.level)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER job_events_notify AFTER INSERT ON job_events FOR EACH ROW EXECUTE FUNCTION notify_job_event();

-- Plans carry their material part (what an approver's decision is about) under
-- "material"; the hash the worker compares before acting is of that part only.
CREATE OR REPLACE FUNCTION submit_job(
    p_type            job_type,
    p_title           text,
    p_target          jsonb DEFAULT '{}',
    p_params          jsonb DEFAULT '{}',
    p_policy_name     text DEFAULT 'default',
    p_policy          jsonb DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_run_at          timestamptz DEFAULT NULL,
    p_site_id         uuid DEFAULT NULL,
    p_cluster_id      uuid DEFAULT NULL,
    p_service_identity_id uuid DEFAULT NULL,
    p_plan            jsonb DEFAULT NULL
) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    pol jsonb;
    j jobs;
    initial job_status;
BEGIN
    PERFORM require_role('eio_operator', 'submitting a job');
    u := require_app_user('submitting a job');
    IF NOT user_may(u, job_type_capability(p_type), p_site_id) THEN
        RAISE EXCEPTION 'permission denied: % jobs need the % capability%', p_type,
            coalesce(job_type_capability(p_type), 'site'),
            CASE WHEN p_site_id IS NULL THEN '' ELSE ' for this site' END
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_idempotency_key IS NOT NULL THEN
        SELECT * INTO j FROM jobs WHERE idempotency_key = p_idempotency_key;
        IF FOUND THEN
            IF j.type <> p_type OR j.initiated_by_user IS DISTINCT FROM u.id THEN
                RAISE EXCEPTION 'idempotency key "%" already names a different job (%)', p_idempotency_key, j.id
                    USING ERRCODE = 'unique_violation', CONSTRAINT = 'jobs_idempotency_key_key';
            END IF;
            RETURN j;
        END IF;
    END IF;
    pol := resolve_job_policy(p_policy_name, p_policy);
    initial := CASE
        WHEN (pol ->> 'require_approval')::boolean THEN 'awaiting_approval'
        WHEN p_run_at IS NOT NULL AND p_run_at > now() THEN 'scheduled'
        ELSE 'pending'
    END;
    INSERT INTO jobs (type, status, title, target, params, policy_id, policy, plan, plan_hash,
                      service_identity_id, initiated_by_user, idempotency_key, run_at, site_id, cluster_id)
    VALUES (p_type, initial, p_title, coalesce(p_target, '{}'), coalesce(p_params, '{}'),
            (SELECT id FROM job_policies WHERE name = pol ->> 'policy_name'), pol,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            p_service_identity_id, u.id, p_idempotency_key, p_run_at, p_site_id, p_cluster_id)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING * INTO j;
    IF NOT FOUND THEN
        -- Lost a race with the same key: the winner's job is the job.
        SELECT * INTO j FROM jobs WHERE idempotency_key = p_idempotency_key;
        RETURN j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data, actor_user)
    VALUES (j.id, 'info', format('submitted by %s', u.email),
            jsonb_build_object('status', j.status, 'policy', pol), u.id);
    IF j.status = 'awaiting_approval' THEN
        PERFORM pg_notify('eio_approvals', json_build_object('job_id', j.id, 'initiated_by_user', u.id)::text);
    END IF;
    RETURN j;
END
$$;

GRANT SELECT ON concurrency_limits TO eio_viewer;
GRANT INSERT, UPDATE, DELETE ON concurrency_limits TO eio_admin;
GRANT EXECUTE ON FUNCTION lease_jobs(text, integer, interval), renew_leases(text, uuid[], interval),
    complete_jobs(text, uuid[], jsonb[]) TO eio_worker;
GRANT EXECUTE ON FUNCTION cancel_job(uuid, text), decide_job(uuid, text, text[], text) TO eio_operator;
