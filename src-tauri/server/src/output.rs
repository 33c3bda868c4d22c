//! Printing results for humans (aligned text) or scripts (`--json`, one document).
use eio_core::db::MigrationReport;
use eio_core::identity::service_identities::{ServiceIdentity, WorkerKeyInfo};
use eio_core::identity::users::User;
use eio_core::inventory::{FirmwareRow, HostRow, MappingRow, ServerRow, VmRow};
use eio_core::jobs::policies::ConcurrencyLimit;
use eio_core::jobs::{Choice, JobDetail, JobSummary, PauseReason, Plan, Submitted};
use eio_core::pages::jobs::PolicyChoice;
use eio_core::sources::Source;
use eio_core::status::StatusPage;
use eio_core::Error;
use eio_engine::sync::ledger::RunReport;

pub(crate) fn date(d: Option<chrono::DateTime<chrono::Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into())
}

/// Print rows as aligned columns under a header.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) {
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

pub fn users(list: &[User], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["EMAIL", "ROLE", "LOGIN", "CAPABILITIES", "STATE"],
        list.iter()
            .map(|u| {
                vec![
                    u.email.clone(),
                    u.role.as_str().into(),
                    u.login.clone(),
                    u.capabilities.join(","),
                    if u.disabled { "disabled".into() } else { "active".into() },
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn worker_keys(list: &[WorkerKeyInfo], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["PUBLIC KEY", "LABEL", "TRUSTED", "STATE"],
        list.iter()
            .map(|k| {
                vec![
                    k.public_key.clone(),
                    k.label.clone(),
                    date(Some(k.created_at)),
                    if k.revoked { "revoked".into() } else { "trusted".into() },
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn service_identities(list: &[ServiceIdentity], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["NAME", "SYSTEM", "USERNAME", "ROTATION DUE", "LAST SUCCESS", "LAST FAILURE", "USED BY"],
        list.iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.system.as_str().into(),
                    s.username.clone(),
                    format!("{}{}", date(s.rotation_due), if s.rotation_overdue { " OVERDUE" } else { "" }),
                    date(s.last_success),
                    date(s.last_failure),
                    s.used_by.join(", "),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

pub fn migration(report: &MigrationReport, json: bool) -> Result<(), Error> {
    if json {
        return print_json(report);
    }
    if report.applied.is_empty() {
        println!(
            "{}: schema already at version {}.",
            report.target,
            report.version_after.map_or("none".into(), |v| v.to_string())
        );
    } else {
        println!("{}: applied {} migration(s):", report.target, report.applied.len());
        for m in &report.applied {
            println!("  {:>4}  {}", m.version, m.description);
        }
        println!("Schema now at version {}.", report.version_after.unwrap_or_default());
    }
    if let Some(n @ 1..) = report.vm_count_groups_corrected {
        println!("Recounted the kept VM counts: {n} group(s) had drifted from the VMs.");
    }
    if let Some(n @ 1..) = report.advisory_locks_restricted {
        println!("Took {n} advisory lock function(s) from the application's logins: only EIO's own functions take its locks now.");
    }
    Ok(())
}

/// A command's answer is its exit code (already printed): `main` exits with it and prints
/// nothing more.
#[derive(Debug)]
pub struct ExitWith(pub u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

/// `eio migrate --check`: where the schema stands against this build, as words and an exit
/// code a deployment script can branch on (0 current, 2 behind, 3 ahead).
pub fn schema_check(state: &eio_core::db::SchemaState, json: bool) -> Result<(), Error> {
    let (word, code) = if !state.unknown.is_empty() {
        ("ahead", 3)
    } else if !state.pending.is_empty() {
        ("behind", 2)
    } else {
        ("current", 0)
    };
    if json {
        print_json(&serde_json::json!({
            "state": word,
            "applied_version": state.applied_version,
            "latest_version": state.latest_version,
            "pending": state.pending,
            "unknown": state.unknown,
            "ahead_release": state.ahead_release,
        }))?;
    } else {
        let list = |v: &[i64]| v.iter().map(|n| format!("{n:04}")).collect::<Vec<_>>().join(", ");
        match word {
            "ahead" => println!(
                "ahead: {} (this build knows up to {:04}, the database also has {}); until then this release serves \
                 its API but takes no jobs",
                state.ahead_advice().unwrap_or_default(),
                state.latest_version,
                list(&state.unknown)
            ),
            "behind" => println!(
                "behind: the database is at {}, this build needs {}; run `eio migrate` with an admin login",
                state.applied_version.map_or("no schema".into(), |v| format!("{v:04}")),
                list(&state.pending)
            ),
            _ => println!("current: the schema is at {:04}, this build's latest", state.latest_version),
        }
    }
    if code == 0 {
        return Ok(());
    }
    Err(Error::new(eio_core::error::ErrorCode::SchemaOutdated, format!("the schema is {word}"))
        .with_source(ExitWith(code)))
}

pub fn status(page: &StatusPage, json: bool) -> Result<(), Error> {
    if json {
        return print_json(page);
    }
    let c = &page.connection;
    println!("Database     {} (PostgreSQL {}, database {})", c.target, c.server_version, c.database);
    println!("Encryption   {}", c.encryption);
    let roles = if c.roles.is_empty() { "no EIO role".to_owned() } else { c.roles.join(", ") };
    let user = match &c.user {
        Some(u) => format!(" → {} [{}]", u.email, u.role),
        None => String::new(),
    };
    println!("Login        {}{} ({roles}){user}", c.login, if c.superuser { " (superuser)" } else { "" });
    let s = &page.schema;
    println!(
        "Schema       version {} of {}{}",
        s.applied_version.map_or("none".into(), |v| v.to_string()),
        s.latest_version,
        if s.up_to_date { " (up to date)".to_owned() } else { format!(" ({} pending)", s.pending.len()) }
    );
    if let Some(n) = page.pending_approvals {
        println!("Approvals    {n} pending");
    }
    if let Some(k) = &page.kill_switch {
        println!(
            "Kill switch  {}",
            if k.engaged {
                format!("ENGAGED{}", k.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())
            } else {
                "off".into()
            }
        );
    }
    if !page.tables.is_empty() {
        let width = page.tables.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
        println!("\n{:<width$}  {:>10}", "Table", "Rows");
        for (name, rows) in &page.tables {
            println!("{name:<width$}  {rows:>10}");
        }
    }
    if !page.warnings.is_empty() {
        println!();
        for w in &page.warnings {
            println!("warning: {w}");
        }
    }
    Ok(())
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), T::to_string)
}

pub fn sources(list: &[Source], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["KIND", "NAME", "URL", "TLS", "IDENTITY", "LAST SYNC", "STATUS", "ERROR"],
        list.iter()
            .map(|s| {
                vec![
                    s.kind.as_str().into(),
                    s.name.clone(),
                    s.url.clone(),
                    s.tls.to_string(),
                    s.service_identity.clone(),
                    date(s.last_sync_at),
                    opt(&s.last_sync_status),
                    s.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    );
    Ok(())
}

/// What an endpoint presents, for an operator deciding whether to trust it.
pub fn probe(p: &eio_core::sources::ops::SourceProbe, json: bool) -> Result<(), Error> {
    if json {
        return print_json(p);
    }
    let c = &p.certificate;
    println!("{} presents:", c.endpoint);
    println!("  subject    {}", c.subject);
    println!("  issuer     {}{}", c.issuer, if c.self_signed { " (self-signed)" } else { "" });
    println!("  valid      {} to {}", c.not_before.format("%Y-%m-%d"), c.not_after.format("%Y-%m-%d"));
    if !c.names.is_empty() {
        println!("  names      {}", c.names.join(", "));
    }
    println!("  key        {}", c.key);
    println!("  SHA-256    {}", c.sha256);
    match (&c.refused, c.trusted_by_system, &c.system_trust_error) {
        (Some(why), _, _) => println!("EIO cannot use this certificate: {why}."),
        (None, true, _) => println!("The system's trusted roots verify it: add the source without a pin."),
        (None, false, why) => println!(
            "The system's roots do not trust it ({}). If this is the right endpoint, pin it: --thumbprint {}",
            why.as_deref().unwrap_or("unknown reason"),
            c.sha256
        ),
    }
    match (p.matches_pin, &p.pinned) {
        (Some(true), _) => println!("It is the certificate the source pins now."),
        (Some(false), Some(old)) => println!("It is NOT the certificate the source pins now ({old})."),
        _ => {}
    }
    Ok(())
}

/// Marks a failure whose details the command already printed as JSON, so `main` prints
/// no second JSON document (the exit code and stderr still say it failed).
#[derive(Debug)]
pub struct AlreadyPrinted;

impl std::fmt::Display for AlreadyPrinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("already printed")
    }
}

impl std::error::Error for AlreadyPrinted {}

/// The rows of an iDRAC import (or its preview), errors with their line.
pub fn import(r: &eio_core::sources::import::ImportResult, file: &str, json: bool) -> Result<(), Error> {
    use eio_core::sources::import::ImportStatus;
    if json {
        return print_json(r);
    }
    if r.dry_run {
        println!("{file}: {} row(s) would be added, {} would not (nothing was added).", r.ok, r.failed);
    } else {
        println!("Added {} iDRAC(s) from {file}.", r.ok);
    }
    for row in r.rows.iter().filter(|row| row.status == ImportStatus::Failed) {
        let name = if row.name.is_empty() { String::new() } else { format!(" ({})", row.name) };
        println!("  not added: line {}{name}: {}", row.line, row.error.as_deref().unwrap_or("refused"));
    }
    Ok(())
}

pub fn sync_reports(list: &[RunReport], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    for r in list {
        let counts: Vec<String> = r
            .counts
            .iter()
            .map(|(table, c)| {
                format!(
                    "{table} {} (+{} ~{} -{}{})",
                    c.seen,
                    c.created,
                    c.updated,
                    c.removed,
                    if c.restored > 0 { format!(" restored {}", c.restored) } else { String::new() }
                )
            })
            .collect();
        println!(
            "{} {}: {:?} in {} ms, {} API calls{}{}",
            r.source.as_str(),
            r.source_name,
            r.outcome,
            r.duration_ms,
            r.api_calls,
            if counts.is_empty() { String::new() } else { format!("; {}", counts.join(", ")) },
            r.error.as_deref().map(|e| format!("\n  error: {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

pub fn servers(list: &[ServerRow], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["SERVICE TAG", "MODEL", "GEN", "POWER", "HEALTH", "IDRAC", "IDRAC FW", "DRIVER", "ESXI HOST", "NONCOMPLIANT"],
        list.iter()
            .map(|s| {
                vec![
                    opt(&s.service_tag),
                    opt(&s.model),
                    opt(&s.generation),
                    s.power_state.to_string(),
                    s.health.to_string(),
                    opt(&s.idrac),
                    opt(&s.idrac_firmware),
                    opt(&s.driver),
                    s.esxi_host
                        .clone()
                        .map(|h| format!("{h} ({})", opt(&s.mapping_method)))
                        .unwrap_or_else(|| "-".into()),
                    s.noncompliant_components.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn firmware(list: &[FirmwareRow], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["FQDD", "NAME", "VERSION", "BASELINE", "COMPLIANCE", "CRITICALITY"],
        list.iter()
            .map(|f| {
                vec![
                    f.fqdd.clone(),
                    f.name.clone(),
                    f.version.clone(),
                    opt(&f.baseline_version),
                    opt(&f.compliance),
                    opt(&f.criticality),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn mappings(list: &[MappingRow], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["SERVICE TAG", "IDRAC", "ESXI HOST", "METHOD", "CONFIDENCE", "STATUS", "VERIFIED"],
        list.iter()
            .map(|m| {
                vec![
                    opt(&m.service_tag),
                    opt(&m.idrac),
                    m.esxi_host.clone(),
                    m.method.to_string(),
                    format!("{:.2}", m.confidence),
                    m.status.to_string(),
                    if m.verified { "yes".into() } else { "no".into() },
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn vms(list: &[VmRow], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["NAME", "POWER", "VCPU", "MEMORY MB", "TOOLS", "GUEST IPS", "HOST", "CLUSTER", "SNAPSHOT"],
        list.iter()
            .map(|v| {
                let ips: Vec<String> = v
                    .guest_ips
                    .as_array()
                    .map(|a| a.iter().filter_map(|g| g["ip"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                vec![
                    v.name.clone(),
                    opt(&v.power_state),
                    v.vcpu.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    v.memory_mb.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    opt(&v.tools_status),
                    ips.join(","),
                    opt(&v.host),
                    opt(&v.cluster),
                    if v.has_snapshot { "yes".into() } else { "no".into() },
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn hosts(list: &[HostRow], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["NAME", "CLUSTER", "STATE", "MAINTENANCE", "MODEL", "SERVICE TAG", "ESXI", "VMS", "MGMT IPS", "SERVER"],
        list.iter()
            .map(|h| {
                vec![
                    h.name.clone(),
                    opt(&h.cluster),
                    opt(&h.connection_state),
                    if h.in_maintenance_mode { "yes".into() } else { "no".into() },
                    opt(&h.model),
                    opt(&h.service_tag),
                    opt(&h.esxi_version),
                    h.vms.to_string(),
                    h.management_ips.join(","),
                    opt(&h.server),
                ]
            })
            .collect(),
    );
    Ok(())
}

/// Baselines: EIO's with one line per component, then OME's.
pub fn baselines(list: &[eio_core::jobs::baselines::Baseline], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    let mut rows = Vec::new();
    for b in list {
        let source = match b.source {
            eio_core::jobs::baselines::BaselineSource::Eio => "EIO",
            eio_core::jobs::baselines::BaselineSource::Ome => "OME",
        };
        let head = vec![b.name.clone(), source.into(), b.servers_behind.to_string(), opt(&b.repository)];
        if b.components.is_empty() {
            rows.push([head.clone(), vec!["-".into(), "-".into(), "-".into(), "-".into()]].concat());
        }
        for (i, c) in b.components.iter().enumerate() {
            let lead = if i == 0 { head.clone() } else { vec![String::new(); 4] };
            let restart = if c.reboot_required { "yes" } else { "no" };
            rows.push([lead, vec![c.component.clone(), c.version.clone(), c.package.clone(), restart.into()]].concat());
        }
    }
    table(&["NAME", "SOURCE", "SERVERS OFF", "REPOSITORY", "COMPONENT", "VERSION", "PACKAGE", "RESTART"], rows);
    Ok(())
}

pub fn policies(list: &[PolicyChoice], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    table(
        &[
            "NAME",
            "APPROVAL",
            "VM SHUTDOWN",
            "HARD POWER-OFF",
            "VM LIMIT",
            "SHUTDOWN TIMEOUT",
            "FILTERS",
            "DESCRIPTION",
        ],
        list.iter()
            .map(|p| {
                let filters: Vec<String> = p
                    .tag_filters
                    .iter()
                    .map(|t| format!("tag:{t}"))
                    .chain(p.folder_filters.iter().map(|f| format!("folder:{f}")))
                    .collect();
                vec![
                    p.name.clone(),
                    yes(p.require_approval),
                    yes(p.allow_vm_shutdown),
                    yes(p.allow_hard_poweroff),
                    p.vm_limit.to_string(),
                    format!("{} s", p.shutdown_timeout_seconds),
                    if filters.is_empty() { "-".into() } else { filters.join(", ") },
                    opt(&p.description),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn limits(list: &[ConcurrencyLimit], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["SCOPE", "NAME", "VCENTER", "MAX RUNNING"],
        list.iter()
            .map(|l| {
                vec![
                    l.scope.to_string(),
                    l.name.clone().unwrap_or_else(|| "(default)".into()),
                    opt(&l.vcenter),
                    l.max_running.to_string(),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn jobs(list: &[JobSummary], json: bool) -> Result<(), Error> {
    if json {
        return print_json(&list);
    }
    table(
        &["ID", "TYPE", "STATUS", "TITLE", "BY", "APPROVED BY", "PROGRESS", "CREATED"],
        list.iter()
            .map(|j| {
                vec![
                    j.id.to_string(),
                    j.job_type.to_string(),
                    format!("{}{}", j.status, if j.cancel_requested { " (cancelling)" } else { "" }),
                    j.title.clone(),
                    opt(&j.initiated_by),
                    opt(&j.approved_by),
                    j.progress.map(|p| format!("{:.0}%", p * 100.0)).unwrap_or_else(|| "-".into()),
                    date(Some(j.created_at)),
                ]
            })
            .collect(),
    );
    Ok(())
}

pub fn submitted(s: &Submitted, json: bool) -> Result<(), Error> {
    if json {
        return print_json(s);
    }
    plan(&s.plan);
    match &s.job {
        Some(j) => match (&j.schedule, j.next_run_at) {
            (Some(cron), Some(next)) => println!(
                "Submitted job {} — on the schedule \"{cron}\" (UTC); the first run is created at {} and, like \
                 every run, planned then and approved if its policy says so.",
                j.id,
                next.to_rfc3339()
            ),
            _ => println!("Submitted job {} — {}.", j.id, j.status),
        },
        None => println!("Dry run: nothing submitted."),
    }
    Ok(())
}

/// The first 12 characters of a plan's hash: what `eio job approve --plan` takes.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A plan for people: what it does in order, which VMs move, what the policy forbids and
/// what refuses it (`--json` keeps the structure).
fn plan(p: &Plan) {
    println!("Plan: {}", p.summary);
    // What will stop it comes first: approving needs these acknowledged.
    if !p.blockers.is_empty() {
        println!("PREDICTED BLOCKERS ({}): approving needs --acknowledge-blockers", p.blockers.len());
        let mut host = "";
        for b in &p.blockers {
            if b.host != host {
                host = &b.host;
                println!("  emptying {host}:");
            }
            let who = match (&b.vm_name, &b.vm_moid) {
                (Some(n), Some(m)) => format!("{n} ({m})"),
                _ => "the cluster".into(),
            };
            let evidence = b.evidence.as_deref().map(|e| format!(" — {e}")).unwrap_or_default();
            println!("    {who}: {} [{}]{evidence}", b.reason, b.reason_code);
        }
    }
    let names =
        |vms: &[eio_core::jobs::plan::VmRef]| vms.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ");
    for h in &p.hosts {
        let already = if h.in_maintenance_mode { " (already in maintenance mode)" } else { "" };
        println!(
            "  {}. {}{}{already}",
            h.order,
            h.name,
            h.server.as_deref().map(|t| format!(" (server {t})")).unwrap_or_default()
        );
        if !h.vms_to_move.is_empty() {
            println!("     moves {} VM(s): {}", h.vms_to_move.len(), names(&h.vms_to_move));
        }
        if !h.vms_staying.is_empty() {
            println!("     {} VM(s) stay (not running): {}", h.vms_staying.len(), names(&h.vms_staying));
        }
        // Its firmware, in install order, and its one restart.
        let components: Vec<_> = p.firmware.iter().filter(|f| f.host == h.name).collect();
        for f in &components {
            let when = if f.restart { "staged for the restart" } else { "applies at once" };
            let package = f.package.as_deref().map(|p| format!(", package {p}")).unwrap_or_default();
            println!("     {}: {} → {}{package} ({when})", f.fqdd, f.from, f.to);
        }
        if components.iter().any(|f| f.restart) {
            println!("     then one restart of the server");
        }
    }
    for v in &p.vms {
        println!("  {} ({}): {}", v.name, v.power_state.clone().unwrap_or_default(), v.action);
    }
    for s in &p.servers {
        println!("  {} ({}): {}", opt(&s.service_tag), opt(&s.idrac), s.action);
    }
    for f in &p.forbidden {
        println!("  forbidden by the policy: {f}");
    }
    for n in &p.notes {
        println!("  note: {n}");
    }
    for r in &p.refusals {
        println!("  REFUSED: {r}");
    }
}

/// A pause for people: the sentence, who blocks, what may be chosen.
fn pause(job: uuid::Uuid, p: &PauseReason) {
    println!("paused: {}", p.message());
    let vms = p.blocking_vms();
    if !vms.is_empty() {
        let host = p.host().map(|h| format!(" on {h}")).unwrap_or_default();
        println!("VMs that can't move{host}:");
        for v in vms {
            println!("  {} ({}) — {} [{}]", v.vm_name, v.vm_moid, v.reason, v.reason_code);
        }
    }
    let choices = match p {
        PauseReason::BlockedEvacuation { choices, .. }
        | PauseReason::DellQueueBusy { choices, .. }
        | PauseReason::KillSwitch { choices, .. } => choices.clone(),
        PauseReason::Blocked { details, .. } => details.choices.clone(),
        _ => Vec::new(),
    };
    // Every pause may be retried or cancelled (`decide_job`); some offer more.
    let choices = if choices.is_empty() { vec![Choice::Retry, Choice::Cancel] } else { choices };
    let words: Vec<String> = choices
        .iter()
        .map(|c| match c {
            Choice::Shutdown | Choice::Suspend => format!("--{} VM…", c.as_str()),
            _ => format!("--{}", c.as_str()),
        })
        .collect();
    println!("choose: eio job decide {job} {}", words.join(" | "));
}

pub fn job_detail(d: &JobDetail, json: bool) -> Result<(), Error> {
    if json {
        return print_json(d);
    }
    let j = &d.job;
    println!("{} {} — {}", j.job_type, j.id, j.status);
    println!("{}", j.title);
    println!("initiated by {}, approved by {}", opt(&j.initiated_by), opt(&j.approved_by));
    if let Some(cron) = &j.schedule {
        let next = j.next_run_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "none (ended)".into());
        println!("schedule: \"{cron}\" (UTC), next run {next}");
    }
    if let Some(parent) = j.parent_job_id {
        println!("a run of the scheduled job {parent}");
    }
    if let Some(e) = &j.error {
        println!("error: {e}");
    }
    if let Some(p) = &d.pause_reason {
        pause(j.id, p);
    }
    match &d.plan {
        Some(p) => {
            println!();
            plan(p);
            if let Some(h) = &d.plan_hash {
                println!(
                    "plan {}: `eio job approve {} --plan {}` approves this plan and no other",
                    short(h),
                    j.id,
                    short(h)
                );
            }
        }
        None => println!("no plan recorded"),
    }
    if let Some(x) = &d.decision {
        let vms = if x.vms.is_empty() { String::new() } else { format!(" {}", x.vms.join(", ")) };
        let comment = x.comment.as_deref().map(|c| format!(": \"{c}\"")).unwrap_or_default();
        println!("decided: {}{vms} by {} at {}{comment}", x.choice.as_str(), opt(&x.by), x.at.to_rfc3339());
    }
    if !d.steps.is_empty() {
        println!("\nsteps:");
        for s in &d.steps {
            println!(
                "  {:>3} {:<10} {}{}{}",
                s.seq,
                s.status,
                s.name,
                s.external_task_id.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default(),
                s.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default()
            );
        }
    }
    println!("\nevents:");
    for e in &d.events {
        println!("  {} {:<7} {} ({})", e.at.format("%H:%M:%S"), e.level, e.message, e.actor);
    }
    Ok(())
}
