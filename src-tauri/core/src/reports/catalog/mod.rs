//! What each report type contains: its sheets, their columns (names, cell types, widths),
//! the SQL that streams their rows, the filters it accepts and the chart its HTML shows.
//!
//! This file owns the shape every report has ([`Report`], [`Sheet`], [`Column`],
//! [`Chart`]) and which report a [`ReportType`] is ([`report`]); the filters are in
//! `filters`, and the reports themselves, grouped by what they read, in `inventory`
//! (vCenter inventory, RVTools), `hardware` (firmware compliance, server mapping),
//! `ipam` (utilization, findings) and `audit` (job history, credential rotation).
//!
//! Every query reads with the caller's own rights, keeps its SQL text constant (filters
//! are bound parameters, `NULL` = not filtered) and orders its rows, so every format of
//! one run holds the same rows in the same order. It must never select a secret: no
//! credential ciphertext, no usernames of service identities, no error texts that could
//! echo a credential.
mod audit;
mod filters;
mod hardware;
mod inventory;
mod ipam;

pub use audit::{CREDENTIAL_ROTATION, JOB_HISTORY};
pub use filters::{Filter, FilterKind, SHEET_FILTER};
pub use hardware::{FIRMWARE_COMPLIANCE, SERVER_MAPPING};
pub use inventory::{INVENTORY_SUMMARY, RVTOOLS};
pub use ipam::{IPAM_FINDINGS, IPAM_UTILIZATION};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_binds_as_many_values_as_its_queries_use() {
        for &t in ReportType::ALL {
            let r = t.catalog();
            assert_eq!(r.report_type, t);
            let n = r.filters.len();
            for sql in r.sheets.iter().map(|s| s.sql).chain(r.chart.iter().map(|c| c.sql)) {
                for i in 1..=n {
                    assert!(sql.contains(&format!("${i}")), "{t}: ${i} unused in {sql}");
                }
                assert!(!sql.contains(&format!("${}", n + 1)), "{t}: binds beyond {n} in {sql}");
            }
            for s in r.sheets {
                let mut names = std::collections::HashSet::new();
                assert!(s.columns.iter().all(|c| names.insert(c.name)), "{t}/{}: duplicate column", s.name);
            }
        }
    }
}
