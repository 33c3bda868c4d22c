-- Domain 3: Inventory. vCenter (VCenterInstance → Datacenter → Cluster → ESXiHost →
-- VirtualMachine), Dell (IDRACEndpoint → PhysicalServer → FirmwareInventory), OME, and the
-- mapping between a physical server and the ESXi host running on it.
--
-- External systems are the source of truth: these rows are a cache the sync keeps in step.
-- Objects that vanish at the source get `removed_at`, never a silent DELETE, so history
-- and the change ledger stay meaningful. Deleting a *source* removes its cache (CASCADE).
SET LOCAL ROLE eio_owner;

CREATE TYPE vm_power_state AS ENUM ('powered_on', 'powered_off', 'suspended');
CREATE TYPE vm_tools_status AS ENUM ('ok', 'old', 'not_running', 'not_installed');
CREATE TYPE host_connection_state AS ENUM ('connected', 'disconnected', 'not_responding');
CREATE TYPE host_power_state AS ENUM ('powered_on', 'powered_off', 'standby', 'unknown');
CREATE TYPE idrac_generation AS ENUM ('iDRAC7', 'iDRAC8', 'iDRAC9');
CREATE TYPE idrac_driver AS ENUM ('redfish', 'wsman', 'racadm');
CREATE TYPE server_power_state AS ENUM ('on', 'off', 'powering_on', 'powering_off', 'unknown');
CREATE TYPE health_state AS ENUM ('ok', 'warning', 'critical', 'unknown');
CREATE TYPE mapping_method AS ENUM ('service_tag', 'uuid', 'naming', 'attribute', 'manual');
CREATE TYPE mapping_status AS ENUM ('active', 'ambiguous', 'rejected');
CREATE TYPE sync_outcome AS ENUM ('running', 'succeeded', 'partial', 'failed');

-- ---------------------------------------------------------------------------------
-- Sources. Credentials live in service_identities; TLS is verified by default and a
-- self-signed endpoint is trusted by pinning its SHA-256 certificate thumbprint.
CREATE TABLE vcenter_instances (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CONSTRAINT vcenter_instances_name_key UNIQUE
                        CONSTRAINT vcenter_instances_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    url                 text NOT NULL CONSTRAINT vcenter_instances_url_format CHECK (url ~ '^https?://[^\s/]+'),
    service_identity_id uuid NOT NULL CONSTRAINT vcenter_instances_service_identity_id_fkey
                        REFERENCES service_identities (id) ON DELETE RESTRICT,
    thumbprint_sha256   text CONSTRAINT vcenter_instances_thumbprint_format CHECK (thumbprint_sha256 ~ '^[0-9a-f]{64}$'),
    insecure            boolean NOT NULL DEFAULT false,
    site_id             uuid CONSTRAINT vcenter_instances_site_id_fkey REFERENCES sites (id) ON DELETE SET NULL,
    routing_domain_id   uuid NOT NULL DEFAULT default_routing_domain_id()
                        CONSTRAINT vcenter_instances_routing_domain_id_fkey REFERENCES routing_domains (id) ON DELETE RESTRICT,
    enabled             boolean NOT NULL DEFAULT true,
    instance_uuid       text,
    api_version         text,
    product             text,
    last_sync_at        timestamptz,
    last_sync_status    sync_outcome,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vcenter_instances_tls_choice CHECK (NOT (insecure AND thumbprint_sha256 IS NOT NULL))
);
CREATE TRIGGER vcenter_instances_touch BEFORE UPDATE ON vcenter_instances
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE idrac_endpoints (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CONSTRAINT idrac_endpoints_name_key UNIQUE
                        CONSTRAINT idrac_endpoints_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    url                 text NOT NULL CONSTRAINT idrac_endpoints_url_format CHECK (url ~ '^https?://[^\s/]+'),
    service_identity_id uuid NOT NULL CONSTRAINT idrac_endpoints_service_identity_id_fkey
                        REFERENCES service_identities (id) ON DELETE RESTRICT,
    generation          idrac_generation,
    firmware_version    text,
    manager_model       text,
    -- Probed, not assumed: {"sessions": true, "expand": false, "simpleUpdate": true, ...}
    capabilities        jsonb NOT NULL DEFAULT '{}' CONSTRAINT idrac_endpoints_capabilities_object CHECK (jsonb_typeof(capabilities) = 'object'),
    driver_preference   idrac_driver,
    driver_reason       text,
    -- The operator's choice (`--driver`); NULL = auto.
    driver_override     idrac_driver,
    -- {"min_tls_version": "1.2", "pinned_sha256": "...", "note": "..."}
    tls_constraints     jsonb NOT NULL DEFAULT '{}' CONSTRAINT idrac_endpoints_tls_constraints_object CHECK (jsonb_typeof(tls_constraints) = 'object'),
    thumbprint_sha256   text CONSTRAINT idrac_endpoints_thumbprint_format CHECK (thumbprint_sha256 ~ '^[0-9a-f]{64}$'),
    insecure            boolean NOT NULL DEFAULT false,
    site_id             uuid CONSTRAINT idrac_endpoints_site_id_fkey REFERENCES sites (id) ON DELETE SET NULL,
    routing_domain_id   uuid NOT NULL DEFAULT default_routing_domain_id()
                        CONSTRAINT idrac_endpoints_routing_domain_id_fkey REFERENCES routing_domains (id) ON DELETE RESTRICT,
    enabled             boolean NOT NULL DEFAULT true,
    last_sync_at        timestamptz,
    last_sync_status    sync_outcome,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idrac_endpoints_tls_choice CHECK (NOT (insecure AND thumbprint_sha256 IS NOT NULL))
);
CREATE INDEX idrac_endpoints_site_id_idx ON idrac_endpoints (site_id);
CREATE TRIGGER idrac_endpoints_touch BEFORE UPDATE ON idrac_endpoints
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE ome_instances (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CONSTRAINT ome_instances_name_key UNIQUE
                        CONSTRAINT ome_instances_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    url                 text NOT NULL CONSTRAINT ome_instances_url_format CHECK (url ~ '^https?://[^\s/]+'),
    service_identity_id uuid NOT NULL CONSTRAINT ome_instances_service_identity_id_fkey
                        REFERENCES service_identities (id) ON DELETE RESTRICT,
    thumbprint_sha256   text CONSTRAINT ome_instances_thumbprint_format CHECK (thumbprint_sha256 ~ '^[0-9a-f]{64}$'),
    insecure            boolean NOT NULL DEFAULT false,
    site_id             uuid CONSTRAINT ome_instances_site_id_fkey REFERENCES sites (id) ON DELETE SET NULL,
    routing_domain_id   uuid NOT NULL DEFAULT default_routing_domain_id()
                        CONSTRAINT ome_instances_routing_domain_id_fkey REFERENCES routing_domains (id) ON DELETE RESTRICT,
    enabled             boolean NOT NULL DEFAULT true,
    version             text,
    last_sync_at        timestamptz,
    last_sync_status    sync_outcome,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ome_instances_tls_choice CHECK (NOT (insecure AND thumbprint_sha256 IS NOT NULL))
);
CREATE TRIGGER ome_instances_touch BEFORE UPDATE ON ome_instances
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- ---------------------------------------------------------------------------------
-- vCenter inventory. Every object is keyed by (vcenter_id, moid): a managed object id is
-- only unique within its vCenter.
CREATE TABLE datacenters (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vcenter_id  uuid NOT NULL CONSTRAINT datacenters_vcenter_id_fkey REFERENCES vcenter_instances (id) ON DELETE CASCADE,
    moid        text NOT NULL,
    name        text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_sync   timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    CONSTRAINT datacenters_vcenter_moid_key UNIQUE (vcenter_id, moid)
);
CREATE INDEX datacenters_name_trgm ON datacenters USING gin (name gin_trgm_ops);

CREATE TABLE clusters (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vcenter_id     uuid NOT NULL CONSTRAINT clusters_vcenter_id_fkey REFERENCES vcenter_instances (id) ON DELETE CASCADE,
    datacenter_id  uuid CONSTRAINT clusters_datacenter_id_fkey REFERENCES datacenters (id) ON DELETE SET NULL,
    moid           text NOT NULL,
    name           text NOT NULL,
    drs_enabled    boolean,
    -- fullyAutomated | partiallyAutomated | manual, as vCenter reports it.
    drs_behavior   text,
    ha_enabled     boolean,
    -- Production clusters default job policies to require_approval.
    is_production  boolean NOT NULL DEFAULT true,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    last_sync      timestamptz NOT NULL DEFAULT now(),
    removed_at     timestamptz,
    CONSTRAINT clusters_vcenter_moid_key UNIQUE (vcenter_id, moid)
);
CREATE INDEX clusters_datacenter_id_idx ON clusters (datacenter_id);
CREATE INDEX clusters_name_trgm ON clusters USING gin (name gin_trgm_ops);

CREATE TABLE esxi_hosts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vcenter_id          uuid NOT NULL CONSTRAINT esxi_hosts_vcenter_id_fkey REFERENCES vcenter_instances (id) ON DELETE CASCADE,
    datacenter_id       uuid CONSTRAINT esxi_hosts_datacenter_id_fkey REFERENCES datacenters (id) ON DELETE SET NULL,
    cluster_id          uuid CONSTRAINT esxi_hosts_cluster_id_fkey REFERENCES clusters (id) ON DELETE SET NULL,
    moid                text NOT NULL,
    name                text NOT NULL,
    hardware_uuid       uuid,
    vendor              text,
    model               text,
    serial_number       text,
    -- Dell service tag from otherIdentifyingInfo (ServiceTag / EnclosureSerialNumberTag).
    service_tag         text,
    esxi_version        text,
    esxi_build          text,
    connection_state    host_connection_state,
    power_state         host_power_state,
    in_maintenance_mode boolean NOT NULL DEFAULT false,
    management_ips      inet[] NOT NULL DEFAULT '{}',
    cpu_model           text,
    cpu_cores           integer,
    cpu_threads         integer,
    memory_mb           bigint,
    tags                text[] NOT NULL DEFAULT '{}',
    custom_attributes   jsonb NOT NULL DEFAULT '{}' CONSTRAINT esxi_hosts_custom_attributes_object CHECK (jsonb_typeof(custom_attributes) = 'object'),
    first_seen          timestamptz NOT NULL DEFAULT now(),
    last_sync           timestamptz NOT NULL DEFAULT now(),
    removed_at          timestamptz,
    CONSTRAINT esxi_hosts_vcenter_moid_key UNIQUE (vcenter_id, moid)
);
CREATE INDEX esxi_hosts_cluster_id_idx ON esxi_hosts (cluster_id);
CREATE INDEX esxi_hosts_datacenter_id_idx ON esxi_hosts (datacenter_id);
CREATE INDEX esxi_hosts_service_tag_idx ON esxi_hosts (upper(service_tag)) WHERE service_tag IS NOT NULL;
CREATE INDEX esxi_hosts_hardware_uuid_idx ON esxi_hosts (hardware_uuid) WHERE hardware_uuid IS NOT NULL;
CREATE INDEX esxi_hosts_name_trgm ON esxi_hosts USING gin (name gin_trgm_ops);

CREATE TABLE virtual_machines (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vcenter_id        uuid NOT NULL CONSTRAINT virtual_machines_vcenter_id_fkey REFERENCES vcenter_instances (id) ON DELETE CASCADE,
    datacenter_id     uuid CONSTRAINT virtual_machines_datacenter_id_fkey REFERENCES datacenters (id) ON DELETE SET NULL,
    cluster_id        uuid CONSTRAINT virtual_machines_cluster_id_fkey REFERENCES clusters (id) ON DELETE SET NULL,
    host_id           uuid CONSTRAINT virtual_machines_host_id_fkey REFERENCES esxi_hosts (id) ON DELETE SET NULL,
    moid              text NOT NULL,
    -- BIOS uuid (config.uuid). Not unique: clones and restores share it.
    uuid              uuid,
    instance_uuid     uuid,
    name              text NOT NULL,
    folder_path       text,
    vcpu              integer CONSTRAINT virtual_machines_vcpu_positive CHECK (vcpu > 0),
    memory_mb         integer CONSTRAINT virtual_machines_memory_mb_positive CHECK (memory_mb >= 0),
    power_state       vm_power_state,
    tools_status      vm_tools_status,
    guest_os          text,
    guest_hostname    text,
    -- [{"mac": "00:50:56:...", "network": "VM Network", "connected": true, "label": "Network adapter 1"}]
    nics              jsonb NOT NULL DEFAULT '[]' CONSTRAINT virtual_machines_nics_array CHECK (jsonb_typeof(nics) = 'array'),
    -- [{"ip": "10.1.2.3", "confidence": 0.9, "mac": "00:50:56:..."}]
    guest_ips         jsonb NOT NULL DEFAULT '[]' CONSTRAINT virtual_machines_guest_ips_array CHECK (jsonb_typeof(guest_ips) = 'array'),
    tags              text[] NOT NULL DEFAULT '{}',
    custom_attributes jsonb NOT NULL DEFAULT '{}' CONSTRAINT virtual_machines_custom_attributes_object CHECK (jsonb_typeof(custom_attributes) = 'object'),
    notes             text,
    has_snapshot      boolean NOT NULL DEFAULT false,
    snapshot_count    integer NOT NULL DEFAULT 0,
    is_template       boolean NOT NULL DEFAULT false,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_sync         timestamptz NOT NULL DEFAULT now(),
    removed_at        timestamptz,
    CONSTRAINT virtual_machines_vcenter_moid_key UNIQUE (vcenter_id, moid)
);
CREATE INDEX virtual_machines_host_id_idx ON virtual_machines (host_id);
CREATE INDEX virtual_machines_cluster_id_idx ON virtual_machines (cluster_id);
CREATE INDEX virtual_machines_uuid_idx ON virtual_machines (uuid);
CREATE INDEX virtual_machines_name_trgm ON virtual_machines USING gin (name gin_trgm_ops);
CREATE INDEX virtual_machines_tags_gin ON virtual_machines USING gin (tags);

-- ---------------------------------------------------------------------------------
-- Dell inventory.
CREATE TABLE physical_servers (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idrac_id         uuid CONSTRAINT physical_servers_idrac_id_fkey REFERENCES idrac_endpoints (id) ON DELETE SET NULL
                     CONSTRAINT physical_servers_idrac_id_key UNIQUE,
    ome_instance_id  uuid CONSTRAINT physical_servers_ome_instance_id_fkey REFERENCES ome_instances (id) ON DELETE SET NULL,
    ome_device_id    bigint,
    service_tag      text,
    system_uuid      uuid,
    manufacturer     text,
    model            text,
    bios_version     text,
    power_state      server_power_state NOT NULL DEFAULT 'unknown',
    health           health_state NOT NULL DEFAULT 'unknown',
    cpu_model        text,
    cpu_count        integer,
    memory_gib       integer,
    hostname         text,
    idrac_firmware   text,
    idrac_mac        macaddr,
    idrac_ip         inet,
    first_seen       timestamptz NOT NULL DEFAULT now(),
    last_sync        timestamptz NOT NULL DEFAULT now(),
    removed_at       timestamptz,
    CONSTRAINT physical_servers_has_source CHECK (idrac_id IS NOT NULL OR ome_instance_id IS NOT NULL OR removed_at IS NOT NULL),
    CONSTRAINT physical_servers_ome_device_key UNIQUE (ome_instance_id, ome_device_id)
);
-- A Dell service tag names one chassis, whichever source reported it.
CREATE UNIQUE INDEX physical_servers_service_tag_key ON physical_servers (upper(service_tag)) WHERE service_tag IS NOT NULL;
CREATE INDEX physical_servers_system_uuid_idx ON physical_servers (system_uuid) WHERE system_uuid IS NOT NULL;
CREATE INDEX physical_servers_hostname_trgm ON physical_servers USING gin (hostname gin_trgm_ops);
CREATE INDEX physical_servers_service_tag_trgm ON physical_servers USING gin (service_tag gin_trgm_ops);
CREATE INDEX physical_servers_idrac_ip_gist ON physical_servers USING gist (idrac_ip inet_ops);

CREATE TABLE firmware_inventory (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    server_id     uuid NOT NULL CONSTRAINT firmware_inventory_server_id_fkey REFERENCES physical_servers (id) ON DELETE CASCADE,
    -- Fully qualified device descriptor, e.g. NIC.Integrated.1-1-1, BIOS.Setup.1-1.
    fqdd          text NOT NULL,
    -- Dell component id from Installed-<ComponentID>-<Version>__<FQDD>.
    component_id  text,
    name          text NOT NULL,
    version       text NOT NULL,
    category      text,
    updateable    boolean NOT NULL DEFAULT true,
    -- redfish | wsman | racadm | ome: which path reported it.
    reported_by   text NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_sync     timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz,
    CONSTRAINT firmware_inventory_server_fqdd_key UNIQUE (server_id, fqdd)
);
CREATE INDEX firmware_inventory_component_id_idx ON firmware_inventory (component_id);

CREATE TABLE server_mappings (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idrac_id           uuid CONSTRAINT server_mappings_idrac_id_fkey REFERENCES idrac_endpoints (id) ON DELETE CASCADE,
    physical_server_id uuid NOT NULL CONSTRAINT server_mappings_physical_server_id_fkey REFERENCES physical_servers (id) ON DELETE CASCADE,
    esxi_host_id       uuid NOT NULL CONSTRAINT server_mappings_esxi_host_id_fkey REFERENCES esxi_hosts (id) ON DELETE CASCADE,
    confidence         real NOT NULL CONSTRAINT server_mappings_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    method             mapping_method NOT NULL,
    status             mapping_status NOT NULL DEFAULT 'active',
    -- Which facts matched: {"service_tag": "ABC1234", "also": ["uuid"]}
    evidence           jsonb NOT NULL DEFAULT '{}',
    -- Set when two independent methods agree.
    verified_at        timestamptz,
    created_by         uuid CONSTRAINT server_mappings_created_by_fkey REFERENCES users (id) ON DELETE RESTRICT,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT server_mappings_pair_key UNIQUE (physical_server_id, esxi_host_id),
    CONSTRAINT server_mappings_manual_has_author CHECK (method <> 'manual' OR created_by IS NOT NULL)
);
-- At most one active mapping per server and per host; ambiguity is recorded as such.
CREATE UNIQUE INDEX server_mappings_active_server_key ON server_mappings (physical_server_id) WHERE status = 'active';
CREATE UNIQUE INDEX server_mappings_active_host_key ON server_mappings (esxi_host_id) WHERE status = 'active';
CREATE INDEX server_mappings_idrac_id_idx ON server_mappings (idrac_id);
CREATE TRIGGER server_mappings_touch BEFORE UPDATE ON server_mappings
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
