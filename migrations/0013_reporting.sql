-- Reporting, continued (0007 created the tables, 0008 their grants and row-level security).
--
--   * A scheduled run is a `report` job; the engine may run a job again after a crash, so
--     one job yields at most one execution per format: unique (job_id, format). Runs
--     that are not jobs have no job_id, and NULLs never collide.
--   * A csv rendering of a multi-sheet report writes one file per sheet: `files` lists
--     every file an execution wrote (`storage_path` stays the first one).
--   * History is read newest first.
SET LOCAL ROLE eio_owner;

ALTER TABLE report_executions
    ADD CONSTRAINT report_executions_job_format_key UNIQUE (job_id, format);

ALTER TABLE report_executions
    ADD COLUMN files text[] NOT NULL DEFAULT '{}';

CREATE INDEX report_executions_created_idx ON report_executions (created_at DESC);
