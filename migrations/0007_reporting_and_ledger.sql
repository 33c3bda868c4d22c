-- Domain 6: Reporting (ReportDefinition → ReportExecution), and the sync ledger:
-- "snapshots, deltas and execution state". The inventory tables are the snapshot;
-- inventory_changes are the deltas; sync_runs are the execution state of each sync.
SET LOCAL ROLE eio_owner;

CREATE TYPE report_type AS ENUM (
    'inventory_summary', 'rvtools', 'firmware_compliance', 'server_mapping',
    'ipam_utilization', 'ipam_findings', 'job_history', 'credential_rotation'
);
CREATE TYPE report_format AS ENUM ('html', 'csv', 'json', 'xlsx');
CREATE TYPE report_status AS ENUM ('pending', 'generating', 'completed', 'failed');

CREATE TABLE report_definitions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CONSTRAINT report_definitions_name_key UNIQUE,
    type        report_type NOT NULL,
    -- Cron expression; NULL = run on demand only.
    schedule    text,
    formats     report_format[] NOT NULL DEFAULT '{html}'
                CONSTRAINT report_definitions_formats_nonempty CHECK (cardinality(formats) > 0),
    filters     jsonb NOT NULL DEFAULT '{}' CONSTRAINT report_definitions_filters_object CHECK (jsonb_typeof(filters) = 'object'),
    -- NULL = the reports folder under the application data directory.
    output_dir  text,
    enabled     boolean NOT NULL DEFAULT true,
    next_run_at timestamptz,
    created_by  uuid CONSTRAINT report_definitions_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_definitions_due_idx ON report_definitions (next_run_at) WHERE enabled AND schedule IS NOT NULL;
CREATE TRIGGER report_definitions_touch BEFORE UPDATE ON report_definitions
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE report_executions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    definition_id uuid CONSTRAINT report_executions_definition_id_fkey REFERENCES report_definitions (id) ON DELETE SET NULL,
    job_id        uuid CONSTRAINT report_executions_job_id_fkey REFERENCES jobs (id) ON DELETE SET NULL,
    type          report_type NOT NULL,
    status        report_status NOT NULL DEFAULT 'pending',
    format        report_format NOT NULL,
    filters       jsonb NOT NULL DEFAULT '{}',
    size_bytes    bigint CONSTRAINT report_executions_size_nonnegative CHECK (size_bytes >= 0),
    row_count     bigint,
    storage_path  text,
    requested_by  uuid CONSTRAINT report_executions_requested_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    duration_ms   bigint,
    error         text,
    CONSTRAINT report_executions_completed_has_file CHECK (
        status <> 'completed' OR (storage_path IS NOT NULL AND size_bytes IS NOT NULL)
    ),
    CONSTRAINT report_executions_failed_has_reason CHECK (status <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX report_executions_definition_idx ON report_executions (definition_id, created_at DESC);

-- ---------------------------------------------------------------------------------
-- Sync ledger.
CREATE TYPE source_kind AS ENUM ('vcenter', 'idrac', 'ome');
CREATE TYPE sync_kind AS ENUM ('full', 'delta');
CREATE TYPE change_kind AS ENUM ('created', 'updated', 'removed', 'restored');

CREATE TABLE sync_runs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_type source_kind NOT NULL,
    -- vcenter_instances.id / idrac_endpoints.id / ome_instances.id, by source_type.
    source_id   uuid NOT NULL,
    kind        sync_kind NOT NULL DEFAULT 'full',
    status      sync_outcome NOT NULL DEFAULT 'running',
    job_id      uuid CONSTRAINT sync_runs_job_id_fkey REFERENCES jobs (id) ON DELETE SET NULL,
    worker      text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_ms bigint,
    -- {"virtual_machines": {"seen": 1000, "created": 3, "updated": 10, "removed": 1}, ...}
    counts      jsonb NOT NULL DEFAULT '{}',
    -- SOAP/HTTP calls made against the source.
    api_calls   integer NOT NULL DEFAULT 0,
    error       text,
    CONSTRAINT sync_runs_failed_has_reason CHECK (status NOT IN ('failed', 'partial') OR error IS NOT NULL),
    CONSTRAINT sync_runs_finished_when_done CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX sync_runs_source_idx ON sync_runs (source_type, source_id, started_at DESC);

CREATE TABLE inventory_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sync_run_id uuid NOT NULL CONSTRAINT inventory_changes_sync_run_id_fkey REFERENCES sync_runs (id) ON DELETE CASCADE,
    entity_type entity_kind NOT NULL,
    entity_id   uuid NOT NULL,
    change      change_kind NOT NULL,
    -- {"field": [old, new], ...} for updates; the whole row for created/removed.
    diff        jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_changes_run_idx ON inventory_changes (sync_run_id);
CREATE INDEX inventory_changes_entity_idx ON inventory_changes (entity_type, entity_id, at DESC);
