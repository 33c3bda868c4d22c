-- Rolling upgrades (issue 22). Migrations are additive (expand/contract): the previous
-- release keeps working on a schema one release ahead of it, so instances are upgraded
-- one at a time. What the previous release must not do is run jobs: a newer worker may
-- plan or resume them in ways it doesn't know. So every worker reads the schema version,
-- stops leasing when the database has a migration it doesn't know, and says which
-- release to install: the release that applied each migration is recorded here by
-- `eio migrate` (migrations applied before this table existed have no row).
--
-- Version numbers and release names are not sensitive: every application login reads
-- them, workers included (their `/readyz` and the lease guard need them).
GRANT SELECT ON TABLE _sqlx_migrations TO eio_worker;

SET LOCAL ROLE eio_owner;

CREATE TABLE schema_releases (
    version     bigint PRIMARY KEY,
    release     text NOT NULL CONSTRAINT schema_releases_release_format CHECK (release ~ '^[0-9A-Za-z.+~-]{1,64}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON schema_releases TO eio_viewer, eio_worker;
