//! The IPAM reports: utilization per prefix (planned and observed addresses against its
//! threshold) and the findings (duplicates, unplanned and missing addresses, conflicts).
//!
//! Owns these reports' sheets and SQL. Each query reads with the caller's rights and
//! orders its rows; it must never count an address twice that is both planned and seen.
use super::filters::SITE;
use super::{int, num, text, time, Chart, Filter, FilterKind, Report, Sheet};
use crate::reports::ReportType;

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
