//! What each report type contains: its sheets, their columns (names, cell types, widths),
//! the SQL that streams their rows, the filters it accepts and the chart its HTML shows.
//!
//! Owns the report types' shape. Every query reads with the caller's own rights, keeps
//! its SQL text constant (filters are bound parameters, `NULL` = not filtered) and orders
//! its rows, so every format of one run holds the same rows in the same order. It must
//! never select a secret: no credential ciphertext, no usernames of service identities,
//! no error texts that could echo a credential.
use super::ReportType;

/// The type of a column's cells, as the SQL casts it and the renderers write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `text`
    Text,
    /// `int8`
    Int,
    /// `float8`
    Float,
    /// `bool`
    Bool,
    /// `timestamptz`, rendered in UTC.
    Time,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Bool => "boolean",
            Kind::Time => "datetime",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// Column width in the xlsx file, in characters.
    pub width: f64,
}

const fn col(name: &'static str, kind: Kind, width: f64) -> Column {
    Column { name, kind, width }
}
const fn text(name: &'static str, width: f64) -> Column {
    col(name, Kind::Text, width)
}
const fn int(name: &'static str) -> Column {
    col(name, Kind::Int, 10.0)
}
const fn num(name: &'static str) -> Column {
    col(name, Kind::Float, 12.0)
}
const fn flag(name: &'static str) -> Column {
    col(name, Kind::Bool, 10.0)
}
const fn time(name: &'static str) -> Column {
    col(name, Kind::Time, 19.0)
}

/// One table of a report: a sheet in xlsx, a section in html/json, a file in csv.
#[derive(Debug)]
pub struct Sheet {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Selects exactly `columns`, in order, with the filters bound as `$1…$n` (see
    /// [`Report::filters`]), ordered.
    pub sql: &'static str,
    /// Only logins that may read this table see this sheet (the audit trail is for admins).
    pub needs_select_on: Option<&'static str>,
}

/// How a filter's value is checked and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Text,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// A date (`2026-01-31`, midnight UTC) or an RFC 3339 time.
    Time,
    Bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub key: &'static str,
    pub kind: FilterKind,
    pub help: &'static str,
}

/// A bar chart for the HTML rendering: `sql` returns `(label text, value float8)` rows,
/// with the same filters bound as the sheets.
#[derive(Debug)]
pub struct Chart {
    pub title: &'static str,
    pub sql: &'static str,
}

#[derive(Debug)]
pub struct Report {
    pub report_type: ReportType,
    pub title: &'static str,
    pub description: &'static str,
    /// Bound in this order as `$1…$n` in every query of the report.
    pub filters: &'static [Filter],
    pub sheets: &'static [Sheet],
    pub chart: Option<Chart>,
}

/// The filter every multi-sheet report accepts: which of its sheets to produce.
pub const SHEET_FILTER: &str = "sheet";

pub fn report(t: ReportType) -> &'static Report {
    match t {
        ReportType::InventorySummary => &INVENTORY_SUMMARY,
        ReportType::Rvtools => &RVTOOLS,
        ReportType::FirmwareCompliance => &FIRMWARE_COMPLIANCE,
        ReportType::ServerMapping => &SERVER_MAPPING,
        ReportType::IpamUtilization => &IPAM_UTILIZATION,
        ReportType::IpamFindings => &IPAM_FINDINGS,
        ReportType::JobHistory => &JOB_HISTORY,
        ReportType::CredentialRotation => &CREDENTIAL_ROTATION,
    }
}

// ---------------------------------------------------------------------------------
// vCenter filters shared by the inventory reports: $1 site, $2 vcenter, $3 cluster.
// A VM, host or server is at the site inference placed it (a pin wins; `entity_sites`),
// else at its source's site; a cluster, at its vCenter's; a prefix, at its own.
const SITE: Filter = Filter {
    key: "site",
    kind: FilterKind::Text,
    help: "site code (US-EAST-01): where site inference placed each VM, host or server, else its source's site",
};
const VCENTER: Filter = Filter { key: "vcenter", kind: FilterKind::Text, help: "vCenter source name" };
const CLUSTER: Filter = Filter { key: "cluster", kind: FilterKind::Text, help: "cluster name" };

// ---------------------------------------------------------------------------------
pub static INVENTORY_SUMMARY: Report = Report {
    report_type: ReportType::InventorySummary,
    title: "Inventory summary",
    description: "Per cluster: hosts, VMs, vCPUs, memory, snapshots, tools; per server model: health, mapping, firmware compliance",
    filters: &[SITE, VCENTER, CLUSTER],
    sheets: &[
        Sheet {
            name: "Clusters",
            columns: &[
                text("vCenter", 16.0),
                text("Datacenter", 16.0),
                text("Cluster", 20.0),
                int("Hosts"),
                int("Hosts in maintenance"),
                int("VMs"),
                int("Powered on"),
                int("vCPUs"),
                num("Memory GiB"),
                int("VMs with snapshots"),
                int("Tools not OK"),
            ],
            sql: r#"
            SELECT vc.name, d.name, c.name,
                   coalesce(hs.hosts, 0), coalesce(hs.maintenance, 0),
                   coalesce(vs.vms, 0), coalesce(vs.on, 0), coalesce(vs.vcpus, 0),
                   coalesce(vs.memory_mb, 0)::float8 / 1024, coalesce(vs.snapshots, 0), coalesce(vs.tools, 0)
            FROM clusters c
            JOIN vcenter_instances vc ON vc.id = c.vcenter_id
            LEFT JOIN datacenters d ON d.id = c.datacenter_id
            LEFT JOIN sites s ON s.id = vc.site_id
            LEFT JOIN LATERAL (
                SELECT count(*)::int8 AS hosts, count(*) FILTER (WHERE h.in_maintenance_mode)::int8 AS maintenance
                FROM esxi_hosts h WHERE h.cluster_id = c.id AND h.removed_at IS NULL
            ) hs ON true
            LEFT JOIN LATERAL (
                SELECT count(*)::int8 AS vms,
                       count(*) FILTER (WHERE v.power_state = 'powered_on')::int8 AS on,
                       sum(v.vcpu)::int8 AS vcpus, sum(v.memory_mb)::int8 AS memory_mb,
                       count(*) FILTER (WHERE v.has_snapshot)::int8 AS snapshots,
                       count(*) FILTER (WHERE v.tools_status IS DISTINCT FROM 'ok' AND NOT v.is_template)::int8 AS tools
                FROM virtual_machines v WHERE v.cluster_id = c.id AND v.removed_at IS NULL
            ) vs ON true
            WHERE c.removed_at IS NULL
              AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR vc.name = $2)
              AND ($3::text IS NULL OR c.name = $3)
            ORDER BY vc.name, d.name, c.name, c.id
            "#,
            needs_select_on: None,
        },
        Sheet {
            name: "Servers",
            columns: &[
                text("Model", 24.0),
                text("Generation", 12.0),
                int("Servers"),
                int("Health OK"),
                int("Warning"),
                int("Critical"),
                int("Mapped to a host"),
                int("With non-compliant firmware"),
            ],
            sql: r#"
            SELECT coalesce(p.model, '(unknown)'), e.generation::text, count(*)::int8,
                   count(*) FILTER (WHERE p.health = 'ok')::int8,
                   count(*) FILTER (WHERE p.health = 'warning')::int8,
                   count(*) FILTER (WHERE p.health = 'critical')::int8,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM server_mappings m
                                                  WHERE m.physical_server_id = p.id AND m.status = 'active'))::int8,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM firmware_compliance fc
                                                  WHERE fc.physical_server_id = p.id AND fc.removed_at IS NULL
                                                    AND fc.status IN ('upgrade', 'downgrade')))::int8
            FROM physical_servers p
            LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
            LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
            LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id)
            WHERE p.removed_at IS NULL
              AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR true) AND ($3::text IS NULL OR true)
            GROUP BY 1, 2
            ORDER BY 1, 2
            "#,
            needs_select_on: None,
        },
    ],
    chart: Some(Chart {
        title: "VMs per cluster",
        sql: r#"
        SELECT c.name, count(v.id)::float8
        FROM clusters c
        JOIN vcenter_instances vc ON vc.id = c.vcenter_id
        LEFT JOIN sites s ON s.id = vc.site_id
        LEFT JOIN virtual_machines v ON v.cluster_id = c.id AND v.removed_at IS NULL
        WHERE c.removed_at IS NULL
          AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR vc.name = $2)
          AND ($3::text IS NULL OR c.name = $3)
        GROUP BY c.id, c.name ORDER BY 2 DESC, 1 LIMIT 20
        "#,
    }),
};

// ---------------------------------------------------------------------------------
// RVTools: the sheet and column names RVTools 4.x writes, for the columns we hold.
// Filters: $1 site, $2 vcenter, $3 cluster, $4 tag, $5 folder.
const TAG: Filter = Filter { key: "tag", kind: FilterKind::Text, help: "vSphere tag the VM (or host) carries" };
const FOLDER: Filter =
    Filter { key: "folder", kind: FilterKind::Text, help: "VM folder path; sub-folders are included" };

/// The VM scope every RVTools VM sheet shares (the `FROM … WHERE` part).
macro_rules! rv_vms {
    ($select:expr, $extra_from:expr, $tail:expr) => {
        concat!(
            "SELECT ",
            $select,
            r#"
            FROM virtual_machines v
            JOIN vcenter_instances vc ON vc.id = v.vcenter_id
            LEFT JOIN datacenters d ON d.id = v.datacenter_id
            LEFT JOIN clusters c ON c.id = v.cluster_id
            LEFT JOIN esxi_hosts h ON h.id = v.host_id
            LEFT JOIN entity_sites es ON es.entity_type = 'virtual_machine' AND es.entity_id = v.id
            LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id) "#,
            $extra_from,
            r#"
            WHERE v.removed_at IS NULL
              AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR vc.name = $2)
              AND ($3::text IS NULL OR c.name = $3) AND ($4::text IS NULL OR $4 = ANY (v.tags))
              AND ($5::text IS NULL OR v.folder_path = $5 OR starts_with(v.folder_path, rtrim($5, '/') || '/'))
            "#,
            $tail
        )
    };
}

/// vCenter's power state names, as RVTools prints them.
macro_rules! rv_power {
    () => {
        "CASE v.power_state WHEN 'powered_on' THEN 'poweredOn' WHEN 'powered_off' THEN 'poweredOff' \
         WHEN 'suspended' THEN 'suspended' END"
    };
}
/// Host name of the vCenter URL (RVTools' "VI SDK Server"), and its instance UUID.
macro_rules! rv_sdk {
    () => {
        "substring(vc.url FROM '^[A-Za-z]+://([^/:]+)'), vc.instance_uuid"
    };
}

pub static RVTOOLS: Report = Report {
    report_type: ReportType::Rvtools,
    title: "RVTools-compatible inventory",
    description:
        "VMs and hosts with RVTools' sheet and column names (vInfo, vHost, vCluster, vNetwork, vSnapshot, vTools)",
    filters: &[SITE, VCENTER, CLUSTER, TAG, FOLDER],
    sheets: &[
        Sheet {
            name: "vInfo",
            columns: &[
                text("VM", 28.0),
                text("Powerstate", 12.0),
                flag("Template"),
                text("DNS Name", 24.0),
                int("CPUs"),
                int("Memory"),
                int("NICs"),
                text("Primary IP Address", 16.0),
                text("Network #1", 16.0),
                text("Network #2", 16.0),
                text("Network #3", 16.0),
                text("Network #4", 16.0),
                text("Folder", 24.0),
                text("Annotation", 24.0),
                text("Datacenter", 14.0),
                text("Cluster", 14.0),
                text("Host", 20.0),
                text("OS according to the configuration file", 28.0),
                text("VM ID", 10.0),
                text("SMBIOS UUID", 36.0),
                text("VM UUID", 36.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            sql: rv_vms!(
                concat!(
                    "v.name, ",
                    rv_power!(),
                    r#", v.is_template, v.guest_hostname, v.vcpu::int8, v.memory_mb::int8,
                    jsonb_array_length(v.nics)::int8, v.guest_ips -> 0 ->> 'ip',
                    v.nics -> 0 ->> 'network', v.nics -> 1 ->> 'network', v.nics -> 2 ->> 'network', v.nics -> 3 ->> 'network',
                    v.folder_path, v.notes, d.name, c.name, h.name, v.guest_os, v.moid, v.uuid::text, v.instance_uuid::text, "#,
                    rv_sdk!()
                ),
                "",
                "ORDER BY v.name, v.id"
            ),
            needs_select_on: None,
        },
        Sheet {
            name: "vHost",
            columns: &[
                text("Host", 24.0),
                text("Datacenter", 14.0),
                text("Cluster", 14.0),
                flag("in Maintenance Mode"),
                text("CPU Model", 28.0),
                int("# Cores"),
                int("# Memory"),
                int("# VMs total"),
                int("# VMs"),
                int("# vCPUs"),
                text("ESX Version", 28.0),
                text("Vendor", 12.0),
                text("Model", 18.0),
                text("Serial number", 14.0),
                text("Service tag", 12.0),
                text("Object ID", 10.0),
                text("UUID", 36.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            sql: concat!(
                r#"
            SELECT h.name, d.name, c.name, h.in_maintenance_mode, h.cpu_model, h.cpu_cores::int8, h.memory_mb,
                   coalesce(vm.total, 0), coalesce(vm.running, 0), coalesce(vm.vcpus, 0),
                   'VMware ESXi ' || h.esxi_version || coalesce(' build-' || h.esxi_build, ''),
                   h.vendor, h.model, h.serial_number, h.service_tag, h.moid, h.hardware_uuid::text, "#,
                rv_sdk!(),
                r#"
            FROM esxi_hosts h
            JOIN vcenter_instances vc ON vc.id = h.vcenter_id
            LEFT JOIN datacenters d ON d.id = h.datacenter_id
            LEFT JOIN clusters c ON c.id = h.cluster_id
            LEFT JOIN entity_sites es ON es.entity_type = 'esxi_host' AND es.entity_id = h.id
            LEFT JOIN sites s ON s.id = coalesce(es.site_id, vc.site_id)
            LEFT JOIN LATERAL (
                SELECT count(*)::int8 AS total,
                       count(*) FILTER (WHERE v.power_state = 'powered_on')::int8 AS running,
                       coalesce(sum(v.vcpu) FILTER (WHERE v.power_state = 'powered_on'), 0)::int8 AS vcpus
                FROM virtual_machines v WHERE v.host_id = h.id AND v.removed_at IS NULL
            ) vm ON true
            WHERE h.removed_at IS NULL
              AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR vc.name = $2)
              AND ($3::text IS NULL OR c.name = $3) AND ($4::text IS NULL OR $4 = ANY (h.tags))
              AND ($5::text IS NULL OR true)
            ORDER BY h.name, h.id
            "#
            ),
            needs_select_on: None,
        },
        Sheet {
            name: "vCluster",
            columns: &[
                text("Name", 20.0),
                int("NumHosts"),
                int("NumCpuCores"),
                int("TotalMemory"),
                flag("HA enabled"),
                flag("DRS enabled"),
                text("DRS default VM behavior", 20.0),
                text("Object ID", 12.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            sql: concat!(
                r#"
            SELECT c.name, coalesce(hs.hosts, 0), coalesce(hs.cores, 0), coalesce(hs.memory_bytes, 0),
                   c.ha_enabled, c.drs_enabled, c.drs_behavior, c.moid, "#,
                rv_sdk!(),
                r#"
            FROM clusters c
            JOIN vcenter_instances vc ON vc.id = c.vcenter_id
            LEFT JOIN sites s ON s.id = vc.site_id
            LEFT JOIN LATERAL (
                SELECT count(*)::int8 AS hosts, coalesce(sum(h.cpu_cores), 0)::int8 AS cores,
                       (coalesce(sum(h.memory_mb), 0) * 1048576)::int8 AS memory_bytes
                FROM esxi_hosts h WHERE h.cluster_id = c.id AND h.removed_at IS NULL
            ) hs ON true
            WHERE c.removed_at IS NULL
              AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR vc.name = $2)
              AND ($3::text IS NULL OR c.name = $3) AND ($4::text IS NULL OR true) AND ($5::text IS NULL OR true)
            ORDER BY c.name, c.id
            "#
            ),
            needs_select_on: None,
        },
        Sheet {
            name: "vNetwork",
            columns: &[
                text("VM", 28.0),
                text("Powerstate", 12.0),
                flag("Template"),
                text("NIC label", 18.0),
                text("Network", 18.0),
                flag("Connected"),
                text("Mac Address", 18.0),
                text("IPv4 Address", 16.0),
                text("IPv6 Address", 24.0),
                text("Datacenter", 14.0),
                text("Cluster", 14.0),
                text("Host", 20.0),
                text("Folder", 24.0),
                text("OS according to the configuration file", 28.0),
                text("VM ID", 10.0),
                text("VM UUID", 36.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            sql: rv_vms!(
                concat!(
                    "v.name, ",
                    rv_power!(),
                    r#", v.is_template, n.nic ->> 'label', n.nic ->> 'network',
                    CASE WHEN jsonb_typeof(n.nic -> 'connected') = 'boolean' THEN (n.nic -> 'connected')::boolean END,
                    n.nic ->> 'mac',
                    (SELECT string_agg(g ->> 'ip', ', ') FROM jsonb_array_elements(v.guest_ips) g
                     WHERE lower(g ->> 'mac') = lower(n.nic ->> 'mac') AND strpos(g ->> 'ip', ':') = 0),
                    (SELECT string_agg(g ->> 'ip', ', ') FROM jsonb_array_elements(v.guest_ips) g
                     WHERE lower(g ->> 'mac') = lower(n.nic ->> 'mac') AND strpos(g ->> 'ip', ':') > 0),
                    d.name, c.name, h.name, v.folder_path, v.guest_os, v.moid, v.instance_uuid::text, "#,
                    rv_sdk!()
                ),
                "CROSS JOIN LATERAL jsonb_array_elements(v.nics) WITH ORDINALITY AS n(nic, i)",
                "ORDER BY v.name, v.id, n.i"
            ),
            needs_select_on: None,
        },
        Sheet {
            name: "vSnapshot",
            columns: &[
                text("VM", 28.0),
                text("Powerstate", 12.0),
                text("Datacenter", 14.0),
                text("Cluster", 14.0),
                text("Host", 20.0),
                text("Folder", 24.0),
                text("OS according to the configuration file", 28.0),
                text("VM ID", 10.0),
                text("VM UUID", 36.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            // We know that a VM has snapshots, not each snapshot: one row per such VM.
            sql: rv_vms!(
                concat!(
                    "v.name, ",
                    rv_power!(),
                    ", d.name, c.name, h.name, v.folder_path, v.guest_os, v.moid, v.instance_uuid::text, ",
                    rv_sdk!()
                ),
                "",
                "AND v.has_snapshot ORDER BY v.name, v.id"
            ),
            needs_select_on: None,
        },
        Sheet {
            name: "vTools",
            columns: &[
                text("VM", 28.0),
                text("Powerstate", 12.0),
                flag("Template"),
                text("Tools", 16.0),
                text("Datacenter", 14.0),
                text("Cluster", 14.0),
                text("Host", 20.0),
                text("Folder", 24.0),
                text("OS according to the configuration file", 28.0),
                text("VM ID", 10.0),
                text("VM UUID", 36.0),
                text("VI SDK Server", 20.0),
                text("VI SDK UUID", 36.0),
            ],
            sql: rv_vms!(
                concat!(
                    "v.name, ",
                    rv_power!(),
                    r#", v.is_template,
                    CASE v.tools_status WHEN 'ok' THEN 'toolsOk' WHEN 'old' THEN 'toolsOld'
                        WHEN 'not_running' THEN 'toolsNotRunning' WHEN 'not_installed' THEN 'toolsNotInstalled' END,
                    d.name, c.name, h.name, v.folder_path, v.guest_os, v.moid, v.instance_uuid::text, "#,
                    rv_sdk!()
                ),
                "",
                "ORDER BY v.name, v.id"
            ),
            needs_select_on: None,
        },
    ],
    chart: Some(Chart {
        title: "VMs by power state",
        sql: rv_vms!(concat!(rv_power!(), " AS state, count(*)::float8"), "", "GROUP BY 1 ORDER BY 2 DESC, 1"),
    }),
};

// ---------------------------------------------------------------------------------
const COMPLIANCE_STATUS: &[&str] = &["compliant", "upgrade", "downgrade", "unknown"];

pub static FIRMWARE_COMPLIANCE: Report = Report {
    report_type: ReportType::FirmwareCompliance,
    title: "Firmware compliance",
    description: "Per server and component: installed version against the OME baseline, with criticality",
    filters: &[
        SITE,
        Filter { key: "baseline", kind: FilterKind::Text, help: "baseline name" },
        Filter { key: "status", kind: FilterKind::Choice(COMPLIANCE_STATUS), help: "compliance status" },
        Filter { key: "criticality", kind: FilterKind::Text, help: "OME criticality (Urgent, Recommended, Optional)" },
        Filter { key: "service_tag", kind: FilterKind::Text, help: "one server's service tag" },
    ],
    sheets: &[Sheet {
        name: "Compliance",
        columns: &[
            text("Service tag", 12.0),
            text("Server", 22.0),
            text("Model", 18.0),
            text("Baseline", 20.0),
            text("Component", 32.0),
            text("FQDD", 26.0),
            text("Installed version", 16.0),
            text("Baseline version", 16.0),
            text("Status", 12.0),
            text("Criticality", 12.0),
            flag("Reboot required"),
            time("Last sync"),
        ],
        sql: r#"
        SELECT fc.service_tag, coalesce(p.hostname, e.name), p.model, b.name, fc.component, fc.fqdd,
               fc.current_version, fc.baseline_version, fc.status::text, fc.criticality, fc.reboot_required, fc.last_sync
        FROM firmware_compliance fc
        JOIN firmware_baselines b ON b.id = fc.baseline_id
        LEFT JOIN physical_servers p ON p.id = fc.physical_server_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id)
        WHERE fc.removed_at IS NULL AND b.removed_at IS NULL
          AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR b.name = $2)
          AND ($3::text IS NULL OR fc.status::text = $3) AND ($4::text IS NULL OR lower(fc.criticality) = lower($4))
          AND ($5::text IS NULL OR upper(fc.service_tag) = upper($5))
        ORDER BY upper(fc.service_tag), fc.component, b.name, fc.id
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Components by compliance status",
        sql: r#"
        SELECT fc.status::text, count(*)::float8
        FROM firmware_compliance fc
        JOIN firmware_baselines b ON b.id = fc.baseline_id
        LEFT JOIN physical_servers p ON p.id = fc.physical_server_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id)
        WHERE fc.removed_at IS NULL AND b.removed_at IS NULL
          AND ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR b.name = $2)
          AND ($3::text IS NULL OR fc.status::text = $3) AND ($4::text IS NULL OR lower(fc.criticality) = lower($4))
          AND ($5::text IS NULL OR upper(fc.service_tag) = upper($5))
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};

// ---------------------------------------------------------------------------------
pub static SERVER_MAPPING: Report = Report {
    report_type: ReportType::ServerMapping,
    title: "Server ↔ ESXi host mapping",
    description: "Which ESXi host runs on which physical server, how it was matched and how sure we are",
    filters: &[
        SITE,
        Filter {
            key: "method",
            kind: FilterKind::Choice(&["service_tag", "uuid", "naming", "attribute", "manual"]),
            help: "how the pair was matched",
        },
        Filter {
            key: "status",
            kind: FilterKind::Choice(&["active", "ambiguous", "rejected"]),
            help: "mapping status",
        },
    ],
    sheets: &[Sheet {
        name: "Mappings",
        columns: &[
            text("Service tag", 12.0),
            text("iDRAC", 18.0),
            text("Server hostname", 22.0),
            text("ESXi host", 24.0),
            text("Cluster", 14.0),
            text("vCenter", 14.0),
            text("Method", 12.0),
            num("Confidence"),
            text("Status", 10.0),
            time("Verified at"),
            time("Updated at"),
        ],
        sql: r#"
        SELECT p.service_tag, e.name, p.hostname, h.name, c.name, vc.name, m.method::text, m.confidence::float8,
               m.status::text, m.verified_at, m.updated_at
        FROM server_mappings m
        JOIN physical_servers p ON p.id = m.physical_server_id
        JOIN esxi_hosts h ON h.id = m.esxi_host_id
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN clusters c ON c.id = h.cluster_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, vc.site_id)
        WHERE ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR m.method::text = $2)
          AND ($3::text IS NULL OR m.status::text = $3)
        ORDER BY upper(p.service_tag), h.name, m.id
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Mappings by method",
        sql: r#"
        SELECT m.method::text, count(*)::float8
        FROM server_mappings m
        JOIN physical_servers p ON p.id = m.physical_server_id
        JOIN esxi_hosts h ON h.id = m.esxi_host_id
        JOIN vcenter_instances vc ON vc.id = h.vcenter_id
        LEFT JOIN idrac_endpoints e ON e.id = p.idrac_id
        LEFT JOIN entity_sites es ON es.entity_type = 'physical_server' AND es.entity_id = p.id
        LEFT JOIN sites s ON s.id = coalesce(es.site_id, e.site_id, vc.site_id)
        WHERE ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR m.method::text = $2)
          AND ($3::text IS NULL OR m.status::text = $3)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};

// ---------------------------------------------------------------------------------
pub static IPAM_UTILIZATION: Report = Report {
    report_type: ReportType::IpamUtilization,
    title: "IPAM utilization",
    description: "Per prefix: size, planned and observed addresses, utilization against its threshold",
    filters: &[
        SITE,
        Filter { key: "routing_domain", kind: FilterKind::Text, help: "routing domain name" },
        Filter {
            key: "status",
            kind: FilterKind::Choice(&["active", "reserved", "deprecated"]),
            help: "prefix status",
        },
    ],
    sheets: &[Sheet {
        name: "Prefixes",
        columns: &[
            text("Routing domain", 14.0),
            text("Prefix", 20.0),
            text("Site", 12.0),
            int("VLAN"),
            text("Status", 10.0),
            text("Description", 24.0),
            num("Addresses"),
            int("Planned"),
            int("Observed"),
            int("Used"),
            num("Utilization %"),
            num("Threshold %"),
        ],
        sql: r#"
        SELECT rd.name, p.cidr::text, s.code, p.vlan_id::int8, p.status::text, p.description,
               z.size, pl.n, ob.n, u.n, round((100 * u.n / z.size)::numeric, 2)::float8,
               round((p.utilization_threshold * 100)::numeric, 2)::float8
        FROM prefixes p
        JOIN routing_domains rd ON rd.id = p.routing_domain_id
        LEFT JOIN sites s ON s.id = p.site_id
        CROSS JOIN LATERAL (SELECT power(2::float8, CASE family(p.cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(p.cidr)) AS size) z
        CROSS JOIN LATERAL (SELECT count(*)::int8 AS n FROM ip_assignments a
                            WHERE a.routing_domain_id = p.routing_domain_id AND a.address <<= p.cidr) pl
        CROSS JOIN LATERAL (SELECT count(DISTINCT o.address)::int8 AS n FROM ip_observations o
                            WHERE o.routing_domain_id = p.routing_domain_id AND o.address <<= p.cidr AND o.gone_at IS NULL) ob
        CROSS JOIN LATERAL (SELECT count(*)::int8 AS n FROM (
                                SELECT a.address FROM ip_assignments a
                                WHERE a.routing_domain_id = p.routing_domain_id AND a.address <<= p.cidr
                                UNION
                                SELECT o.address FROM ip_observations o
                                WHERE o.routing_domain_id = p.routing_domain_id AND o.address <<= p.cidr AND o.gone_at IS NULL
                            ) x) u
        WHERE ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR rd.name = $2)
          AND ($3::text IS NULL OR p.status::text = $3)
        ORDER BY rd.name, p.cidr, p.id
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Most utilized prefixes (%)",
        sql: r#"
        SELECT p.cidr::text || ' (' || rd.name || ')', round((100 * u.n / power(2::float8,
                   CASE family(p.cidr) WHEN 4 THEN 32 ELSE 128 END - masklen(p.cidr)))::numeric, 2)::float8
        FROM prefixes p
        JOIN routing_domains rd ON rd.id = p.routing_domain_id
        LEFT JOIN sites s ON s.id = p.site_id
        CROSS JOIN LATERAL (SELECT count(*) AS n FROM (
                                SELECT a.address FROM ip_assignments a
                                WHERE a.routing_domain_id = p.routing_domain_id AND a.address <<= p.cidr
                                UNION
                                SELECT o.address FROM ip_observations o
                                WHERE o.routing_domain_id = p.routing_domain_id AND o.address <<= p.cidr AND o.gone_at IS NULL
                            ) x) u
        WHERE ($1::text IS NULL OR s.code = $1) AND ($2::text IS NULL OR rd.name = $2)
          AND ($3::text IS NULL OR p.status::text = $3)
        ORDER BY 2 DESC, 1 LIMIT 20
        "#,
    }),
};

// ---------------------------------------------------------------------------------
pub static IPAM_FINDINGS: Report = Report {
    report_type: ReportType::IpamFindings,
    title: "IPAM findings",
    description: "Duplicate addresses, unplanned and missing addresses, MAC conflicts, full prefixes …",
    filters: &[
        Filter { key: "severity", kind: FilterKind::Choice(&["info", "warning", "error"]), help: "finding severity" },
        Filter {
            key: "type",
            kind: FilterKind::Choice(&[
                "duplicate_usage",
                "seen_not_planned",
                "planned_not_seen",
                "outside_any_prefix",
                "mac_conflict",
                "prefix_over_threshold",
                "credential_rotation_due",
            ]),
            help: "finding type",
        },
        Filter {
            key: "state",
            kind: FilterKind::Choice(&["open", "resolved", "all"]),
            help: "open (default), resolved or all",
        },
    ],
    sheets: &[Sheet {
        name: "Findings",
        columns: &[
            text("Type", 22.0),
            text("Severity", 10.0),
            text("Subject", 28.0),
            text("Address", 18.0),
            text("Prefix", 18.0),
            text("Message", 48.0),
            time("First seen"),
            time("Last seen"),
            time("Resolved at"),
            int("Reopened"),
            time("Acknowledged at"),
            text("Acknowledged by", 22.0),
        ],
        sql: r#"
        SELECT f.type::text, f.severity::text, f.subject_key, host(f.address), p.cidr::text, f.message,
               f.first_seen_at, f.last_seen_at, f.resolved_at, f.reopened_count::int8, f.acknowledged_at, u.email
        FROM ipam_findings f
        LEFT JOIN prefixes p ON p.id = f.prefix_id
        LEFT JOIN users u ON u.id = f.acknowledged_by
        WHERE ($1::text IS NULL OR f.severity::text = $1) AND ($2::text IS NULL OR f.type::text = $2)
          AND (CASE coalesce($3::text, 'open') WHEN 'open' THEN f.resolved_at IS NULL
                                               WHEN 'resolved' THEN f.resolved_at IS NOT NULL ELSE true END)
        ORDER BY f.severity DESC, f.type, f.subject_key, f.id
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Findings by type",
        sql: r#"
        SELECT f.type::text, count(*)::float8
        FROM ipam_findings f
        WHERE ($1::text IS NULL OR f.severity::text = $1) AND ($2::text IS NULL OR f.type::text = $2)
          AND (CASE coalesce($3::text, 'open') WHEN 'open' THEN f.resolved_at IS NULL
                                               WHEN 'resolved' THEN f.resolved_at IS NOT NULL ELSE true END)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};

// ---------------------------------------------------------------------------------
// $1 from, $2 to (default: the last 30 days), $3 type, $4 status.
pub static JOB_HISTORY: Report = Report {
    report_type: ReportType::JobHistory,
    title: "Job history and audit trail",
    description: "Jobs created in a time range, their events, and (for admins) the security audit of the range",
    filters: &[
        Filter { key: "from", kind: FilterKind::Time, help: "start of the range (default: 30 days ago)" },
        Filter { key: "to", kind: FilterKind::Time, help: "end of the range (default: now)" },
        Filter {
            key: "type",
            kind: FilterKind::Choice(&["firmware_update", "maintenance_mode", "power", "sync", "report"]),
            help: "job type",
        },
        Filter {
            key: "status",
            kind: FilterKind::Choice(&[
                "pending",
                "awaiting_approval",
                "scheduled",
                "running",
                "paused",
                "succeeded",
                "failed",
                "cancelled",
            ]),
            help: "job status",
        },
    ],
    sheets: &[
        Sheet {
            name: "Jobs",
            columns: &[
                text("Job ID", 36.0),
                text("Type", 16.0),
                text("Title", 36.0),
                text("Status", 12.0),
                text("Initiated by", 22.0),
                text("Approved by", 22.0),
                time("Created at"),
                time("Started at"),
                time("Finished at"),
                num("Duration s"),
                int("Attempts"),
                text("Error", 36.0),
            ],
            sql: r#"
            SELECT j.id::text, j.type::text, j.title, j.status::text, ui.email, ua.email,
                   j.created_at, j.started_at, j.finished_at,
                   extract(epoch FROM j.finished_at - j.started_at)::float8, j.attempts::int8, j.error
            FROM jobs j
            LEFT JOIN users ui ON ui.id = j.initiated_by_user
            LEFT JOIN users ua ON ua.id = j.approved_by_user
            WHERE j.created_at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND j.created_at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
            ORDER BY j.created_at, j.id
            "#,
            needs_select_on: None,
        },
        Sheet {
            name: "Job events",
            columns: &[
                time("At"),
                text("Job ID", 36.0),
                text("Job", 30.0),
                text("Level", 8.0),
                text("Message", 48.0),
                text("Login", 16.0),
                text("User", 22.0),
            ],
            sql: r#"
            SELECT e.at, j.id::text, j.title, e.level::text, e.message, e.actor_login::text, u.email
            FROM job_events e
            JOIN jobs j ON j.id = e.job_id
            LEFT JOIN users u ON u.id = e.actor_user
            WHERE e.at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND e.at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
            ORDER BY e.at, e.id
            "#,
            needs_select_on: None,
        },
        Sheet {
            name: "Audit events",
            columns: &[
                time("At"),
                text("Login", 16.0),
                text("User", 22.0),
                text("Action", 22.0),
                text("Target type", 16.0),
                text("Target", 28.0),
                text("Details", 40.0),
            ],
            sql: r#"
            SELECT a.at, a.actor_login::text, u.email, a.action, a.target_type, a.target_id, a.data::text
            FROM audit_events a
            LEFT JOIN users u ON u.id = a.actor_user
            WHERE a.at >= coalesce($1::timestamptz, now() - interval '30 days')
              AND a.at < coalesce($2::timestamptz, now())
              AND ($3::text IS NULL OR true) AND ($4::text IS NULL OR true)
            ORDER BY a.at, a.id
            "#,
            needs_select_on: Some("audit_events"),
        },
    ],
    chart: Some(Chart {
        title: "Jobs by status",
        sql: r#"
        SELECT j.status::text, count(*)::float8
        FROM jobs j
        WHERE j.created_at >= coalesce($1::timestamptz, now() - interval '30 days')
          AND j.created_at < coalesce($2::timestamptz, now())
          AND ($3::text IS NULL OR j.type::text = $3) AND ($4::text IS NULL OR j.status::text = $4)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};

// ---------------------------------------------------------------------------------
// Names and dates only: never the username, the ciphertext or the last error text.
pub static CREDENTIAL_ROTATION: Report = Report {
    report_type: ReportType::CredentialRotation,
    title: "Credential rotation",
    description: "Service identities: when their credentials were rotated, when they are due, and who uses them",
    filters: &[
        Filter {
            key: "system",
            kind: FilterKind::Choice(&["vcenter", "idrac", "ome", "other"]),
            help: "external system",
        },
        Filter { key: "overdue", kind: FilterKind::Bool, help: "true: only identities past their rotation date" },
    ],
    sheets: &[Sheet {
        name: "Service identities",
        columns: &[
            text("Name", 22.0),
            text("System", 10.0),
            time("Rotated at"),
            time("Rotation due"),
            int("Rotation period days"),
            flag("Overdue"),
            int("Days until due"),
            time("Last success"),
            time("Last failure"),
            text("Used by", 36.0),
        ],
        sql: r#"
        SELECT si.name, si.system::text, si.rotated_at, si.rotation_due, si.rotation_period_days::int8,
               coalesce(si.rotation_due < now(), false),
               floor(extract(epoch FROM si.rotation_due - now()) / 86400)::int8,
               si.last_success, si.last_failure, used.names
        FROM service_identities si
        LEFT JOIN LATERAL (
            SELECT string_agg(n, ', ' ORDER BY n) AS names FROM (
                SELECT 'vcenter ' || name AS n FROM vcenter_instances WHERE service_identity_id = si.id
                UNION ALL SELECT 'idrac ' || name FROM idrac_endpoints WHERE service_identity_id = si.id
                UNION ALL SELECT 'ome ' || name FROM ome_instances WHERE service_identity_id = si.id
            ) x
        ) used ON true
        WHERE ($1::text IS NULL OR si.system::text = $1)
          AND ($2::boolean IS NULL OR coalesce(si.rotation_due < now(), false) = $2)
        ORDER BY si.rotation_due NULLS LAST, si.name
        "#,
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Service identities by rotation state",
        sql: r#"
        SELECT CASE WHEN si.rotation_due IS NULL THEN 'no due date'
                    WHEN si.rotation_due < now() THEN 'overdue'
                    WHEN si.rotation_due < now() + interval '14 days' THEN 'due within 14 days'
                    ELSE 'on schedule' END, count(*)::float8
        FROM service_identities si
        WHERE ($1::text IS NULL OR si.system::text = $1)
          AND ($2::boolean IS NULL OR coalesce(si.rotation_due < now(), false) = $2)
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#,
    }),
};
