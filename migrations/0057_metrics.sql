-- What `/metrics` (Prometheus) reads from the database, and the one fact it needs that
-- nothing recorded yet: a job lease that lapsed and another worker took over.
--
--   * job_lease_losses: one row each time `lease_jobs` re-leases a running job whose lease
--     lapsed (its worker died, hung or lost the database). A job handed back at shutdown
--     is not a loss: `job_hand_back` now stamps heartbeat_at with the expiry it sets, so a
--     handed-back lease ends exactly at its last heartbeat while a lapsed one ends a TTL
--     after it.
--   * eio_metrics(): aggregates only (counts, sums, histogram bucket counts, timestamps)
--     labelled with enum values and source names, never a row, an id, a login, an email, an
--     error text or a worker's host. SECURITY DEFINER so a server running as a worker login
--     reports the same numbers as one running as an admin; no login gains row access
--     through it.
SET LOCAL ROLE eio_owner;

CREATE TABLE job_lease_losses (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   uuid NOT NULL CONSTRAINT job_lease_losses_job_id_fkey REFERENCES jobs (id) ON DELETE CASCADE,
    -- The worker whose lease lapsed, and the one that took the job over.
    lost_by  text NOT NULL,
    taken_by text NOT NULL,
    -- The attempt the takeover started.
    attempt  integer NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_lease_losses_job_idx ON job_lease_losses (job_id);
GRANT SELECT ON job_lease_losses TO eio_viewer;

CREATE FUNCTION record_job_lease_loss() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO job_lease_losses (job_id, lost_by, taken_by, attempt)
    VALUES (NEW.id, OLD.lease_owner, NEW.lease_owner, NEW.attempts);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION record_job_lease_loss() FROM PUBLIC;

-- running → running with a new attempt is `lease_jobs` taking over a lapsed lease; a lease
-- that ends after its last heartbeat lapsed (a hand-back ends it at its heartbeat).
CREATE TRIGGER jobs_lease_lost AFTER UPDATE OF attempts ON jobs
    FOR EACH ROW
    WHEN (OLD.status = 'running' AND NEW.status = 'running' AND NEW.attempts > OLD.attempts
          AND OLD.lease_expires_at > OLD.heartbeat_at)
    EXECUTE FUNCTION record_job_lease_loss();

-- As in 0050, and the hand-back also stamps heartbeat_at = lease_expires_at (see above).
CREATE OR REPLACE FUNCTION job_hand_back(p_job uuid, p_worker text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM require_worker('handing a job back');
    UPDATE jobs SET lease_expires_at = now(), heartbeat_at = now()
    WHERE id = p_job AND lease_owner = p_worker AND lease_login = session_user AND status = 'running';
    RETURN FOUND;
END
$$;

-- Every database-derived sample of `/metrics`: (family, sample name, labels, value).
-- Families: eio_sync_runs_total, eio_sync_duration_seconds (histogram),
-- eio_sync_last_success_timestamp_seconds, eio_jobs, eio_job_queue_depth,
-- eio_job_leases_lost_total, eio_workers_alive, eio_findings_open. Finished runs of sources
-- that still exist count; job and finding families list every enum value (zero included).
CREATE FUNCTION eio_metrics()
RETURNS TABLE (family text, sample text, labels jsonb, value double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH src AS (
        SELECT 'vcenter'::source_kind AS source_type, id, name FROM vcenter_instances
        UNION ALL SELECT 'idrac'::source_kind, id, name FROM idrac_endpoints
        UNION ALL SELECT 'ome'::source_kind, id, name FROM ome_instances
    ),
    runs AS (
        SELECT s.source_type::text AS source_type, s.name AS source, r.kind::text AS kind,
               r.status::text AS outcome, r.finished_at,
               greatest(coalesce(r.duration_ms::float8 / 1000.0,
                                 extract(epoch FROM r.finished_at - r.started_at)::float8), 0) AS seconds
        FROM sync_runs r JOIN src s ON s.source_type = r.source_type AND s.id = r.source_id
        WHERE r.status <> 'running'
    ),
    bounds AS (
        SELECT unnest(ARRAY[1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600]::float8[]) AS le
    ),
    series AS (
        SELECT DISTINCT source_type, source, kind FROM runs
    ),
    -- One pass over the runs: each in the smallest bucket that holds it (NULL: +Inf only),
    -- then the cumulative counts per series by a window over the few buckets.
    per_bucket AS (
        SELECT source_type, source, kind, le, count(*) AS n
        FROM (SELECT r.source_type, r.source, r.kind, (SELECT min(b.le) FROM bounds b WHERE r.seconds <= b.le) AS le
              FROM runs r) x
        WHERE le IS NOT NULL
        GROUP BY source_type, source, kind, le
    ),
    cumulative AS (
        SELECT s.source_type, s.source, s.kind, b.le,
               sum(coalesce(p.n, 0)) OVER (PARTITION BY s.source_type, s.source, s.kind ORDER BY b.le) AS n
        FROM series s CROSS JOIN bounds b
        LEFT JOIN per_bucket p ON p.source_type = s.source_type AND p.source = s.source AND p.kind = s.kind
                              AND p.le = b.le
    ),
    job_counts AS (
        SELECT type, status, count(*) AS n FROM jobs GROUP BY type, status
    ),
    finding_counts AS (
        SELECT type, count(*) AS n FROM ipam_findings WHERE resolved_at IS NULL GROUP BY type
    )
    SELECT 'eio_sync_runs_total', 'eio_sync_runs_total',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind, 'outcome', outcome),
           count(*)::float8
    FROM runs GROUP BY source_type, source, kind, outcome
    UNION ALL
    SELECT 'eio_sync_duration_seconds', 'eio_sync_duration_seconds_bucket',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind, 'le', le::text),
           n::float8
    FROM cumulative
    UNION ALL
    SELECT 'eio_sync_duration_seconds', 'eio_sync_duration_seconds_bucket',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind, 'le', '+Inf'),
           count(*)::float8
    FROM runs GROUP BY source_type, source, kind
    UNION ALL
    SELECT 'eio_sync_duration_seconds', 'eio_sync_duration_seconds_sum',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind),
           sum(seconds)
    FROM runs GROUP BY source_type, source, kind
    UNION ALL
    SELECT 'eio_sync_duration_seconds', 'eio_sync_duration_seconds_count',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind),
           count(*)::float8
    FROM runs GROUP BY source_type, source, kind
    UNION ALL
    SELECT 'eio_sync_last_success_timestamp_seconds', 'eio_sync_last_success_timestamp_seconds',
           jsonb_build_object('source_type', source_type, 'source', source, 'kind', kind),
           extract(epoch FROM max(finished_at))::float8
    FROM runs WHERE outcome = 'succeeded' GROUP BY source_type, source, kind
    UNION ALL
    SELECT 'eio_jobs', 'eio_jobs', jsonb_build_object('type', t::text, 'status', st::text),
           coalesce(c.n, 0)::float8
    FROM unnest(enum_range(NULL::job_type)) t CROSS JOIN unnest(enum_range(NULL::job_status)) st
    LEFT JOIN job_counts c ON c.type = t AND c.status = st
    UNION ALL
    -- What `lease_jobs` would take now: pending, due, or running on a lapsed lease.
    SELECT 'eio_job_queue_depth', 'eio_job_queue_depth', '{}'::jsonb, count(*)::float8
    FROM jobs
    WHERE (status = 'pending'
           OR (status = 'scheduled' AND coalesce(run_at, now()) <= now())
           OR (status = 'running' AND lease_expires_at < now()))
      AND cancel_requested_at IS NULL
    UNION ALL
    SELECT 'eio_job_leases_lost_total', 'eio_job_leases_lost_total', '{}'::jsonb, count(*)::float8
    FROM job_lease_losses
    UNION ALL
    -- Alive as the dashboard says it: a heartbeat within 90 s, not stopped.
    SELECT 'eio_workers_alive', 'eio_workers_alive', '{}'::jsonb, count(*)::float8
    FROM worker_instances WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '90 seconds'
    UNION ALL
    SELECT 'eio_findings_open', 'eio_findings_open', jsonb_build_object('type', t::text),
           coalesce(c.n, 0)::float8
    FROM unnest(enum_range(NULL::finding_type)) t LEFT JOIN finding_counts c ON c.type = t
$$;
REVOKE ALL ON FUNCTION eio_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eio_metrics() TO eio_viewer, eio_worker;
