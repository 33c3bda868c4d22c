-- Jobs on a cron schedule (`jobs.schedule`, 0006): a job submitted with a schedule is a
-- *definition*. It never runs itself; each due time creates one run, a child job
-- (`parent_job_id`), through the same rules as a submit: the initiator must still hold the
-- role and capability, the run's status follows the definition's policy (a policy that
-- requires approval makes every run wait for an approver other than the initiator), and it
-- carries the plan computed from the inventory of that moment — the plan its approver sees.
--
--   * A definition is `scheduled` with `schedule` set, `next_run_at` its next due time and
--     `run_at` 'infinity' — so `lease_jobs`, which leases scheduled jobs once `run_at` has
--     come, never leases it (a constraint keeps it so). Cancelling it (`cancel_job`) ends the
--     schedule; runs already created stay jobs of their own.
--   * One run per due time, however many workers tick: the engine claims due definitions
--     with FOR UPDATE SKIP LOCKED and advances `next_run_at` in the same transaction, and
--     the run's idempotency key (`schedule:<definition>:<due time>`) is unique.
SET LOCAL ROLE eio_owner;

ALTER TABLE jobs
    ADD COLUMN next_run_at timestamptz,
    ADD CONSTRAINT jobs_schedule_not_blank CHECK (schedule IS NULL OR btrim(schedule) <> ''),
    ADD CONSTRAINT jobs_schedule_is_definition CHECK (schedule IS NULL OR parent_job_id IS NULL),
    ADD CONSTRAINT jobs_schedule_never_runs CHECK (schedule IS NULL OR run_at = 'infinity');

CREATE INDEX jobs_schedule_due_idx ON jobs (next_run_at) WHERE schedule IS NOT NULL AND status = 'scheduled';
CREATE INDEX jobs_parent_job_id_idx ON jobs (parent_job_id) WHERE parent_job_id IS NOT NULL;

-- Submit a scheduled job definition: the same checks as `submit_job` (role, EIO user,
-- capability for the site, idempotency). The cron expression is validated by the
-- application, which also computes `p_next_run_at`.
CREATE FUNCTION submit_scheduled_job(
    p_type            job_type,
    p_title           text,
    p_target          jsonb,
    p_schedule        text,
    p_next_run_at     timestamptz,
    p_policy_name     text DEFAULT 'default',
    p_policy          jsonb DEFAULT NULL,
    p_idempotency_key text DEFAULT NULL,
    p_site_id         uuid DEFAULT NULL,
    p_cluster_id      uuid DEFAULT NULL,
    p_plan            jsonb DEFAULT NULL
) RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    pol jsonb;
    j jobs;
BEGIN
    PERFORM require_role('eio_operator', 'submitting a job');
    u := require_app_user('submitting a job');
    IF NOT user_may(u, job_type_capability(p_type), p_site_id) THEN
        RAISE EXCEPTION 'permission denied: % jobs need the % capability%', p_type,
            coalesce(job_type_capability(p_type), 'site'),
            CASE WHEN p_site_id IS NULL THEN '' ELSE ' for this site' END
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_schedule IS NULL OR btrim(p_schedule) = '' OR p_next_run_at IS NULL THEN
        RAISE EXCEPTION 'a scheduled job needs a schedule and its next time' USING ERRCODE = 'invalid_parameter_value';
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
    INSERT INTO jobs (type, status, title, target, policy_id, policy, plan, plan_hash, initiated_by_user,
                      idempotency_key, run_at, schedule, next_run_at, site_id, cluster_id)
    VALUES (p_type, 'scheduled', p_title, coalesce(p_target, '{}'),
            (SELECT id FROM job_policies WHERE name = pol ->> 'policy_name'), pol,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            u.id, p_idempotency_key, 'infinity', btrim(p_schedule), p_next_run_at, p_site_id, p_cluster_id)
    ON CONFLICT ON CONSTRAINT jobs_idempotency_key_key DO NOTHING
    RETURNING * INTO j;
    IF NOT FOUND THEN
        SELECT * INTO j FROM jobs WHERE idempotency_key = p_idempotency_key;
        RETURN j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data, actor_user)
    VALUES (j.id, 'info', format('submitted by %s to run on the schedule "%s"', u.email, j.schedule),
            jsonb_build_object('status', j.status, 'policy', pol, 'schedule', j.schedule,
                               'next_run_at', j.next_run_at), u.id);
    RETURN j;
END
$$;

-- One run of a definition for one due time (workers call it, holding the definition's row).
-- The run is a new job: the definition's type, target and policy, its initiator, the plan
-- computed now; `awaiting_approval` when the policy requires approval (and the approvers are
-- told), else `pending`. `p_refusal`: what the plan refuses — the run is recorded, cancelled
-- before touching anything. An initiator who may no longer submit such jobs ends the
-- schedule instead. Returns the run's id, or NULL when this due time already has its run.
CREATE FUNCTION create_scheduled_run(
    p_definition uuid,
    p_due        timestamptz,
    p_plan       jsonb,
    p_refusal    text DEFAULT NULL,
    p_site_id    uuid DEFAULT NULL,
    p_cluster_id uuid DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    d jobs;
    u users;
    r jobs;
    key text;
BEGIN
    IF NOT pg_has_role(session_user, 'eio_worker', 'MEMBER') AND NOT is_superuser_session() THEN
        RAISE EXCEPTION 'permission denied: creating scheduled runs needs the worker role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO d FROM jobs WHERE id = p_definition;
    IF NOT FOUND OR d.schedule IS NULL OR d.status <> 'scheduled' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO u FROM users WHERE id = d.initiated_by_user;
    IF NOT FOUND OR u.disabled_at IS NOT NULL OR NOT user_may(u, job_type_capability(d.type), coalesce(p_site_id, d.site_id)) THEN
        UPDATE jobs SET status = 'cancelled', next_run_at = NULL,
                        error = 'the schedule ended: its initiator may no longer submit such jobs'
        WHERE id = d.id;
        INSERT INTO job_events (job_id, level, message, data)
        VALUES (d.id, 'warning', 'the schedule ended: its initiator may no longer submit such jobs',
                jsonb_build_object('due_at', p_due));
        RETURN NULL;
    END IF;
    key := format('schedule:%s:%s', d.id, to_char(p_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    INSERT INTO jobs (type, status, title, target, params, policy_id, policy, plan, plan_hash, initiated_by_user,
                      idempotency_key, parent_job_id, site_id, cluster_id, priority)
    VALUES (d.type,
            CASE WHEN coalesce((d.policy ->> 'require_approval')::boolean, true) THEN 'awaiting_approval'
                 ELSE 'pending' END::job_status,
            format('%s (due %s)', d.title, to_char(p_due AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')),
            d.target, jsonb_build_object('due_at', p_due, 'schedule', d.schedule), d.policy_id, d.policy,
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(coalesce(p_plan -> 'material', p_plan)::text) END,
            d.initiated_by_user, key, d.id, coalesce(p_site_id, d.site_id), coalesce(p_cluster_id, d.cluster_id),
            d.priority)
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
        PERFORM pg_notify('eio_approvals', json_build_object('job_id', r.id, 'initiated_by_user', r.initiated_by_user)::text);
    END IF;
    RETURN r.id;
END
$$;

GRANT EXECUTE ON FUNCTION submit_scheduled_job(job_type, text, jsonb, text, timestamptz, text, jsonb, text, uuid, uuid, jsonb)
    TO eio_operator;
GRANT EXECUTE ON FUNCTION create_scheduled_run(uuid, timestamptz, jsonb, text, uuid, uuid) TO eio_worker;
