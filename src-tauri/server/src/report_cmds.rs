//! `eio report …`: run a report into a file now, define (scheduled) reports, list the
//! definitions and the history of executions. Everything but `report run` is a thin adapter
//! over the registry's report operations (`report_define`, `report_definitions`,
//! `report_folders`, `report_history`, …). `report run` calls `eio_core::reports::run`
//! directly because it writes to the file or folder `--out` names on this machine, which
//! the `report_run` operation deliberately cannot: that one writes only into the reports
//! folder (or a definition's own folder), so a web session can never choose a path on the
//! server. Either way reports run with this login's rights and are recorded as this
//! login's user.
use std::path::{Path, PathBuf};

use clap::Subcommand;
use eio_core::api::{self, op, NoInput, Session};
use eio_core::config::Config;
use eio_core::reports::ops::{ReportFolderInput, ReportHistoryInput};
use eio_core::reports::{self, NewDefinition, ReportDefinition, ReportExecution, ReportFormat, ReportType, RunRequest};
use eio_core::{Database, Error};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Run a report now into a file (html, csv, json or xlsx)
    Run {
        /// inventory_summary, rvtools, firmware_compliance, server_mapping, ipam_utilization,
        /// ipam_findings, job_history or credential_rotation
        #[arg(value_name = "TYPE", value_parser = ReportType::parse_lenient)]
        report_type: ReportType,
        /// html, csv, json or xlsx
        #[arg(long, value_parser = ReportFormat::parse_lenient)]
        format: ReportFormat,
        /// The file to write (an existing folder: a file named after the report in it)
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// A filter such as site=US-EAST-01, cluster=prod-a, sheet=vInfo (repeatable)
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        /// Print the recorded execution as JSON
        #[arg(long)]
        json: bool,
    },
    /// Create a report definition, or change the one with that name; with --schedule the
    /// job engine runs it on that cron schedule (UTC)
    Define {
        /// The definition's name (letters, digits, . _ -)
        name: String,
        /// The report type (see `eio report run --help`)
        #[arg(long = "type", value_name = "TYPE", value_parser = ReportType::parse_lenient)]
        report_type: ReportType,
        /// Formats to write, repeatable or comma-separated: html, csv, json, xlsx
        #[arg(
            long = "format",
            value_name = "F",
            required = true,
            value_delimiter = ',',
            value_parser = ReportFormat::parse_lenient
        )]
        formats: Vec<ReportFormat>,
        /// Cron schedule, five fields in UTC ("0 6 * * 1" = Mondays 06:00) or @daily; none = on demand
        #[arg(long, value_name = "CRON")]
        schedule: Option<String>,
        /// A filter such as site=US-EAST-01 (repeatable)
        #[arg(long = "filter", value_name = "KEY=VALUE")]
        filters: Vec<String>,
        /// Where its files go (default: the reports folder under the data directory)
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Keep the definition but don't schedule it
        #[arg(long)]
        disabled: bool,
    },
    /// Report definitions with their schedule, next run and last result
    List {
        #[arg(long)]
        json: bool,
    },
    /// The folders report definitions may write to (an admin's list; the reports folder
    /// of the data directory is always allowed)
    Folder {
        #[command(subcommand)]
        cmd: FolderCommand,
    },
    /// Report executions, newest first
    History {
        /// Only the executions of this definition
        #[arg(long)]
        name: Option<String>,
        /// How many to show
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FolderCommand {
    /// Allow definitions to write to this folder (admins)
    Add {
        /// An absolute path
        path: PathBuf,
        /// What the folder is for
        #[arg(long)]
        description: Option<String>,
    },
    /// Take a folder off the list: definitions writing there fail until changed (admins)
    Remove { path: PathBuf },
    /// The allowed folders
    List {
        #[arg(long)]
        json: bool,
    },
}

impl ReportCommand {
    pub fn json(&self) -> bool {
        match self {
            ReportCommand::Run { json, .. } | ReportCommand::List { json } | ReportCommand::History { json, .. } => {
                *json
            }
            ReportCommand::Folder { cmd: FolderCommand::List { json } } => *json,
            ReportCommand::Define { .. } | ReportCommand::Folder { .. } => false,
        }
    }
}

pub async fn report(config: &Config, db: &Database, cmd: ReportCommand) -> Result<(), Error> {
    let session = &Session::new(db.clone());
    match cmd {
        ReportCommand::Run { report_type, format, out, filters, json } => {
            let filters = reports::parse_filter_args(&filters)?;
            // An existing folder, or a path ending in a separator (a folder to create).
            let names_folder = out.is_dir() || out.as_os_str().to_string_lossy().ends_with(std::path::MAIN_SEPARATOR);
            let out = if names_folder {
                out.join(format!(
                    "{}_{}.{}",
                    report_type,
                    chrono::Utc::now().format("%Y%m%d-%H%M%S"),
                    format.extension()
                ))
            } else {
                out
            };
            let request = RunRequest { report_type, format, out, filters, options: Default::default() };
            let done = reports::run(db, &request).await?;
            if json {
                return print_json(&done);
            }
            println!(
                "Wrote {} ({} rows, {}) in {} ms.",
                done.files.join(", "),
                done.row_count.unwrap_or(0),
                size(done.size_bytes.unwrap_or(0)),
                done.duration_ms.unwrap_or(0)
            );
            Ok(())
        }
        ReportCommand::Define { name, report_type, formats, schedule, filters, out_dir, disabled } => {
            let output_dir = out_dir.map(|d| absolute(&d)).transpose()?;
            let def = api::call::<op::report_define>(
                session,
                NewDefinition {
                    name,
                    report_type,
                    formats,
                    schedule,
                    filters: reports::parse_filter_args(&filters)?,
                    output_dir: output_dir.map(|d| d.display().to_string()),
                    enabled: !disabled,
                },
            )
            .await?;
            let folder =
                def.output_dir.clone().unwrap_or_else(|| reports::default_reports_dir(config).display().to_string());
            println!(
                "Report \"{}\" ({}, {}) writes to {}; {}.",
                def.name,
                def.report_type,
                formats_text(&def.formats),
                folder,
                match (&def.schedule, def.next_run_at, def.enabled) {
                    (Some(s), Some(next), true) =>
                        format!("schedule {s} (UTC), next run {}", next.format("%Y-%m-%d %H:%M")),
                    (Some(s), _, false) => format!("schedule {s} (UTC), disabled"),
                    _ => "on demand".into(),
                }
            );
            Ok(())
        }
        ReportCommand::List { json } => {
            definitions(&api::call::<op::report_definitions>(session, NoInput {}).await?, json)
        }
        ReportCommand::Folder { cmd } => {
            let (folders, json) = match cmd {
                FolderCommand::Add { path, description } => {
                    let path = absolute(&path)?;
                    let input = ReportFolderInput { path: path.display().to_string(), description };
                    (api::call::<op::report_folder_add>(session, input).await?, false)
                }
                FolderCommand::Remove { path } => {
                    let input = ReportFolderInput { path: absolute(&path)?.display().to_string(), description: None };
                    (api::call::<op::report_folder_remove>(session, input).await?, false)
                }
                FolderCommand::List { json } => (api::call::<op::report_folders>(session, NoInput {}).await?, json),
            };
            if json {
                return print_json(&folders);
            }
            println!(
                "Always allowed: {} (the reports folder of the data directory)",
                reports::default_reports_dir(config).display()
            );
            for f in &folders {
                println!(
                    "{}{}  (added by {} on {})",
                    f.path,
                    f.description.as_deref().map(|d| format!(" — {d}")).unwrap_or_default(),
                    f.created_by.as_deref().unwrap_or("?"),
                    f.created_at.format("%Y-%m-%d")
                );
            }
            Ok(())
        }
        ReportCommand::History { name, limit, json } => history(
            &api::call::<op::report_history>(session, ReportHistoryInput { name, limit: Some(limit) }).await?,
            json,
        ),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::internal(format!("cannot read the current folder: {e}")))?;
    Ok(cwd.join(path))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn formats_text(formats: &[ReportFormat]) -> String {
    formats.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
}

fn size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / (1 << 10) as f64),
        b => format!("{b} B"),
    }
}

fn date(d: Option<chrono::DateTime<chrono::Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into())
}

/// Aligned columns under a header.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn definitions(list: &[ReportDefinition], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["NAME", "TYPE", "FORMATS", "SCHEDULE (UTC)", "NEXT RUN", "LAST RUN", "LAST STATUS", "FILTERS"],
        list.iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    d.report_type.to_string(),
                    formats_text(&d.formats),
                    match (&d.schedule, d.enabled) {
                        (Some(s), true) => s.clone(),
                        (Some(s), false) => format!("{s} (disabled)"),
                        (None, _) => "on demand".into(),
                    },
                    date(d.next_run_at),
                    date(d.last_run_at),
                    d.last_status.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_else(|| "-".into()),
                    d.filters.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
                ]
            })
            .collect(),
    );
    Ok(())
}

fn history(list: &[ReportExecution], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["STARTED", "DEFINITION", "TYPE", "FORMAT", "STATUS", "ROWS", "SIZE", "MS", "BY", "FILE / ERROR"],
        list.iter()
            .map(|e| {
                vec![
                    date(e.started_at.or(Some(e.created_at))),
                    e.definition.clone().unwrap_or_else(|| "-".into()),
                    e.report_type.to_string(),
                    e.format.to_string(),
                    format!("{:?}", e.status).to_lowercase(),
                    e.row_count.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    e.size_bytes.map(size).unwrap_or_else(|| "-".into()),
                    e.duration_ms.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    e.requested_by.clone().unwrap_or_else(|| {
                        if e.job_id.is_some() {
                            "worker".into()
                        } else {
                            "-".into()
                        }
                    }),
                    e.error.clone().or_else(|| e.storage_path.clone()).unwrap_or_default(),
                ]
            })
            .collect(),
    );
    Ok(())
}
