//! Staging a vCenter's records for [`super::snapshot::apply`]: the four tables' column
//! specs and the records turned into columns (deduplicated by moid, enums as their
//! database words), and datastores as the arrays [`super::store_datastores`] unpacks.
//! Pure data shaping: it never touches the database or the connector.
use super::*;

pub(super) const DATACENTERS: TableSpec = TableSpec {
    table: "datacenters",
    entity: "datacenter",
    scope: "vcenter_id",
    key: "moid",
    columns: &[("name", "s.name")],
    joins: &[],
    not_diffed: &[],
    skip_unchanged: true,
};

pub(super) const CLUSTERS: TableSpec = TableSpec {
    table: "clusters",
    entity: "cluster",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("name", "s.name"),
        ("datacenter_id", "d.id"),
        ("drs_enabled", "s.drs_enabled"),
        ("drs_behavior", "s.drs_behavior"),
        ("ha_enabled", "s.ha_enabled"),
        // Staged as JSON text (NULL: configurationEx was not read, so not known).
        ("drs", "s.drs::jsonb"),
    ],
    joins: &["LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid"],
    not_diffed: &[],
    skip_unchanged: true,
};

pub(super) const HOSTS: TableSpec = TableSpec {
    table: "esxi_hosts",
    entity: "esxi_host",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("name", "s.name"),
        ("datacenter_id", "d.id"),
        ("cluster_id", "c.id"),
        ("hardware_uuid", "s.hardware_uuid"),
        ("vendor", "s.vendor"),
        ("model", "s.model"),
        ("serial_number", "s.serial_number"),
        ("service_tag", "s.service_tag"),
        ("esxi_version", "s.esxi_version"),
        ("esxi_build", "s.esxi_build"),
        ("connection_state", "s.connection_state::host_connection_state"),
        ("power_state", "s.power_state::host_power_state"),
        ("in_maintenance_mode", "s.in_maintenance_mode"),
        ("management_ips", "ARRAY(SELECT host(x::inet)::inet FROM jsonb_array_elements_text(s.management_ips) x)"),
        ("cpu_model", "s.cpu_model"),
        ("cpu_cores", "s.cpu_cores"),
        ("cpu_threads", "s.cpu_threads"),
        ("memory_mb", "s.memory_mb"),
        ("cpu_mhz", "s.cpu_mhz"),
        ("tags", "ARRAY(SELECT jsonb_array_elements_text(s.tags))"),
        ("custom_attributes", "s.custom_attributes"),
    ],
    joins: &[
        "LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid",
        "LEFT JOIN clusters c ON c.vcenter_id = $1 AND c.moid = s.cluster_moid",
    ],
    not_diffed: &[],
    skip_unchanged: true,
};

pub(super) const VMS: TableSpec = TableSpec {
    table: "virtual_machines",
    entity: "virtual_machine",
    scope: "vcenter_id",
    key: "moid",
    columns: &[
        ("datacenter_id", "d.id"),
        ("cluster_id", "c.id"),
        ("host_id", "h.id"),
        ("uuid", "s.uuid"),
        ("instance_uuid", "s.instance_uuid"),
        ("name", "s.name"),
        ("folder_path", "s.folder_path"),
        ("vcpu", "nullif(s.vcpu, 0)"),
        ("memory_mb", "s.memory_mb"),
        ("power_state", "s.power_state::vm_power_state"),
        ("tools_status", "s.tools_status::vm_tools_status"),
        ("guest_os", "s.guest_os"),
        ("guest_hostname", "s.guest_hostname"),
        ("nics", "s.nics"),
        ("guest_ips", "s.guest_ips"),
        ("tags", "ARRAY(SELECT jsonb_array_elements_text(s.tags))"),
        ("custom_attributes", "s.custom_attributes"),
        ("notes", "s.notes"),
        ("has_snapshot", "s.has_snapshot"),
        ("snapshot_count", "s.snapshot_count"),
        ("is_template", "s.is_template"),
        // Staged as JSON text, not a serde_json::Value per VM: with Values the benchmark's
        // 10k-VM resync peaked at 119 MiB instead of 102 (a Value object is ~0.6 KB at least).
        ("mobility", "coalesce(s.mobility::jsonb, '{}')"),
    ],
    joins: &[
        "LEFT JOIN datacenters d ON d.vcenter_id = $1 AND d.moid = s.datacenter_moid",
        "LEFT JOIN clusters c ON c.vcenter_id = $1 AND c.moid = s.cluster_moid",
        "LEFT JOIN esxi_hosts h ON h.vcenter_id = $1 AND h.moid = s.host_moid",
    ],
    not_diffed: &[],
    skip_unchanged: true,
};

pub(super) fn enum_str<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().and_then(|v| serde_json::to_value(v).ok()).and_then(|j| j.as_str().map(str::to_owned))
}

pub(super) fn text<T>(items: &[T], f: impl Fn(&T) -> Option<String>) -> Column {
    Column::Text(items.iter().map(f).collect())
}

/// A uuid as vCenter spells it, or NULL for anything that isn't one: a malformed value
/// never fails the sync. Parsed here rather than by a regex per row in SQL, which cost
/// ~5 µs a row (0.1 s of a 10k-VM resync, for two uuid columns).
pub(super) fn uuids<T>(items: &[T], f: impl Fn(&T) -> Option<&str>) -> Column {
    Column::Uuid(items.iter().map(|i| f(i).and_then(parse_uuid)).collect())
}

/// 32 hex digits in the 8-4-4-4-12 groups, each hyphen between groups optional (the
/// pattern the sync has always accepted); anything else is not a uuid.
pub(super) fn parse_uuid(s: &str) -> Option<Uuid> {
    let mut hex = [0u8; 32];
    let (mut n, mut hyphen_ok) = (0usize, false);
    for b in s.bytes() {
        if b == b'-' {
            if !hyphen_ok {
                return None;
            }
            hyphen_ok = false;
        } else if b.is_ascii_hexdigit() && n < 32 {
            hex[n] = b;
            n += 1;
            hyphen_ok = matches!(n, 8 | 12 | 16 | 20);
        } else {
            return None;
        }
    }
    if n != 32 {
        return None;
    }
    Uuid::try_parse_ascii(&hex).ok()
}

pub(super) fn json<T>(items: &[T], f: impl Fn(&T) -> serde_json::Value) -> Column {
    Column::Json(items.iter().map(f).collect())
}

pub(super) fn stage_datacenters(dcs: &[&DatacenterRecord]) -> Staged {
    Staged::new()
        .column("moid", text(dcs, |d| Some(d.moid.clone())))
        .column("name", text(dcs, |d| Some(d.name.clone())))
}

pub(super) fn stage_clusters(clusters: &[&ClusterRecord]) -> Staged {
    Staged::new()
        .column("moid", text(clusters, |c| Some(c.moid.clone())))
        .column("name", text(clusters, |c| Some(c.name.clone())))
        .column("datacenter_moid", text(clusters, |c| c.datacenter_moid.clone()))
        .column("drs_enabled", Column::Bool(clusters.iter().map(|c| c.drs_enabled).collect()))
        .column("drs_behavior", text(clusters, |c| c.drs_behavior.clone()))
        .column("ha_enabled", Column::Bool(clusters.iter().map(|c| c.ha_enabled).collect()))
        .column("drs", text(clusters, |c| c.drs.as_ref().and_then(|d| serde_json::to_string(d).ok())))
}

pub(super) fn stage_hosts(hosts: &[&HostRecord]) -> Staged {
    Staged::new()
        .column("moid", text(hosts, |h| Some(h.moid.clone())))
        .column("name", text(hosts, |h| Some(h.name.clone())))
        .column("datacenter_moid", text(hosts, |h| h.datacenter_moid.clone()))
        .column("cluster_moid", text(hosts, |h| h.cluster_moid.clone()))
        .column("hardware_uuid", uuids(hosts, |h| h.hardware_uuid.as_deref()))
        .column("vendor", text(hosts, |h| h.vendor.clone()))
        .column("model", text(hosts, |h| h.model.clone()))
        .column("serial_number", text(hosts, |h| h.serial_number.clone()))
        .column("service_tag", text(hosts, |h| h.service_tag.clone()))
        .column("esxi_version", text(hosts, |h| h.esxi_version.clone()))
        .column("esxi_build", text(hosts, |h| h.esxi_build.clone()))
        .column("connection_state", text(hosts, |h| enum_str(&h.connection_state)))
        .column("power_state", text(hosts, |h| enum_str(&h.power_state)))
        .column("in_maintenance_mode", Column::Bool(hosts.iter().map(|h| Some(h.in_maintenance_mode)).collect()))
        .column("management_ips", json(hosts, |h| serde_json::json!(h.management_ips)))
        .column("cpu_model", text(hosts, |h| h.cpu_model.clone()))
        .column("cpu_cores", Column::Int(hosts.iter().map(|h| h.cpu_cores.map(|n| n as i32)).collect()))
        .column("cpu_threads", Column::Int(hosts.iter().map(|h| h.cpu_threads.map(|n| n as i32)).collect()))
        .column("memory_mb", Column::BigInt(hosts.iter().map(|h| h.memory_mb.map(|n| n as i64)).collect()))
        .column("cpu_mhz", Column::Int(hosts.iter().map(|h| h.cpu_mhz.and_then(|n| i32::try_from(n).ok())).collect()))
        .column("tags", json(hosts, |h| serde_json::json!(h.tags)))
        .column("custom_attributes", json(hosts, |h| serde_json::json!(h.custom_attributes)))
}

pub(super) fn stage_vms(vms: &[&VmRecord]) -> Staged {
    Staged::new()
        .column("moid", text(vms, |v| Some(v.moid.clone())))
        .column("datacenter_moid", text(vms, |v| v.datacenter_moid.clone()))
        .column("cluster_moid", text(vms, |v| v.cluster_moid.clone()))
        .column("host_moid", text(vms, |v| v.host_moid.clone()))
        .column("uuid", uuids(vms, |v| v.uuid.as_deref()))
        .column("instance_uuid", uuids(vms, |v| v.instance_uuid.as_deref()))
        .column("name", text(vms, |v| Some(v.name.clone())))
        .column("folder_path", text(vms, |v| v.folder_path.clone()))
        .column("vcpu", Column::Int(vms.iter().map(|v| v.vcpu.map(|n| n as i32)).collect()))
        .column("memory_mb", Column::Int(vms.iter().map(|v| v.memory_mb.map(|n| n as i32)).collect()))
        .column("power_state", text(vms, |v| enum_str(&v.power_state)))
        .column("tools_status", text(vms, |v| enum_str(&v.tools_status)))
        .column("guest_os", text(vms, |v| v.guest_os.clone()))
        .column("guest_hostname", text(vms, |v| v.guest_hostname.clone()))
        .column("nics", json(vms, |v| serde_json::json!(v.nics)))
        .column(
            "guest_ips",
            json(vms, |v| {
                serde_json::Value::Array(
                    v.guest_ips
                        .iter()
                        .map(|g| serde_json::json!({"ip": g.ip, "confidence": g.confidence, "mac": g.mac}))
                        .collect(),
                )
            }),
        )
        .column("tags", json(vms, |v| serde_json::json!(v.tags)))
        .column("custom_attributes", json(vms, |v| serde_json::json!(v.custom_attributes)))
        .column("notes", text(vms, |v| v.notes.clone()))
        .column("has_snapshot", Column::Bool(vms.iter().map(|v| Some(v.has_snapshot)).collect()))
        .column("snapshot_count", Column::Int(vms.iter().map(|v| Some(v.snapshot_count as i32)).collect()))
        .column("is_template", Column::Bool(vms.iter().map(|v| Some(v.is_template)).collect()))
        .column("mobility", text(vms, |v| serde_json::to_string(&v.mobility).ok()))
}

/// Datastores as the columns [`super::store_datastores`] unpacks: moid, name, the mounting
/// hosts (a JSON array, or JSON null when not known) and `multipleHostAccess`.
pub(super) struct StagedDatastores {
    pub moid: Vec<String>,
    pub name: Vec<String>,
    pub hosts: Vec<serde_json::Value>,
    pub multiple_host_access: Vec<Option<bool>>,
}

pub(super) fn stage_datastores(datastores: &[&DatastoreRecord]) -> StagedDatastores {
    StagedDatastores {
        moid: datastores.iter().map(|d| d.moid.clone()).collect(),
        name: datastores.iter().map(|d| d.name.clone()).collect(),
        hosts: datastores.iter().map(|d| serde_json::json!(d.hosts)).collect(),
        multiple_host_access: datastores.iter().map(|d| d.multiple_host_access).collect(),
    }
}

/// Keep the last record for each moid (a source must not name an object twice).
pub(super) fn dedup<'a, T>(items: impl IntoIterator<Item = &'a T>, moid: impl Fn(&T) -> &str) -> Vec<&'a T> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<&T> = Vec::new();
    for item in items {
        match seen.get(moid(item)) {
            Some(&i) => out[i] = item,
            None => {
                seen.insert(moid(item).to_owned(), out.len());
                out.push(item);
            }
        }
    }
    out
}
