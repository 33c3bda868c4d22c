-- What keeps DRS from emptying a host, synced (issue 20): a job's plan judges an evacuation
-- from the inventory with the same rule the run-time gate applies to what it reads live
-- (`eio_connectors::vcenter::mobility`), so the facts that rule needs are kept here.
--
--  * virtual_machines.mobility: the VM's `VmMobility` as JSON — devices that pin it to its
--    host (passthrough, USB of the host, a connected host CD-ROM, floppy, serial or parallel
--    port: {"reason", "label", "key"}), the moids of its datastores, its fault tolerance
--    state and its CPU and memory reservations. '{}' until a sync has read them.
--  * clusters.drs: the cluster's `ClusterDrs` as JSON, from its whole configurationEx (DRS
--    enabled and automation level, per-VM overrides, mandatory VM/Host rules and their
--    groups, HA admission control). NULL: not read yet.
--  * esxi_hosts.cpu_mhz: the speed of one core (summary.hardware.cpuMhz), for the capacity
--    the rest of a cluster offers.
--  * datastores: each vCenter's datastores and the hosts that mount them, to tell storage
--    only one host reaches. Keyed by (vcenter_id, moid) like the other vCenter objects; a
--    datastore the vCenter no longer reports is deleted (nothing refers to its rows, and
--    the ledger does not track datastores).
--
-- Grants as the vCenter inventory tables have them (0008): viewers read, workers write;
-- no row-level security, as on those tables. The JSON shapes are the connector's serde
-- ones: fields are only ever added (with defaults), never renamed.
SET LOCAL ROLE eio_owner;

ALTER TABLE virtual_machines
    ADD COLUMN mobility jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT virtual_machines_mobility_object CHECK (jsonb_typeof(mobility) = 'object');
COMMENT ON COLUMN virtual_machines.mobility IS
    'what decides whether DRS can move it: {"devices": [{"reason", "label", "key"}], "datastores": [moid], "fault_tolerance", "memory_reservation_mb", "cpu_reservation_mhz"}';

ALTER TABLE clusters
    ADD COLUMN drs jsonb
        CONSTRAINT clusters_drs_object CHECK (drs IS NULL OR jsonb_typeof(drs) = 'object');
COMMENT ON COLUMN clusters.drs IS
    'configurationEx as the evacuation rule reads it: {"enabled", "behavior", "vm_overrides", "rules", "vm_groups", "host_groups", "ha"}; NULL until synced';

ALTER TABLE esxi_hosts ADD COLUMN cpu_mhz integer;
COMMENT ON COLUMN esxi_hosts.cpu_mhz IS 'summary.hardware.cpuMhz: the speed of one core';

CREATE TABLE datastores (
    vcenter_id           uuid NOT NULL CONSTRAINT datastores_vcenter_id_fkey REFERENCES vcenter_instances (id) ON DELETE CASCADE,
    moid                 text NOT NULL,
    name                 text NOT NULL,
    -- Moids of the hosts that mount it (Datastore.host); NULL when vCenter did not say.
    host_moids           text[],
    -- summary.multipleHostAccess: what to go by when the mounts are not known.
    multiple_host_access boolean,
    first_seen           timestamptz NOT NULL DEFAULT now(),
    -- When the row last changed (a sync leaves unchanged rows alone; every live row was
    -- confirmed at vcenter_instances.last_full_sync_at).
    last_sync            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT datastores_pkey PRIMARY KEY (vcenter_id, moid)
);
COMMENT ON TABLE datastores IS 'each vCenter''s datastores and the hosts that mount them, kept by the vCenter sync';

GRANT SELECT ON datastores TO eio_viewer;
GRANT INSERT, UPDATE, DELETE ON datastores TO eio_worker;
