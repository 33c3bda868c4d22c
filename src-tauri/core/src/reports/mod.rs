//! Domain 6, Reporting: report definitions (type, filters, formats, cron schedule, output
//! folder) and their executions (pending → generating → completed | failed), rendered to
//! local files in html, csv, json and xlsx.
//!
//! Its parts, each with its own rules:
//! * `enums`: report types, formats and execution statuses (PostgreSQL enums);
//! * [`catalog`]: what each report type is (sheets, columns, SQL, filters, chart);
//! * `filters`: checking a run's filters and planning what it binds and produces;
//! * `definitions`: the named, possibly scheduled reports (`report_definitions`);
//! * `executions`: the execution ledger (`report_executions`);
//! * `run`: running a report, a definition or a `report` job, recorded as it goes;
//! * `pipeline`, `render`, `atomic`: streaming rows from PostgreSQL into files,
//!   written atomically;
//! * `folders`: where files may go (the default folder and the admins' list);
//! * [`schedule`]: cron schedules and the jobs due definitions become;
//! * [`ops`]: the operations the UI's Reports page calls.
//!
//! A report is rendered by whoever runs it, with that login's rights: the desktop user's
//! own login for "run now", a worker for scheduled runs (the job engine calls
//! [`run_job`]). An operator records only their own executions (row-level security);
//! viewers read definitions and history but can't run reports. This module must never
//! hold a whole result set in memory, never leave a partial file where a finished one
//! was (or replace a good one with a broken one), and never put a secret in a report.
//!
//! This file only declares the parts and re-exports what other crates use
//! (`eio_core::reports::run`, `reports::ReportType`, …); it holds no logic of its own
//! beyond turning the database's refusals into sentences.
mod atomic;
pub mod catalog;
mod definitions;
mod enums;
mod executions;
mod filters;
mod folders;
pub mod ops;
mod pipeline;
mod render;
mod run;
pub mod schedule;

pub use definitions::{define, definition, definitions, NewDefinition, ReportDefinition};
pub use enums::{ExecutionStatus, ReportFormat, ReportType};
pub use executions::{execution, history, ExecutionSummary, ReportExecution};
pub use filters::{parse_filter_args, validate_filters, Filters};
pub use folders::{
    allow_output_folder, default_reports_dir, default_reports_dir_from_env, output_folders, remove_output_folder,
    OutputFolder,
};
pub use run::{run, run_definition, run_job, run_job_in, RunOptions, RunRequest};

use crate::error::{Error, ErrorCode};

/// Turn the database's refusals of report writes into sentences an operator can act on.
fn explain_refusal(e: Error, doing: &str) -> Error {
    if e.code != ErrorCode::Forbidden {
        return e;
    }
    let msg = if e.message.contains("row-level security") {
        format!(
            "{doing} was refused: an operator acts only as themselves, and this login is not mapped to an EIO user \
             (or the definition belongs to someone else)"
        )
    } else {
        format!("{doing} needs the operator role; viewers can read report definitions and history but not run or define reports")
    };
    Error::forbidden(msg).with_source(e)
}
