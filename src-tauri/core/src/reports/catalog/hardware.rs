//! The Dell hardware reports: firmware compliance (installed versions against the OME
//! baseline) and the server ↔ ESXi host mapping (how each pair was matched, how sure).
//!
//! Owns these reports' sheets and SQL. Each query reads with the caller's rights and
//! orders its rows; it must never select a secret (an iDRAC's or OME's credentials, a
//! sync's error text).
use super::filters::SITE;
use super::{flag, num, text, time, Chart, Filter, FilterKind, Report, Sheet};
use crate::reports::ReportType;

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
