-- Approving a plan with predicted blockers needs their acknowledgement (issue 20).
--
-- A plan that empties hosts lists, under `blockers`, what the synced inventory says will
-- keep DRS from doing it (a VM with a host CD-ROM, storage no other host reaches, a cluster
-- without room for one host's VMs…). The approver decides from the plan; approving one
-- with blockers without saying so is refused here, whatever the client, and the
-- acknowledgement is kept with the approval: which blockers, as the approver saw them.
--
--  1. `approvals.acknowledged_blockers`: the plan's blockers an approval acknowledged
--     (NULL when the plan had none, or for a denial).
--  2. `decide_approval` takes the acknowledgement; approving a plan whose `blockers` is a
--     non-empty array without it fails with `object_not_in_prerequisite_state` (55000),
--     naming how many. A plan whose `blockers` is not an array is refused the same way:
--     what can't be read can't be acknowledged.
--  3. `approve_job(job, comment, acknowledge_blockers, plan_hash)`: with the hash of the
--     plan the approver read, an approval of a job whose plan changed meanwhile (sent back
--     with a new plan, with new blockers) is refused (55000) instead of approving a plan
--     nobody read. `deny_job` is unchanged for its callers. The three-argument
--     `decide_approval` and two-argument `approve_job` go.
SET LOCAL ROLE eio_owner;

-- 1. -------------------------------------------------------------------------------
ALTER TABLE approvals ADD COLUMN acknowledged_blockers jsonb
    CONSTRAINT approvals_acknowledged_blockers_array
        CHECK (acknowledged_blockers IS NULL OR jsonb_typeof(acknowledged_blockers) = 'array');

-- 2. -------------------------------------------------------------------------------
DROP FUNCTION approve_job(uuid, text);
DROP FUNCTION deny_job(uuid, text);
DROP FUNCTION decide_approval(uuid, approval_decision, text);

CREATE FUNCTION decide_approval(p_job uuid, p_decision approval_decision, p_comment text,
                                p_acknowledge_blockers boolean, p_plan_hash text)
RETURNS jobs
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    j jobs;
    blockers jsonb;
    acknowledged jsonb;
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
    IF p_decision = 'approved' AND p_plan_hash IS NOT NULL AND p_plan_hash IS DISTINCT FROM j.plan_hash THEN
        RAISE EXCEPTION 'the plan changed since you read it: read it again before approving'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    blockers := j.plan -> 'blockers';
    IF p_decision = 'approved' AND blockers IS NOT NULL AND jsonb_typeof(blockers) <> 'null' THEN
        IF jsonb_typeof(blockers) <> 'array' THEN
            RAISE EXCEPTION 'the plan''s predicted blockers are unreadable: deny the job and plan it again'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF jsonb_array_length(blockers) > 0 THEN
            IF NOT coalesce(p_acknowledge_blockers, false) THEN
                RAISE EXCEPTION 'the plan predicts % blocker(s): approving it needs their acknowledgement',
                    jsonb_array_length(blockers)
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            acknowledged := blockers;
        END IF;
    END IF;
    INSERT INTO approvals (job_id, approver_user_id, decision, comment, plan_hash, acknowledged_blockers)
    VALUES (j.id, u.id, p_decision, p_comment, j.plan_hash, acknowledged);
    IF p_decision = 'approved' THEN
        UPDATE jobs SET approved_by_user = u.id,
                        status = CASE WHEN run_at IS NOT NULL AND run_at > now() THEN 'scheduled' ELSE 'pending' END::job_status
        WHERE id = j.id RETURNING * INTO j;
    ELSE
        UPDATE jobs SET status = 'cancelled', error = format('denied by %s', u.email)
        WHERE id = j.id RETURNING * INTO j;
    END IF;
    INSERT INTO job_events (job_id, level, message, data)
    VALUES (j.id, 'info',
            format('%s by %s', p_decision, u.email)
                || CASE WHEN acknowledged IS NOT NULL
                        THEN format(', acknowledging %s predicted blocker(s)', jsonb_array_length(acknowledged)) ELSE '' END,
            jsonb_build_object('decision', p_decision, 'comment', p_comment, 'plan_hash', j.plan_hash,
                               'acknowledged_blockers', acknowledged));
    PERFORM record_audit('job.' || CASE p_decision WHEN 'approved' THEN 'approve' ELSE 'deny' END,
                         'job', j.id::text,
                         jsonb_build_object('comment', p_comment,
                                            'acknowledged_blockers', coalesce(jsonb_array_length(acknowledged), 0)));
    RETURN j;
END
$$;

-- 3. -------------------------------------------------------------------------------
CREATE FUNCTION approve_job(p_job uuid, p_comment text DEFAULT NULL, p_acknowledge_blockers boolean DEFAULT false,
                            p_plan_hash text DEFAULT NULL)
RETURNS jobs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM decide_approval(p_job, 'approved', p_comment, p_acknowledge_blockers, p_plan_hash)
$$;

CREATE FUNCTION deny_job(p_job uuid, p_comment text DEFAULT NULL) RETURNS jobs
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM decide_approval(p_job, 'denied', p_comment, false, NULL)
$$;

REVOKE ALL ON FUNCTION decide_approval(uuid, approval_decision, text, boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION approve_job(uuid, text, boolean, text), deny_job(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION approve_job(uuid, text, boolean, text), deny_job(uuid, text) TO eio_approver;
