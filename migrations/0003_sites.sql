-- Domain 2: Sites & Geography. Region → Country → Site, and the inferences that place
-- every host, VM, server and address at a site with a stated confidence and evidence.
SET LOCAL ROLE eio_owner;

CREATE TYPE site_status AS ENUM ('active', 'maintenance', 'offline');
CREATE TYPE inference_method AS ENUM ('vcenter', 'cidr', 'vlan', 'dns', 'manual');
-- Things the ledger and the inferences point at (no polymorphic foreign keys exist, so
-- the kind travels with the id).
CREATE TYPE entity_kind AS ENUM (
    'vcenter_instance', 'datacenter', 'cluster', 'esxi_host', 'virtual_machine',
    'idrac_endpoint', 'physical_server', 'firmware_component', 'ome_instance',
    'ip_observation', 'server_mapping'
);

CREATE TABLE regions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code       text NOT NULL CONSTRAINT regions_code_key UNIQUE
               CONSTRAINT regions_code_format CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,31}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE countries (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    region_id  uuid NOT NULL CONSTRAINT countries_region_id_fkey REFERENCES regions (id) ON DELETE RESTRICT,
    iso_code   char(2) NOT NULL CONSTRAINT countries_iso_code_key UNIQUE
               CONSTRAINT countries_iso_code_format CHECK (iso_code ~ '^[A-Z]{2}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX countries_region_id_idx ON countries (region_id);

CREATE TABLE sites (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    country_id  uuid NOT NULL CONSTRAINT sites_country_id_fkey REFERENCES countries (id) ON DELETE RESTRICT,
    code        text NOT NULL CONSTRAINT sites_code_key UNIQUE
                CONSTRAINT sites_code_format CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
    name        text,
    timezone    text NOT NULL DEFAULT 'UTC',
    status      site_status NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_country_id_idx ON sites (country_id);
CREATE TRIGGER sites_touch BEFORE UPDATE ON sites FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- A timezone PostgreSQL doesn't know would break every local-time rendering later.
CREATE FUNCTION check_site_timezone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'unknown timezone "%"', NEW.timezone
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sites_timezone_known',
                  HINT = 'use an IANA name such as America/New_York or Europe/Berlin';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER sites_timezone_known BEFORE INSERT OR UPDATE OF timezone ON sites
    FOR EACH ROW EXECUTE FUNCTION check_site_timezone();

CREATE TABLE site_inferences (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type entity_kind NOT NULL,
    entity_id   uuid NOT NULL,
    site_id     uuid NOT NULL CONSTRAINT site_inferences_site_id_fkey REFERENCES sites (id) ON DELETE CASCADE,
    confidence  real NOT NULL CONSTRAINT site_inferences_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    method      inference_method NOT NULL,
    -- Which rule, which prefix, which name: enough for an operator to see why.
    evidence    jsonb NOT NULL DEFAULT '{}',
    created_by  uuid CONSTRAINT site_inferences_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- One opinion per method per entity; the best one wins when read.
    CONSTRAINT site_inferences_entity_method_key UNIQUE (entity_type, entity_id, method, site_id)
);
CREATE INDEX site_inferences_entity_idx ON site_inferences (entity_type, entity_id);
CREATE INDEX site_inferences_site_id_idx ON site_inferences (site_id);
CREATE TRIGGER site_inferences_touch BEFORE UPDATE ON site_inferences
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
