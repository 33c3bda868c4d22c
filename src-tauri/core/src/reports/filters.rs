//! A report's filters: parsing `key=value` arguments, checking them against what the
//! report type accepts ([`super::catalog`]), and turning them into the values bound to its
//! queries and the sheets it produces (a plan). Also how stored filters (`jsonb`) read back.
//!
//! Owns the rules a filter value must follow (known key, a listed choice, a time, a
//! boolean, a non-empty time range, known sheet names). It must never touch the database
//! or the file system, and never let a value into SQL text: values are only ever bound.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::catalog::{self, FilterKind, Report, Sheet};
use super::pipeline::Bind;
use super::ReportType;
use crate::error::{Error, Result};

/// Filters as given (`site=US-EAST-01`, `cluster=prod-a`, …): strings, checked against the
/// report type's list before anything runs.
pub type Filters = BTreeMap<String, String>;

/// Parse `key=value` arguments.
pub fn parse_filter_args<S: AsRef<str>>(args: &[S]) -> Result<Filters> {
    let mut filters = Filters::new();
    for a in args {
        let a = a.as_ref();
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("filter \"{a}\" must look like key=value (site=US-EAST-01)")))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(Error::invalid(format!("filter \"{a}\" needs both a key and a value")));
        }
        if filters.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(Error::invalid(format!("filter \"{k}\" is given twice")));
        }
    }
    Ok(filters)
}

/// Filters as stored (a `jsonb` column, written from [`Filters`]): read back as strings,
/// whatever else psql may have put there (a non-string value as its JSON text, a
/// non-object as no filters). For `#[sqlx(try_from = "StoredFilters")]`.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub(super) struct StoredFilters(serde_json::Value);

impl From<StoredFilters> for Filters {
    fn from(StoredFilters(v): StoredFilters) -> Filters {
        match v {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
            _ => Filters::new(),
        }
    }
}

/// Filters as a `jsonb` value to store.
pub(super) fn to_json(filters: &Filters) -> Result<serde_json::Value> {
    serde_json::to_value(filters).map_err(|e| Error::internal(e.to_string()))
}

/// What running `report` with `filters` means: the sheets to produce and the values bound.
#[derive(Debug)]
pub(super) struct Plan {
    pub report: &'static Report,
    pub sheets: Vec<&'static Sheet>,
    pub binds: Vec<Bind>,
}

fn accepted_filters(report: &Report) -> String {
    let mut list: Vec<String> = report.filters.iter().map(|f| format!("{} ({})", f.key, f.help)).collect();
    if report.sheets.len() > 1 {
        list.push(format!(
            "{} (comma-separated: {})",
            catalog::SHEET_FILTER,
            report.sheets.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
        ));
    }
    if list.is_empty() {
        "none".into()
    } else {
        list.join("; ")
    }
}

fn parse_time(key: &str, v: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(Error::invalid(format!(
        "filter {key}=\"{v}\" is not a time; use a date (2026-01-31) or an RFC 3339 time (2026-01-31T06:00:00Z)"
    )))
}

/// Check `filters` against what `report_type` accepts and turn them into binds.
pub(super) fn plan(report_type: ReportType, filters: &Filters) -> Result<Plan> {
    let report = report_type.catalog();
    for key in filters.keys() {
        let known =
            report.filters.iter().any(|f| f.key == key) || (key == catalog::SHEET_FILTER && report.sheets.len() > 1);
        if !known {
            return Err(Error::invalid(format!(
                "{report_type} reports have no filter \"{key}\"; they accept: {}",
                accepted_filters(report)
            )));
        }
    }
    let mut binds = Vec::with_capacity(report.filters.len());
    for f in report.filters {
        let value = filters.get(f.key).map(String::as_str);
        binds.push(match (f.kind, value) {
            (FilterKind::Text, v) => Bind::Text(v.map(str::to_owned)),
            (FilterKind::Choice(choices), Some(v)) => {
                let v = v.to_ascii_lowercase();
                if !choices.contains(&v.as_str()) {
                    return Err(Error::invalid(format!(
                        "filter {}=\"{v}\" is not one of: {}",
                        f.key,
                        choices.join(", ")
                    )));
                }
                Bind::Text(Some(v))
            }
            (FilterKind::Choice(_), None) => Bind::Text(None),
            (FilterKind::Time, v) => Bind::Time(v.map(|v| parse_time(f.key, v)).transpose()?),
            (FilterKind::Bool, None) => Bind::Bool(None),
            (FilterKind::Bool, Some(v)) => Bind::Bool(Some(match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(Error::invalid(format!("filter {}=\"{v}\" must be true or false", f.key))),
            })),
        });
    }
    if let (Some(Bind::Time(Some(from))), Some(Bind::Time(Some(to)))) = (
        report.filters.iter().position(|f| f.key == "from").and_then(|i| binds.get(i)),
        report.filters.iter().position(|f| f.key == "to").and_then(|i| binds.get(i)),
    ) {
        if from >= to {
            return Err(Error::invalid(format!("the time range is empty: from {from} is not before to {to}")));
        }
    }
    let sheets: Vec<&'static Sheet> = match filters.get(catalog::SHEET_FILTER) {
        None => report.sheets.iter().collect(),
        Some(list) => {
            let mut chosen = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let sheet = report.sheets.iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                    Error::invalid(format!(
                        "{report_type} reports have no sheet \"{name}\"; sheets: {}",
                        report.sheets.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if !chosen.iter().any(|s: &&Sheet| std::ptr::eq(*s, sheet)) {
                    chosen.push(sheet);
                }
            }
            // Keep the catalog's order whatever order they were named in.
            report.sheets.iter().filter(|s| chosen.iter().any(|c| std::ptr::eq(*c, *s))).collect()
        }
    };
    if sheets.is_empty() {
        return Err(Error::invalid(format!("filter {}= names no sheet", catalog::SHEET_FILTER)));
    }
    Ok(Plan { report, sheets, binds })
}

/// Check a report type's filters without running anything (for definitions and UIs).
pub fn validate_filters(report_type: ReportType, filters: &Filters) -> Result<()> {
    plan(report_type, filters).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn filters_are_checked_against_the_report_type() {
        let f = parse_filter_args(&["cluster=prod-a", "sheet=vInfo,vHost"]).unwrap();
        let p = plan(ReportType::Rvtools, &f).unwrap();
        assert_eq!(p.sheets.iter().map(|s| s.name).collect::<Vec<_>>(), ["vInfo", "vHost"]);
        let e = plan(ReportType::Rvtools, &parse_filter_args(&["colour=red"]).unwrap()).unwrap_err();
        assert!(e.message.contains("no filter \"colour\"") && e.message.contains("cluster"), "{}", e.message);
        let e = plan(ReportType::IpamFindings, &parse_filter_args(&["severity=fatal"]).unwrap()).unwrap_err();
        assert!(e.message.contains("info, warning, error"), "{}", e.message);
        let e = plan(ReportType::JobHistory, &parse_filter_args(&["from=2026-02-01", "to=2026-01-01"]).unwrap())
            .unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
        assert!(parse_filter_args(&["novalue"]).is_err());
        assert!(parse_filter_args(&["a=1", "a=2"]).is_err());
        // Single-sheet reports have no sheet filter.
        assert!(plan(ReportType::IpamFindings, &parse_filter_args(&["sheet=Findings"]).unwrap()).is_err());
    }

    #[test]
    fn stored_filters_read_back_as_strings() {
        let stored = serde_json::json!({"site": "US-EAST-01", "overdue": true, "limit": 5});
        let f = Filters::from(StoredFilters(stored));
        assert_eq!(f["site"], "US-EAST-01");
        assert_eq!(f["overdue"], "true");
        assert_eq!(f["limit"], "5");
        assert!(Filters::from(StoredFilters(serde_json::json!(["site"]))).is_empty());
        let back = to_json(&f).unwrap();
        assert_eq!(back, serde_json::json!({"limit": "5", "overdue": "true", "site": "US-EAST-01"}));
        let e = plan(ReportType::CredentialRotation, &parse_filter_args(&["overdue=maybe"]).unwrap()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.message, "filter overdue=\"maybe\" must be true or false");
    }
}
