-- The insider boundary (0050), closed where a review attacking it as a worker login found
-- it open. A worker login is an insider too: every desktop running local workers has one,
-- and so has the embedded default's local login.
--
--  1. Manual rows are their authors'. The engine writes site inferences, server mappings
--     and IPAM findings only through its SECURITY DEFINER functions (refresh_site_inferences,
--     refresh_server_mappings, run_ipam_findings), so a worker login needs no write on those
--     tables: with `USING (true)` it could move or delete someone's pin or manual mapping
--     and clear their acknowledgement.
--  2. A job's steps are written by the worker holding its lease, as its events are (0050):
--     steps say what was done, and a resumed worker follows them, so a step written into
--     someone else's job could make it skip or repeat an action.
--  3. A server is at its iDRAC's and its OpenManage's site too: a server job's scope
--     counts them, so a pin can't take a server out of the sites its sources say.
--  4. Approving a job under a relaxed policy needs `relaxed_policy`, as submitting one does
--     (0050 said so of `decide_approval` but did not check it).
--  5. Changes to concurrency limits are audited, as changes to named policies are.
--  6. Jobs not finished yet are scoped again by 3.
SET LOCAL ROLE eio_owner;

-- 1. -------------------------------------------------------------------------------
DROP POLICY site_inferences_engine ON site_inferences;
DROP POLICY server_mappings_engine ON server_mappings;
DROP POLICY ipam_findings_engine ON ipam_findings;
REVOKE INSERT, UPDATE, DELETE ON site_inferences, server_mappings, ipam_findings FROM eio_worker;

-- 2. -------------------------------------------------------------------------------
REVOKE DELETE ON job_steps FROM eio_worker;
ALTER TABLE job_steps ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_steps_read ON job_steps FOR SELECT TO eio_viewer USING (true);
CREATE POLICY job_steps_held_insert ON job_steps FOR INSERT TO eio_worker
    WITH CHECK (EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_id AND j.lease_login = session_user AND j.status = 'running'));
CREATE POLICY job_steps_held_update ON job_steps FOR UPDATE TO eio_worker
    USING (EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_id AND j.lease_login = session_user AND j.status = 'running'))
    WITH CHECK (EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_id AND j.lease_login = session_user AND j.status = 'running'));

-- 3. -------------------------------------------------------------------------------
-- As 0050's, with a server's iDRAC and OpenManage sites among its opinions.
CREATE OR REPLACE FUNCTION job_scope(p_plan jsonb, OUT cluster_ids uuid[], OUT site_ids uuid[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH m AS (SELECT coalesce(p_plan -> 'material', '{}'::jsonb) AS m),
    servers AS (
        SELECT p.id, p.idrac_id, p.ome_instance_id
        FROM m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.m -> 'servers') = 'array' THEN m.m -> 'servers' ELSE '[]' END) e
        JOIN physical_servers p ON upper(p.service_tag) = upper(e ->> 0) AND p.removed_at IS NULL
    ),
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
        -- A server: its own opinions, its iDRAC's and OpenManage's sites, and the host it is
        -- mapped to (with that host's).
        SELECT 'physical_server', s.id, h.cluster_id, vc.site_id
        FROM servers s
        LEFT JOIN server_mappings sm ON sm.physical_server_id = s.id AND sm.status = 'active'
        LEFT JOIN esxi_hosts h ON h.id = sm.esxi_host_id
        LEFT JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        UNION ALL
        SELECT 'physical_server', s.id, NULL, ie.site_id
        FROM servers s JOIN idrac_endpoints ie ON ie.id = s.idrac_id
        UNION ALL
        SELECT 'physical_server', s.id, NULL, o.site_id
        FROM servers s JOIN ome_instances o ON o.id = s.ome_instance_id
        UNION ALL
        SELECT 'esxi_host', h.id, h.cluster_id, vc.site_id
        FROM servers s
        JOIN server_mappings sm ON sm.physical_server_id = s.id AND sm.status = 'active'
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

-- 4. -------------------------------------------------------------------------------
-- As 0050's, and approving (not denying) a relaxed policy's job needs `relaxed_policy`
-- for every site it touches: the second person answers for skipping a safeguard too.
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
    IF p_decision = 'approved' AND job_type_is_disruptive(j.type) AND job_policy_is_relaxed(j.policy)
       AND NOT user_may_all(u, 'relaxed_policy', j.site_ids) THEN
        RAISE EXCEPTION 'permission denied: the job runs under the policy "%", which skips approval or allows stopping VMs; approving it needs the relaxed_policy capability',
            coalesce(j.policy ->> 'policy_name', 'its own')
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

-- 5. -------------------------------------------------------------------------------
-- Concurrency limits are an admin's decision like named policies, and audited the same way:
-- raising the per-cluster limit lets a rolling update take two hosts of a cluster down.
CREATE FUNCTION audit_concurrency_limit_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM record_audit('concurrency_limit.' || lower(TG_OP), 'concurrency_limit',
                         coalesce(NEW.id, OLD.id)::text,
                         jsonb_build_object('before', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                                            'after', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END));
    RETURN NULL;
END
$$;
CREATE TRIGGER concurrency_limits_audit AFTER INSERT OR UPDATE OR DELETE ON concurrency_limits
    FOR EACH ROW EXECUTE FUNCTION audit_concurrency_limit_change();

-- 6. -------------------------------------------------------------------------------
-- Jobs not finished yet get the scope 3. derives (a server's iDRAC and OpenManage sites
-- count now), as 0050 did for the scope it introduced.
UPDATE jobs j SET cluster_ids = s.cluster_ids, site_ids = s.site_ids
FROM jobs k CROSS JOIN LATERAL job_scope(k.plan) s
WHERE j.id = k.id AND k.plan IS NOT NULL
  AND k.status IN ('pending', 'awaiting_approval', 'scheduled', 'running', 'paused')
  AND (j.cluster_ids IS DISTINCT FROM s.cluster_ids OR j.site_ids IS DISTINCT FROM s.site_ids);
