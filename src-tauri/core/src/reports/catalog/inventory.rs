//! The vCenter inventory reports: the inventory summary (per cluster, and per server
//! model) and the RVTools-compatible export (vInfo, vHost, vCluster, vNetwork, vSnapshot,
//! vTools, with RVTools' sheet and column names).
//!
//! Owns these reports' sheets and SQL. Each query reads only live (not removed) rows with
//! the caller's rights and orders them; it must never select a secret (the vCenter's
//! credentials, a service identity's username) and never rename an RVTools column that
//! tools downstream read.
use super::filters::{CLUSTER, SITE, VCENTER};
use super::{flag, int, num, text, Chart, Filter, FilterKind, Report, Sheet};
use crate::reports::ReportType;

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
