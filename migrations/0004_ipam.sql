-- Domain 4: IPAM. Routing domains (VRF semantics: the same prefix may exist in two
-- domains), prefixes, planned assignments, what the connectors observed, and findings.
-- Addresses are inet/cidr with GiST inet_ops indexes so containment (>>=, <<=) is indexed.
SET LOCAL ROLE eio_owner;

CREATE TYPE prefix_status AS ENUM ('active', 'reserved', 'deprecated');
CREATE TYPE assignment_status AS ENUM ('planned', 'reserved');
CREATE TYPE observation_source AS ENUM ('vcenter_vm', 'esxi_mgmt', 'idrac_mgmt');
CREATE TYPE finding_type AS ENUM (
    'duplicate_usage', 'seen_not_planned', 'planned_not_seen', 'outside_any_prefix',
    'mac_conflict', 'prefix_over_threshold', 'credential_rotation_due'
);
CREATE TYPE finding_severity AS ENUM ('info', 'warning', 'error');

CREATE TABLE routing_domains (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CONSTRAINT routing_domains_name_key UNIQUE
                CONSTRAINT routing_domains_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Everything observed lands in a routing domain; sources default to this one.
INSERT INTO routing_domains (name, description) VALUES ('default', 'Global routing table');

CREATE FUNCTION default_routing_domain_id() RETURNS uuid
LANGUAGE sql STABLE AS $$ SELECT id FROM routing_domains WHERE name = 'default' $$;

CREATE TABLE prefixes (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    routing_domain_id uuid NOT NULL CONSTRAINT prefixes_routing_domain_id_fkey
                      REFERENCES routing_domains (id) ON DELETE RESTRICT,
    cidr              cidr NOT NULL,
    site_id           uuid CONSTRAINT prefixes_site_id_fkey REFERENCES sites (id) ON DELETE SET NULL,
    vlan_id           integer CONSTRAINT prefixes_vlan_id_range CHECK (vlan_id BETWEEN 1 AND 4094),
    status            prefix_status NOT NULL DEFAULT 'active',
    description       text,
    -- Utilization (planned and observed) above this fraction raises a finding.
    utilization_threshold real NOT NULL DEFAULT 0.9
                      CONSTRAINT prefixes_utilization_threshold_range CHECK (utilization_threshold > 0 AND utilization_threshold <= 1),
    created_by        uuid CONSTRAINT prefixes_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT prefixes_domain_cidr_key UNIQUE (routing_domain_id, cidr)
);
CREATE INDEX prefixes_cidr_gist ON prefixes USING gist (cidr inet_ops);
CREATE INDEX prefixes_site_id_idx ON prefixes (site_id);
CREATE TRIGGER prefixes_touch BEFORE UPDATE ON prefixes FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE ip_assignments (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    routing_domain_id uuid NOT NULL CONSTRAINT ip_assignments_routing_domain_id_fkey
                      REFERENCES routing_domains (id) ON DELETE RESTRICT,
    prefix_id         uuid CONSTRAINT ip_assignments_prefix_id_fkey REFERENCES prefixes (id) ON DELETE SET NULL,
    -- A single address (/32, /128) or a planned block.
    address           inet NOT NULL,
    status            assignment_status NOT NULL DEFAULT 'planned',
    mac_address       macaddr,
    hostname          text,
    description       text,
    created_by        uuid CONSTRAINT ip_assignments_created_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ip_assignments_domain_address_key UNIQUE (routing_domain_id, address)
);
CREATE INDEX ip_assignments_address_gist ON ip_assignments USING gist (address inet_ops);
CREATE INDEX ip_assignments_prefix_id_idx ON ip_assignments (prefix_id);
CREATE TRIGGER ip_assignments_touch BEFORE UPDATE ON ip_assignments
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE ip_observations (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    routing_domain_id uuid NOT NULL CONSTRAINT ip_observations_routing_domain_id_fkey
                      REFERENCES routing_domains (id) ON DELETE RESTRICT,
    address           inet NOT NULL CONSTRAINT ip_observations_address_is_host
                      CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    source            observation_source NOT NULL,
    mac_address       macaddr,
    confidence        real NOT NULL CONSTRAINT ip_observations_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    -- What carried the address (a VM, a host's vmkernel NIC, an iDRAC).
    entity_type       entity_kind NOT NULL,
    entity_id         uuid NOT NULL,
    hostname          text,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz NOT NULL DEFAULT now(),
    -- Set when the carrier stopped reporting the address; kept for history and findings.
    gone_at           timestamptz,
    CONSTRAINT ip_observations_identity_key UNIQUE (routing_domain_id, address, source, entity_id)
);
CREATE INDEX ip_observations_address_gist ON ip_observations USING gist (address inet_ops);
CREATE INDEX ip_observations_entity_idx ON ip_observations (entity_type, entity_id);
CREATE INDEX ip_observations_mac_idx ON ip_observations (mac_address) WHERE mac_address IS NOT NULL;

CREATE TABLE ipam_findings (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type              finding_type NOT NULL,
    severity          finding_severity NOT NULL,
    -- Stable identity of the condition (e.g. "default/10.0.0.5"), so a finding that
    -- clears and returns reopens the same row instead of piling up duplicates.
    subject_key       text NOT NULL,
    routing_domain_id uuid CONSTRAINT ipam_findings_routing_domain_id_fkey REFERENCES routing_domains (id) ON DELETE CASCADE,
    prefix_id         uuid CONSTRAINT ipam_findings_prefix_id_fkey REFERENCES prefixes (id) ON DELETE CASCADE,
    address           inet,
    message           text NOT NULL,
    details           jsonb NOT NULL DEFAULT '{}',
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    reopened_count    integer NOT NULL DEFAULT 0,
    acknowledged_at   timestamptz,
    acknowledged_by   uuid CONSTRAINT ipam_findings_acknowledged_by_fkey REFERENCES users (id) ON DELETE RESTRICT,
    acknowledge_note  text,
    CONSTRAINT ipam_findings_subject_key UNIQUE (type, subject_key),
    CONSTRAINT ipam_findings_ack_consistent CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE INDEX ipam_findings_open_idx ON ipam_findings (severity, type) WHERE resolved_at IS NULL;
CREATE INDEX ipam_findings_address_gist ON ipam_findings USING gist (address inet_ops);
