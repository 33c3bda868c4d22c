//! The closed vocabularies of reporting, each a PostgreSQL enum: what a report is
//! ([`ReportType`], `report_type`), which file it becomes ([`ReportFormat`],
//! `report_format`) and where an execution stands ([`ExecutionStatus`], `report_status`).
//!
//! Owns their spellings, which serde, TypeScript, the JSON schema, sqlx and the command
//! line all share (the `db_enum!` macro), and the forgiving parse a person's typing gets
//! (`ipam-findings`, `HTML`). It must never spell a value differently from its PostgreSQL
//! enum, and never touch the database or the file system.
use crate::db::db_enum;
use crate::error::{Error, Result};

use super::catalog::{self, Report};

db_enum! {
    /// The report types (`report_type` in the database).
    pub enum ReportType: "report_type", "report type" {
        InventorySummary = "inventory_summary",
        Rvtools = "rvtools",
        FirmwareCompliance = "firmware_compliance",
        ServerMapping = "server_mapping",
        IpamUtilization = "ipam_utilization",
        IpamFindings = "ipam_findings",
        JobHistory = "job_history",
        CredentialRotation = "credential_rotation",
    }
}

impl ReportType {
    pub fn catalog(self) -> &'static Report {
        catalog::report(self)
    }

    /// As a person types it (the command line): any case, `-` for `_`
    /// (`ipam-findings`); an unknown name is answered with the list of known ones.
    pub fn parse_lenient(s: &str) -> Result<ReportType> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        wanted.parse().map_err(|_: Error| {
            Error::invalid(format!(
                "unknown report type \"{s}\"; known types: {}",
                ReportType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

db_enum! {
    /// The file formats (`report_format` in the database).
    pub enum ReportFormat: "report_format", "report format" {
        Html = "html",
        Csv = "csv",
        Json = "json",
        Xlsx = "xlsx",
    }
}

impl ReportFormat {
    /// The file extension, which is also the name.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// As a person types it (the command line): any case (`HTML`).
    pub fn parse_lenient(s: &str) -> Result<ReportFormat> {
        let wanted = s.trim().to_ascii_lowercase();
        wanted.parse().map_err(|_: Error| {
            Error::invalid(format!("unknown report format \"{s}\"; formats: html, csv, json, xlsx"))
        })
    }
}

db_enum! {
    /// Where an execution stands (`report_status` in the database).
    pub enum ExecutionStatus: "report_status", "report execution status" {
        Pending = "pending",
        Generating = "generating",
        Completed = "completed",
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn names_parse_both_ways() {
        for &t in ReportType::ALL {
            assert_eq!(t.as_str().parse::<ReportType>().unwrap(), t);
            assert_eq!(ReportType::parse_lenient(t.as_str()).unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.as_str()));
        }
        assert_eq!(ReportType::parse_lenient(" IPAM-Findings ").unwrap(), ReportType::IpamFindings);
        let e = ReportType::parse_lenient("rvtool").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(
            e.message,
            "unknown report type \"rvtool\"; known types: inventory_summary, rvtools, firmware_compliance, \
             server_mapping, ipam_utilization, ipam_findings, job_history, credential_rotation"
        );
        for &f in ReportFormat::ALL {
            assert_eq!(f.as_str().parse::<ReportFormat>().unwrap(), f);
            assert_eq!(ReportFormat::parse_lenient(&f.as_str().to_uppercase()).unwrap(), f);
            assert_eq!(f.extension(), f.as_str());
        }
        let e = ReportFormat::parse_lenient("pdf").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.message, "unknown report format \"pdf\"; formats: html, csv, json, xlsx");
        for &s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
    }
}
