//! The IPAM reports: utilization per prefix (planned and observed addresses against its
//! threshold) and the findings (duplicates, unplanned and missing addresses, conflicts).
//!
//! Owns these reports' sheets and SQL. Each query reads with the caller's rights and
//! orders its rows; it must never count an address twice that is both planned and seen.
//!
//! `site=` means what it means on the IPAM page: a prefix is at its own site, and one
//! without a site at every site an address seen in it is at; an address seen in use is
//! where site inference placed what carries it (a pin wins; `observed_at_site!`). A
//! finding is at its prefix's site (an address's: the most specific prefix with a site
//! that holds it) or where its address is seen (`findings_at_site!`).
use super::filters::SITE;
use super::{int, num, text, time, Chart, Filter, FilterKind, Report, Sheet};
use crate::reports::ReportType;

/// `held`: the prefixes without a site of their own holding an address seen at site $1.
macro_rules! prefixes_at_site {
    () => {
        concat!(
            "WITH at_site AS MATERIALIZED (",
            crate::ipam::observed_at_site!("(SELECT id FROM sites WHERE code = $1)"),
            "),
             held AS (SELECT DISTINCT p.id FROM at_site a
                      JOIN prefixes p ON p.routing_domain_id = a.routing_domain_id AND p.cidr >>= a.address
                      WHERE p.site_id IS NULL)"
        )
    };
}

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
        sql: concat!(
            prefixes_at_site!(),
            r#"
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
        WHERE ($1::text IS NULL OR s.code = $1 OR p.id IN (SELECT id FROM held))
          AND ($2::text IS NULL OR rd.name = $2) AND ($3::text IS NULL OR p.status::text = $3)
        ORDER BY rd.name, p.cidr, p.id
        "#
        ),
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Most utilized prefixes (%)",
        sql: concat!(
            prefixes_at_site!(),
            r#"
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
        WHERE ($1::text IS NULL OR s.code = $1 OR p.id IN (SELECT id FROM held))
          AND ($2::text IS NULL OR rd.name = $2) AND ($3::text IS NULL OR p.status::text = $3)
        ORDER BY 2 DESC, 1 LIMIT 20
        "#
        ),
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
        Filter {
            key: "site",
            kind: FilterKind::Text,
            help: "site code (US-EAST-01): findings of its prefixes, and of addresses seen where inference placed them",
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
        sql: concat!(
            crate::ipam::findings_at_site!("(SELECT id FROM sites WHERE code = $4)"),
            r#"
        SELECT f.type::text, f.severity::text, f.subject_key, host(f.address), p.cidr::text, f.message,
               f.first_seen_at,
               CASE WHEN f.resolved_at IS NULL THEN greatest(f.last_seen_at, st.last_run_at) ELSE f.last_seen_at END,
               f.resolved_at, f.reopened_count::int8, f.acknowledged_at, u.email
        FROM ipam_findings f
        LEFT JOIN ipam_findings_state st ON st.singleton
        LEFT JOIN prefixes p ON p.id = f.prefix_id
        LEFT JOIN users u ON u.id = f.acknowledged_by
        WHERE ($1::text IS NULL OR f.severity::text = $1) AND ($2::text IS NULL OR f.type::text = $2)
          AND (CASE coalesce($3::text, 'open') WHEN 'open' THEN f.resolved_at IS NULL
                                               WHEN 'resolved' THEN f.resolved_at IS NOT NULL ELSE true END)
          AND ($4::text IS NULL OR f.id IN (SELECT id FROM found))
        ORDER BY f.severity DESC, f.type, f.subject_key, f.id
        "#
        ),
        needs_select_on: None,
    }],
    chart: Some(Chart {
        title: "Findings by type",
        sql: concat!(
            crate::ipam::findings_at_site!("(SELECT id FROM sites WHERE code = $4)"),
            r#"
        SELECT f.type::text, count(*)::float8
        FROM ipam_findings f
        WHERE ($1::text IS NULL OR f.severity::text = $1) AND ($2::text IS NULL OR f.type::text = $2)
          AND (CASE coalesce($3::text, 'open') WHEN 'open' THEN f.resolved_at IS NULL
                                               WHEN 'resolved' THEN f.resolved_at IS NOT NULL ELSE true END)
          AND ($4::text IS NULL OR f.id IN (SELECT id FROM found))
        GROUP BY 1 ORDER BY 2 DESC, 1
        "#
        ),
    }),
};
