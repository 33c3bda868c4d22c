-- Security in the database (DESIGN.md §3). A desktop that talks straight to a shared
-- database can be bypassed with psql, so every rule that matters is enforced here:
--
--   * grants per group role: a viewer can only read; nobody but workers can read the
--     credential ciphertext (column-level grant);
--   * job submission, approval and the kill switch go through SECURITY DEFINER functions
--     that check role, capability and four eyes (approver ≠ initiator);
--   * row-level security where a row says who acted (acknowledgements, manual mappings,
--     report definitions): you can only act as yourself;
--   * append-only ledgers (job_events, approvals, audit_events): insert-only grants plus
--     triggers that raise on UPDATE/DELETE/TRUNCATE.
--
-- The application's own checks exist to give good error messages, not for security.
SET LOCAL ROLE eio_owner;


-- ---------------------------------------------------------------------------------
-- Reading. Viewers (and so everyone above them, and workers) read the whole model,
-- except the credential ciphertext and the security audit.
GRANT SELECT ON
    roles, capabilities, users, worker_keys,
    regions, countries, sites, site_inferences,
    routing_domains, prefixes, ip_assignments, ip_observations, ipam_findings,
    vcenter_instances, idrac_endpoints, ome_instances,
    datacenters, clusters, esxi_hosts, virtual_machines,
    physical_servers, firmware_inventory, server_mappings,
    job_policies, jobs, job_status_transitions, job_steps, job_events, approvals,
    leases, worker_instances, kill_switch,
    report_definitions, report_executions,
    sync_runs, inventory_changes
TO eio_viewer;

GRANT SELECT (id, name, system, username, recipients, rotation_due, rotation_period_days, rotated_at,
              last_success, last_failure, last_error, created_by, created_at, updated_at)
    ON service_identities TO eio_viewer;

GRANT EXECUTE ON FUNCTION current_app_user_id(), default_routing_domain_id() TO eio_viewer;

-- ---------------------------------------------------------------------------------
-- Operators plan addresses, acknowledge findings, override mappings and run reports.
GRANT INSERT, UPDATE, DELETE ON prefixes, ip_assignments TO eio_operator;
GRANT UPDATE (acknowledged_at, acknowledged_by, acknowledge_note) ON ipam_findings TO eio_operator;
GRANT INSERT, UPDATE, DELETE ON site_inferences, server_mappings TO eio_operator;
GRANT INSERT, UPDATE, DELETE ON report_definitions TO eio_operator;
GRANT INSERT, UPDATE ON report_executions TO eio_operator;

-- ---------------------------------------------------------------------------------
-- Admins configure the estate. They may write credential ciphertext (set, rotate) but,
-- lacking the column's SELECT grant, never read it back.
GRANT INSERT, UPDATE, DELETE ON regions, countries, sites, routing_domains TO eio_admin;
GRANT INSERT, UPDATE, DELETE ON vcenter_instances, idrac_endpoints, ome_instances TO eio_admin;
GRANT INSERT, UPDATE, DELETE ON job_policies TO eio_admin;
GRANT INSERT (name, system, username, encrypted_credentials, recipients, rotation_due, rotation_period_days, created_by),
      UPDATE (username, encrypted_credentials, recipients, rotation_due, rotation_period_days, rotated_at),
      DELETE
    ON service_identities TO eio_admin;
GRANT SELECT ON audit_events TO eio_admin;

-- ---------------------------------------------------------------------------------
-- Workers: the engine. Reads ciphertext to decrypt it in memory, writes the inventory
-- cache and the ledgers, advances jobs. Never DELETEs a ledger row (triggers forbid it).
GRANT SELECT ON service_identities TO eio_worker;
GRANT UPDATE (last_success, last_failure, last_error) ON service_identities TO eio_worker;
GRANT UPDATE ON vcenter_instances, idrac_endpoints, ome_instances TO eio_worker;
GRANT INSERT, UPDATE, DELETE ON
    datacenters, clusters, esxi_hosts, virtual_machines,
    physical_servers, firmware_inventory, server_mappings, site_inferences,
    ip_observations, ipam_findings,
    job_steps, leases, worker_instances, report_executions
TO eio_worker;
GRANT INSERT, UPDATE ON jobs, sync_runs TO eio_worker;
GRANT UPDATE (next_run_at) ON report_definitions TO eio_worker;
GRANT INSERT ON job_events, inventory_changes, audit_events TO eio_worker;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO eio_worker;

-- ---------------------------------------------------------------------------------
-- Row-level security: where a row names who acted, you can only act as yourself.
-- Owners (eio_owner, and so SECURITY DEFINER functions) are not subject to RLS.
ALTER TABLE ipam_findings ENABLE ROW LEVEL SECURITY;
CREATE POLICY ipam_findings_read ON ipam_findings FOR SELECT TO eio_viewer USING (true);
CREATE POLICY ipam_findings_engine ON ipam_findings FOR ALL TO eio_worker USING (true) WITH CHECK (true);
CREATE POLICY ipam_findings_acknowledge ON ipam_findings FOR UPDATE TO eio_operator
    USING (true)
    WITH CHECK (acknowledged_by IS NULL OR acknowledged_by = current_app_user_id());

ALTER TABLE site_inferences ENABLE ROW LEVEL SECURITY;
CREATE POLICY site_inferences_read ON site_inferences FOR SELECT TO eio_viewer USING (true);
CREATE POLICY site_inferences_engine ON site_inferences FOR ALL TO eio_worker USING (true) WITH CHECK (true);
CREATE POLICY site_inferences_manual ON site_inferences FOR ALL TO eio_operator
    USING (method = 'manual')
    WITH CHECK (method = 'manual' AND created_by = current_app_user_id());

ALTER TABLE server_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY server_mappings_read ON server_mappings FOR SELECT TO eio_viewer USING (true);
CREATE POLICY server_mappings_engine ON server_mappings FOR ALL TO eio_worker USING (true) WITH CHECK (true);
CREATE POLICY server_mappings_manual ON server_mappings FOR ALL TO eio_operator
    USING (method = 'manual')
    WITH CHECK (method = 'manual' AND created_by = current_app_user_id());

ALTER TABLE report_definitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY report_definitions_read ON report_definitions FOR SELECT TO eio_viewer USING (true);
CREATE POLICY report_definitions_engine ON report_definitions FOR UPDATE TO eio_worker USING (true) WITH CHECK (true);
CREATE POLICY report_definitions_own ON report_definitions FOR ALL TO eio_operator
    USING (created_by = current_app_user_id() OR pg_has_role(session_user, 'eio_admin', 'MEMBER'))
    WITH CHECK (created_by = current_app_user_id() OR pg_has_role(session_user, 'eio_admin', 'MEMBER'));

ALTER TABLE report_executions ENABLE ROW LEVEL SECURITY;
CREATE POLICY report_executions_read ON report_executions FOR SELECT TO eio_viewer USING (true);
CREATE POLICY report_executions_engine ON report_executions FOR ALL TO eio_worker USING (true) WITH CHECK (true);
CREATE POLICY report_executions_own ON report_executions FOR ALL TO eio_operator
    USING (requested_by = current_app_user_id())
    WITH CHECK (requested_by = current_app_user_id());

-- ---------------------------------------------------------------------------------
-- Helpers for the functions below.

-- Raise insufficient_privilege unless the session's login is a member of `needed`.
CREATE FUNCTION require_role(needed name, doing text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, needed, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied: % needs the % role', doing, replace(needed, 'eio_', '')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- The calling human's users row, or an error saying why there is none.
CREATE FUNCTION require_app_user(doing text) RETURNS users
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
BEGIN
    SELECT * INTO u FROM users WHERE login_role = session_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: % needs an EIO user; login "%" is not mapped to one', doing, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF u.disabled_at IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: user % is disabled', u.email
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN u;
END
$$;

-- Capabilities refine roles. Admins hold every capability. A user holding any
-- site:<code> capability is limited to those sites.
CREATE FUNCTION user_may(u users, capability text, site uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.role = 'admin'
        OR (
            (capability IS NULL OR capability = ANY (u.capabilities))
            AND (
                NOT EXISTS (SELECT 1 FROM unnest(u.capabilities) c WHERE c LIKE 'site:%')
                OR EXISTS (SELECT 1 FROM sites s WHERE s.id = site AND ('site:' || s.code) = ANY (u.capabilities))
            )
        )
$$;

-- Which capability a job type needs (sync and report jobs need none beyond the role).
CREATE FUNCTION job_type_capability(t job_type) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'firmware_update' THEN 'firmware_update'
        WHEN 'maintenance_mode' THEN 'maintenance_mode'
        WHEN 'power' THEN 'power'
        ELSE NULL
    END
$$;

CREATE FUNCTION record_audit(action text, target_type text, target_id text, data jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit_events (actor_user, action, target_type, target_id, data)
    VALUES (current_app_user_id(), $1, $2, $3, coalesce($4, '{}'))
$$;

-- The effective policy of a new job: the named policy's values, overridden key by key.
-- Unknown keys and wrong types are refused rather than silently ignored.
CREATE FUNCTION resolve_job_policy(policy_name text, overrides jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p job_policies;
    result jsonb;
    k text;
BEGIN
    SELECT * INTO p FROM job_policies WHERE name = coalesce(policy_name, 'default');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown job policy "%"', policy_name USING ERRCODE = 'no_data_found';
    END IF;
    result := jsonb_build_object(
        'policy_name', p.name,
        'allow_vm_shutdown', p.allow_vm_shutdown,
        'allow_hard_poweroff', p.allow_hard_poweroff,
        'vm_limit', p.vm_limit,
        'shutdown_timeout_seconds', p.shutdown_timeout_seconds,
        'require_approval', p.require_approval,
        'tag_filters', to_jsonb(p.tag_filters),
        'folder_filters', to_jsonb(p.folder_filters));
    IF overrides IS NULL OR overrides = 'null'::jsonb THEN
        RETURN result;
    END IF;
    IF jsonb_typeof(overrides) <> 'object' THEN
        RAISE EXCEPTION 'job policy must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(overrides) LOOP
        IF NOT result ? k OR k = 'policy_name' THEN
            RAISE EXCEPTION 'unknown job policy field "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'fields: allow_vm_shutdown, allow_hard_poweroff, vm_limit, shutdown_timeout_seconds, require_approval, tag_filters, folder_filters';
        END IF;
        IF jsonb_typeof(overrides -> k) <> jsonb_typeof(result -> k) THEN
            RAISE EXCEPTION 'job policy field "%" must be a %', k, jsonb_typeof(result -> k)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    result := result || overrides;
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

-- ---------------------------------------------------------------------------------
-- Submitting a job: operators and above, with the capability the job type needs.
-- The same idempotency key always yields the same single job.
CREATE FUNCTION submit_job(
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
            p_plan, CASE WHEN p_plan IS NULL THEN NULL ELSE md5(p_plan::text) END,
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

-- Approving or denying: approvers only, never their own job (four eyes), with the
-- capability the job type needs. The decision and its comment become events.
CREATE FUNCTION decide_approval(p_job uuid, p_decision approval_decision, p_comment text)
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
    IF j.initiated_by_user = u.id THEN
        RAISE EXCEPTION 'permission denied: four eyes: % cannot approve or deny a job they submitted', u.email
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT user_may(u, job_type_capability(j.type), j.site_id) THEN
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
    INSERT INTO job_events (job_id, level, message, data, actor_user)
    VALUES (j.id, 'info', format('%s by %s', p_decision, u.email),
            jsonb_build_object('decision', p_decision, 'comment', p_comment, 'plan_hash', j.plan_hash), u.id);
    PERFORM record_audit('job.' || CASE p_decision WHEN 'approved' THEN 'approve' ELSE 'deny' END,
                         'job', j.id::text, jsonb_build_object('comment', p_comment));
    RETURN j;
END
$$;

CREATE FUNCTION approve_job(p_job uuid, p_comment text DEFAULT NULL) RETURNS jobs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM decide_approval(p_job, 'approved', p_comment)
$$;

CREATE FUNCTION deny_job(p_job uuid, p_comment text DEFAULT NULL) RETURNS jobs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM decide_approval(p_job, 'denied', p_comment)
$$;

-- The kill switch: any operator may pull it in an emergency; only an admin releases it.
CREATE FUNCTION set_kill_switch(p_engaged boolean, p_reason text) RETURNS kill_switch
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k kill_switch;
BEGIN
    IF p_engaged THEN
        PERFORM require_role('eio_operator', 'engaging the kill switch');
    ELSE
        PERFORM require_role('eio_admin', 'releasing the kill switch');
    END IF;
    IF p_reason IS NULL OR btrim(p_reason) = '' THEN
        RAISE EXCEPTION 'say why the kill switch is %', CASE WHEN p_engaged THEN 'engaged' ELSE 'released' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE kill_switch SET engaged = p_engaged, reason = p_reason, changed_by_login = session_user,
                           changed_by_user = current_app_user_id(), changed_at = now()
    WHERE id RETURNING * INTO k;
    PERFORM record_audit(CASE WHEN p_engaged THEN 'kill_switch.engage' ELSE 'kill_switch.release' END,
                         'kill_switch', 'global', jsonb_build_object('reason', p_reason));
    RETURN k;
END
$$;

GRANT EXECUTE ON FUNCTION submit_job(job_type, text, jsonb, jsonb, text, jsonb, text, timestamptz, uuid, uuid, uuid, jsonb)
    TO eio_operator;
GRANT EXECUTE ON FUNCTION resolve_job_policy(text, jsonb) TO eio_operator;
GRANT EXECUTE ON FUNCTION approve_job(uuid, text), deny_job(uuid, text) TO eio_approver;
GRANT EXECUTE ON FUNCTION set_kill_switch(boolean, text) TO eio_operator;

-- ---------------------------------------------------------------------------------
-- Nothing of ours is callable unless granted above. Functions created before 0001's
-- default-privilege change (none, today) would otherwise be executable by PUBLIC.
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
