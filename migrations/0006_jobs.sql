-- Domain 5: Jobs & Orchestration. Job → JobStep → JobEvent, the policies jobs run under,
-- approvals (four eyes), leases for the worker pool, and the global kill switch.
--
-- The rules that keep a production cluster safe live here, not only in the engine:
-- legal status transitions, approver ≠ initiator, and an append-only event ledger.
SET LOCAL ROLE eio_owner;

CREATE TYPE job_type AS ENUM ('firmware_update', 'maintenance_mode', 'power', 'sync', 'report');
CREATE TYPE job_status AS ENUM (
    'pending', 'awaiting_approval', 'scheduled', 'running', 'paused', 'succeeded', 'failed', 'cancelled'
);
CREATE TYPE step_status AS ENUM ('pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled');
CREATE TYPE event_level AS ENUM ('debug', 'info', 'warning', 'error');
CREATE TYPE approval_decision AS ENUM ('approved', 'denied');

-- JobPolicy, exactly as the seed: destructive choices are opt-in.
CREATE TABLE job_policies (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                     text NOT NULL CONSTRAINT job_policies_name_key UNIQUE,
    description              text,
    allow_vm_shutdown        boolean NOT NULL DEFAULT false,
    allow_hard_poweroff      boolean NOT NULL DEFAULT false,
    vm_limit                 integer NOT NULL DEFAULT 10 CONSTRAINT job_policies_vm_limit_range CHECK (vm_limit >= 0),
    shutdown_timeout_seconds integer NOT NULL DEFAULT 300
                             CONSTRAINT job_policies_shutdown_timeout_range CHECK (shutdown_timeout_seconds BETWEEN 1 AND 86400),
    require_approval         boolean NOT NULL DEFAULT true,
    tag_filters              text[] NOT NULL DEFAULT '{}',
    folder_filters           text[] NOT NULL DEFAULT '{}',
    created_by               uuid CONSTRAINT job_policies_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_policies_hard_poweroff_needs_shutdown CHECK (NOT allow_hard_poweroff OR allow_vm_shutdown)
);
CREATE TRIGGER job_policies_touch BEFORE UPDATE ON job_policies FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
INSERT INTO job_policies (name, description) VALUES
    ('default', 'Pause and ask: no VM shutdown, no hard power-off, approval required');

CREATE TABLE jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type                job_type NOT NULL,
    status              job_status NOT NULL DEFAULT 'pending',
    title               text NOT NULL,
    -- What the job acts on: {"hosts": [...]} / {"vms": [...]} / {"source": ...}
    target              jsonb NOT NULL DEFAULT '{}' CONSTRAINT jobs_target_object CHECK (jsonb_typeof(target) = 'object'),
    params              jsonb NOT NULL DEFAULT '{}' CONSTRAINT jobs_params_object CHECK (jsonb_typeof(params) = 'object'),
    policy_id           uuid CONSTRAINT jobs_policy_id_fkey REFERENCES job_policies (id) ON DELETE SET NULL,
    -- The JobPolicy as it was when the job was submitted; later edits never change it.
    policy              jsonb NOT NULL CONSTRAINT jobs_policy_object CHECK (jsonb_typeof(policy) = 'object'),
    -- The dry-run plan the approver saw, and its hash; drift past it means re-approval.
    plan                jsonb,
    plan_hash           text,
    service_identity_id uuid CONSTRAINT jobs_service_identity_id_fkey REFERENCES service_identities (id) ON DELETE RESTRICT,
    initiated_by_user   uuid CONSTRAINT jobs_initiated_by_user_fkey REFERENCES users (id) ON DELETE RESTRICT,
    approved_by_user    uuid CONSTRAINT jobs_approved_by_user_fkey REFERENCES users (id) ON DELETE RESTRICT,
    idempotency_key     text CONSTRAINT jobs_idempotency_key_key UNIQUE,
    run_at              timestamptz,
    -- Cron expression for recurring jobs; each run is a child job.
    schedule            text,
    parent_job_id       uuid CONSTRAINT jobs_parent_job_id_fkey REFERENCES jobs (id) ON DELETE RESTRICT,
    site_id             uuid CONSTRAINT jobs_site_id_fkey REFERENCES sites (id) ON DELETE SET NULL,
    cluster_id          uuid CONSTRAINT jobs_cluster_id_fkey REFERENCES clusters (id) ON DELETE SET NULL,
    priority            smallint NOT NULL DEFAULT 0,
    -- vCenter task morefs, iDRAC JID_… ids: recorded before waiting on them.
    external_task_ids   text[] NOT NULL DEFAULT '{}',
    attempts            integer NOT NULL DEFAULT 0,
    lease_owner         text,
    lease_expires_at    timestamptz,
    heartbeat_at        timestamptz,
    progress            real CONSTRAINT jobs_progress_range CHECK (progress >= 0 AND progress <= 1),
    progress_message    text,
    -- Why a job paused and what the operator may choose (blocking VMs + reasons, ...).
    pause_reason        jsonb,
    result              jsonb,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CONSTRAINT jobs_four_eyes CHECK (approved_by_user IS NULL OR approved_by_user IS DISTINCT FROM initiated_by_user),
    CONSTRAINT jobs_lease_complete CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
CREATE INDEX jobs_ready_idx ON jobs (priority DESC, created_at) WHERE status IN ('pending', 'scheduled');
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_idx ON jobs (status);
CREATE INDEX jobs_cluster_active_idx ON jobs (cluster_id) WHERE status IN ('running', 'paused');
CREATE INDEX jobs_site_active_idx ON jobs (site_id) WHERE status IN ('running', 'paused');
CREATE INDEX jobs_initiated_by_idx ON jobs (initiated_by_user);
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The legal life of a job. Terminal states (succeeded, failed, cancelled) have no exits.
CREATE TABLE job_status_transitions (
    from_status job_status NOT NULL,
    to_status   job_status NOT NULL,
    CONSTRAINT job_status_transitions_pkey PRIMARY KEY (from_status, to_status)
);
INSERT INTO job_status_transitions (from_status, to_status) VALUES
    ('pending',           'running'),
    ('pending',           'scheduled'),
    ('pending',           'awaiting_approval'),
    ('pending',           'cancelled'),
    ('awaiting_approval', 'pending'),
    ('awaiting_approval', 'scheduled'),
    ('awaiting_approval', 'cancelled'),
    ('scheduled',         'pending'),
    ('scheduled',         'running'),
    ('scheduled',         'awaiting_approval'),
    ('scheduled',         'cancelled'),
    ('running',           'succeeded'),
    ('running',           'failed'),
    ('running',           'paused'),
    ('running',           'cancelled'),
    ('running',           'awaiting_approval'),
    ('paused',            'running'),
    ('paused',            'pending'),
    ('paused',            'awaiting_approval'),
    ('paused',            'cancelled'),
    ('paused',            'failed');

CREATE FUNCTION check_job_status_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status NOT IN ('pending', 'awaiting_approval', 'scheduled') THEN
            RAISE EXCEPTION 'a new job starts as pending, awaiting_approval or scheduled, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'jobs_status_transition';
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status
          AND NOT EXISTS (SELECT 1 FROM job_status_transitions
                          WHERE from_status = OLD.status AND to_status = NEW.status) THEN
        RAISE EXCEPTION 'job % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'jobs_status_transition';
    END IF;
    IF NEW.status IN ('succeeded', 'failed', 'cancelled') AND NEW.finished_at IS NULL THEN
        NEW.finished_at := now();
    END IF;
    IF NEW.status = 'running' AND NEW.started_at IS NULL THEN
        NEW.started_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_status_transition BEFORE INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION check_job_status_transition();

-- Wake workers and desktops: every status change is announced on `eio_jobs`.
CREATE FUNCTION notify_job_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eio_jobs', json_build_object(
        'id', NEW.id, 'type', NEW.type, 'status', NEW.status,
        'initiated_by_user', NEW.initiated_by_user)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job_change();

CREATE TABLE job_steps (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id           uuid NOT NULL CONSTRAINT job_steps_job_id_fkey REFERENCES jobs (id) ON DELETE RESTRICT,
    seq              integer NOT NULL,
    name             text NOT NULL,
    kind             text NOT NULL,
    target           jsonb NOT NULL DEFAULT '{}',
    status           step_status NOT NULL DEFAULT 'pending',
    -- Recorded in the same transaction that advances the step, before waiting on it,
    -- so a resumed worker re-attaches instead of issuing the action twice.
    external_task_id text,
    attempts         integer NOT NULL DEFAULT 0,
    started_at       timestamptz,
    finished_at      timestamptz,
    result           jsonb,
    error            text,
    CONSTRAINT job_steps_job_seq_key UNIQUE (job_id, seq)
);

-- The audit trail of a job. No UPDATE or DELETE, by grants and by trigger.
CREATE TABLE job_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      uuid NOT NULL CONSTRAINT job_events_job_id_fkey REFERENCES jobs (id) ON DELETE RESTRICT,
    step_id     uuid CONSTRAINT job_events_step_id_fkey REFERENCES job_steps (id) ON DELETE RESTRICT,
    at          timestamptz NOT NULL DEFAULT now(),
    level       event_level NOT NULL DEFAULT 'info',
    message     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    actor_login name NOT NULL DEFAULT session_user,
    actor_user  uuid CONSTRAINT job_events_actor_user_fkey REFERENCES users (id) ON DELETE RESTRICT
);
CREATE INDEX job_events_job_id_idx ON job_events (job_id, id);
-- Statement-level, so even an UPDATE/DELETE matching no rows is refused.
CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON job_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_change();

-- Approvals are evidence too: append-only.
CREATE TABLE approvals (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id           uuid NOT NULL CONSTRAINT approvals_job_id_fkey REFERENCES jobs (id) ON DELETE RESTRICT,
    approver_user_id uuid NOT NULL CONSTRAINT approvals_approver_user_id_fkey REFERENCES users (id) ON DELETE RESTRICT,
    decision         approval_decision NOT NULL,
    comment          text,
    -- The plan this decision was about.
    plan_hash        text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approvals_job_id_idx ON approvals (job_id);
-- Statement-level, so even an UPDATE/DELETE matching no rows is refused.
CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON approvals
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_change();

-- Named leases for singletons across instances (a source's watcher, the scheduler).
-- Job leases live on the job row itself.
CREATE TABLE leases (
    name         text PRIMARY KEY,
    owner        text NOT NULL,
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- Workers announce themselves; the dashboard shows who is alive.
CREATE TABLE worker_instances (
    id            text PRIMARY KEY,
    hostname      text NOT NULL,
    pid           integer NOT NULL,
    version       text NOT NULL,
    mode          text NOT NULL CONSTRAINT worker_instances_mode_known CHECK (mode IN ('desktop', 'serve', 'worker')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz
);

-- The global emergency stop: one row, checked before every external call.
CREATE TABLE kill_switch (
    id               boolean PRIMARY KEY DEFAULT true CONSTRAINT kill_switch_single_row CHECK (id),
    engaged          boolean NOT NULL DEFAULT false,
    reason           text,
    changed_by_login name,
    changed_by_user  uuid CONSTRAINT kill_switch_changed_by_user_fkey REFERENCES users (id) ON DELETE SET NULL,
    changed_at       timestamptz
);
INSERT INTO kill_switch (id, engaged) VALUES (true, false);

CREATE FUNCTION notify_kill_switch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eio_kill_switch', json_build_object(
        'engaged', NEW.engaged, 'reason', NEW.reason, 'changed_by', NEW.changed_by_login)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER kill_switch_notify AFTER UPDATE ON kill_switch
    FOR EACH ROW EXECUTE FUNCTION notify_kill_switch();
CREATE TRIGGER kill_switch_no_delete BEFORE DELETE OR TRUNCATE ON kill_switch
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_ledger_change();
