-- Firmware to a baseline (issue 20): a rolling update that brings every component of a
-- cluster's servers to a baseline, each host once in maintenance mode and restarted once.
--
-- A baseline is OME's (synced: `firmware_baselines` and `firmware_compliance`) or one
-- defined in EIO, for estates without OME or for a tighter set than Dell's catalog:
--
--  1. `eio_baselines` and `eio_baseline_components`: per component (an FQDD prefix) the
--     version the baseline wants and the Dell Update Package that installs it, found under
--     the baseline's `repository` (a directory on the workers' disk or an http(s) URL)
--     unless it is itself absolute. Admins define them (they decide what is flashed onto
--     servers); everyone who can read inventory can read them. Workers never write them:
--     a worker login can't change what a baseline installs. Every change is audited, by
--     the database, with the login that made it.
--  2. `firmware_compliance.package`: OME's path of the package for a component that is
--     behind (its `Path` in the compliance report, relative to the catalog's repository).
SET LOCAL ROLE eio_owner;

-- 1. -------------------------------------------------------------------------------
CREATE TABLE eio_baselines (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CONSTRAINT eio_baselines_name_present CHECK (btrim(name) <> ''),
    description text,
    -- Where the packages are: a directory on the workers' disk or an http(s) URL prefix.
    repository  text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX eio_baselines_name_key ON eio_baselines (lower(name));

CREATE TABLE eio_baseline_components (
    baseline_id     uuid NOT NULL CONSTRAINT eio_baseline_components_baseline_id_fkey
                        REFERENCES eio_baselines (id) ON DELETE CASCADE,
    -- An FQDD prefix: BIOS.Setup, iDRAC.Embedded, NIC.Integrated.1-1.
    component       text NOT NULL CONSTRAINT eio_baseline_components_component_present CHECK (btrim(component) <> ''),
    version         text NOT NULL CONSTRAINT eio_baseline_components_version_present CHECK (btrim(version) <> ''),
    -- The package: relative to the baseline's repository, or an absolute path or URL.
    package         text NOT NULL CONSTRAINT eio_baseline_components_package_present CHECK (btrim(package) <> ''),
    -- Whether installing it restarts the server (everything but the iDRAC and OS-side packs).
    reboot_required boolean NOT NULL DEFAULT true,
    PRIMARY KEY (baseline_id, component)
);

-- Who changed what a baseline installs, whatever the client.
CREATE FUNCTION audit_eio_baseline_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
BEGIN
    PERFORM record_audit('firmware_baseline.' || lower(TG_OP), TG_TABLE_NAME, coalesce(r ->> 'baseline_id', r ->> 'id'),
                         jsonb_build_object('before', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                                            'after', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END));
    RETURN NULL;
END
$$;
CREATE TRIGGER eio_baselines_audit AFTER INSERT OR UPDATE OR DELETE ON eio_baselines
    FOR EACH ROW EXECUTE FUNCTION audit_eio_baseline_change();
CREATE TRIGGER eio_baseline_components_audit AFTER INSERT OR UPDATE OR DELETE ON eio_baseline_components
    FOR EACH ROW EXECUTE FUNCTION audit_eio_baseline_change();

GRANT SELECT ON eio_baselines, eio_baseline_components TO eio_viewer;
GRANT INSERT, UPDATE, DELETE ON eio_baselines, eio_baseline_components TO eio_admin;

-- 2. -------------------------------------------------------------------------------
ALTER TABLE firmware_compliance ADD COLUMN package text;
GRANT INSERT (package), UPDATE (package) ON firmware_compliance TO eio_worker;
