//! `eio job …`, `eio kill-switch …` and `eio worker`: submitting jobs (with a dry-run
//! plan), the approval queue, answering a paused job, the emergency stop, and running this
//! machine's share of the worker pool.
use std::path::PathBuf;

use clap::{Args, Subcommand};
use eio_core::api::{self, op, NoInput, Session};
use eio_core::config::Config;
use eio_core::jobs::policies::{LimitInput, LimitScope, PolicyChange, PolicyNameInput};
use eio_core::jobs::{
    Choice, FirmwareTarget, JobSpec, JobStatus, MaintenanceTarget, PolicyOverrides, PowerAction, PowerTarget,
    ReportTarget, SubmitRequest, SyncTarget,
};
use eio_core::pages::jobs::{JobCancelInput, JobCommentInput, JobDecideInput, JobIdInput, JobsQuery, KillSwitchInput};
use eio_core::sources::SourceKind;
use eio_core::{Database, Error};
use eio_engine::jobs::{Worker, WorkerConfig};
use uuid::Uuid;

use crate::output;
use crate::source_cmds;

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Plan and submit a job (with --dry-run: only show the plan)
    Submit(Box<SubmitArgs>),
    /// Jobs, newest first
    List {
        /// Only jobs in this state (awaiting_approval for the approval queue)
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One job: plan, steps, events, why it paused
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Approve someone else's job (approvers; never your own)
    Approve {
        id: Uuid,
        #[arg(long)]
        comment: Option<String>,
        /// You have read the plan's predicted blockers (`eio job show ID`) and approve anyway;
        /// needed when it has any
        #[arg(long)]
        acknowledge_blockers: bool,
        /// The plan you read (its hash, or the first 12 characters `eio job show` prints): the
        /// approval is refused if the job's plan is another one now
        #[arg(long, value_name = "HASH")]
        plan: Option<String>,
    },
    /// Deny someone else's job
    Deny {
        id: Uuid,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Cancel a job (a running one stops at its next safe point)
    Cancel {
        id: Uuid,
        #[arg(long, default_value = "cancelled from the command line")]
        reason: String,
    },
    /// Answer a paused job: cancel, retry, or shut down / suspend the VMs blocking it
    Decide(DecideArgs),
    /// Named job policies: what jobs may do (admins change them)
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// How many disruptive jobs may run at once per cluster or site (admins change them)
    #[command(subcommand)]
    Limit(LimitCommand),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The named policies
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a policy, or change one by name: what is not given stays as it is (a new policy
    /// starts safe: approval required, no VM shutdown, no hard power-off)
    Save {
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_name = "true|false")]
        require_approval: Option<bool>,
        #[arg(long, value_name = "true|false")]
        allow_vm_shutdown: Option<bool>,
        #[arg(long, value_name = "true|false")]
        allow_hard_poweroff: Option<bool>,
        /// At most this many VMs per host may be shut down or suspended
        #[arg(long)]
        vm_limit: Option<i32>,
        /// How long a guest shutdown may take before the job pauses (seconds)
        #[arg(long)]
        shutdown_timeout: Option<i32>,
        /// Only VMs with one of these tags may be stopped (repeat; replaces the list)
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only VMs in these folders may be stopped (repeat; replaces the list)
        #[arg(long = "folder")]
        folders: Vec<String>,
        /// Empty the tag and folder filters
        #[arg(long, conflicts_with_all = ["tags", "folders"])]
        clear_filters: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove a named policy (`default` stays)
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LimitCommand {
    /// The limits: per site, per cluster, and the defaults
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set one limit, or remove it with --remove (the default then applies)
    Set {
        /// cluster or site
        scope: LimitScope,
        /// A site code or a cluster name; none for the default of every site or cluster
        name: Option<String>,
        /// For a cluster whose name repeats across vCenters
        #[arg(long)]
        vcenter: Option<String>,
        /// How many may run at once
        #[arg(long, required_unless_present = "remove")]
        max: Option<i32>,
        #[arg(long, conflicts_with = "max")]
        remove: bool,
        #[arg(long)]
        json: bool,
    },
}

impl JobCommand {
    /// Whether the command was asked for JSON (errors then come as JSON too).
    pub fn json(&self) -> bool {
        match self {
            JobCommand::List { json, .. } | JobCommand::Show { json, .. } => *json,
            JobCommand::Policy(
                PolicyCommand::List { json } | PolicyCommand::Save { json, .. } | PolicyCommand::Remove { json, .. },
            )
            | JobCommand::Limit(LimitCommand::List { json } | LimitCommand::Set { json, .. }) => *json,
            JobCommand::Submit(_)
            | JobCommand::Approve { .. }
            | JobCommand::Deny { .. }
            | JobCommand::Cancel { .. }
            | JobCommand::Decide(_) => false,
        }
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "choice")]
pub struct ChoiceArgs {
    #[arg(long)]
    cancel: bool,
    #[arg(long)]
    retry: bool,
    /// Shut these blocking VMs down (only where the job's policy allows, within vm_limit)
    #[arg(long, num_args = 1.., value_name = "VM")]
    shutdown: Vec<String>,
    /// Suspend these blocking VMs
    #[arg(long, num_args = 1.., value_name = "VM")]
    suspend: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    id: Uuid,
    #[command(flatten)]
    choice: ChoiceArgs,
    #[arg(long)]
    comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(subcommand)]
    kind: SubmitKind,
    /// A title for the job (default: the plan's summary)
    #[arg(long, global = true)]
    title: Option<String>,
    /// The named job policy to start from
    #[arg(long, global = true, value_name = "NAME")]
    policy: Option<String>,
    /// JSON with policy fields tightening the named policy ({"vm_limit": 2}); loosening is refused:
    /// a policy that skips approval or allows shutdowns is a named one an admin made
    #[arg(long, global = true, value_name = "FILE")]
    policy_file: Option<PathBuf>,
    /// The same key always yields the same single job
    #[arg(long, global = true)]
    idempotency_key: Option<String>,
    /// Run no earlier than this time (RFC 3339)
    #[arg(long, global = true, conflicts_with = "schedule")]
    run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Run on this cron schedule (five fields, UTC, e.g. "0 2 * * 6"; or @daily): one run per
    /// due time, each planned then and approved like a submitted job; cancel the job to stop it
    #[arg(long, global = true, value_name = "CRON")]
    schedule: Option<String>,
    /// Show the plan; submit nothing
    #[arg(long, global = true)]
    dry_run: bool,
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum SubmitKind {
    /// Enter (or, with --exit, leave) maintenance mode, one host at a time, with DRS evacuation
    MaintenanceMode {
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        exit: bool,
    },
    /// Rolling firmware update: one host at a time, stop on the first failure
    FirmwareUpdate {
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long)]
        cluster: Option<String>,
        /// One component: FQDD prefix (BIOS.Setup, NIC.Integrated) or name fragment
        #[arg(long, default_value = "")]
        component: String,
        /// The version the image installs
        #[arg(long, default_value = "")]
        version: String,
        /// The Dell Update Package, on the worker's disk, or an http(s) URL
        #[arg(long, default_value = "")]
        image: String,
        /// Every component behind this baseline instead, staged together: one maintenance
        /// window and one restart per host (without a name: the one covering these hosts)
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        baseline: Option<String>,
        /// Where the baseline's packages are (a directory on the workers or an http(s)
        /// URL), instead of its repository
        #[arg(long)]
        packages: Option<String>,
    },
    /// Shut down, power off or suspend VMs; restart or power-cycle servers
    Power {
        #[arg(long, value_parser = parse_power_action)]
        action: PowerAction,
        #[arg(long = "vm")]
        vms: Vec<String>,
        #[arg(long = "server")]
        servers: Vec<String>,
    },
    /// A full sync of one source or of a kind of sources
    Sync {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        kind: Option<SourceKind>,
    },
    /// Run a report definition
    Report {
        #[arg(long)]
        definition: String,
    },
}

fn parse_power_action(s: &str) -> Result<PowerAction, String> {
    match s {
        "shutdown" => Ok(PowerAction::Shutdown),
        "power-off" | "power_off" => Ok(PowerAction::PowerOff),
        "suspend" => Ok(PowerAction::Suspend),
        "reset" => Ok(PowerAction::Reset),
        "power-cycle" | "power_cycle" => Ok(PowerAction::PowerCycle),
        o => Err(format!("unknown action {o}: shutdown, power-off, suspend, reset, power-cycle")),
    }
}

#[derive(Debug, Subcommand)]
pub enum KillSwitchCommand {
    /// Stop every job's external calls at once (any operator)
    On {
        #[arg(long)]
        reason: String,
    },
    /// Let jobs run again (admins); paused jobs wait for a retry decision
    Off {
        #[arg(long)]
        reason: String,
    },
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs this process runs at once
    #[arg(long, default_value_t = 8)]
    pub slots: usize,
    /// Seconds a lease lasts without a heartbeat
    #[arg(long, default_value_t = 30)]
    pub lease_ttl: u64,
    /// Milliseconds between looks at a running external task (vCenter task, Dell job)
    #[arg(long, default_value_t = 2000)]
    pub task_poll_ms: u64,
    /// Full sync of every enabled source this often, as jobs run once across all instances (0: never)
    #[arg(long, default_value_t = 15)]
    pub sync_every_minutes: u64,
    /// Also apply vCenter changes as they happen (WaitForUpdatesEx): one watcher per enabled
    /// vCenter across all instances started with this, new sources picked up within a minute
    #[arg(long)]
    pub watch_vcenters: bool,
}

async fn policy(session: &Session, cmd: PolicyCommand) -> Result<(), Error> {
    match cmd {
        PolicyCommand::List { json } => {
            output::policies(&api::call::<op::job_policies>(session, NoInput {}).await?, json)
        }
        PolicyCommand::Save {
            name,
            description,
            require_approval,
            allow_vm_shutdown,
            allow_hard_poweroff,
            vm_limit,
            shutdown_timeout,
            tags,
            folders,
            clear_filters,
            json,
        } => {
            let change = PolicyChange {
                name,
                description,
                require_approval,
                allow_vm_shutdown,
                allow_hard_poweroff,
                vm_limit,
                shutdown_timeout_seconds: shutdown_timeout,
                tag_filters: (clear_filters || !tags.is_empty()).then_some(tags),
                folder_filters: (clear_filters || !folders.is_empty()).then_some(folders),
            };
            let saved = api::call::<op::job_policy_change>(session, change).await?;
            if !json {
                println!("Saved policy {}.", saved.name);
            }
            output::policies(&[saved], json)
        }
        PolicyCommand::Remove { name, json } => {
            let left = api::call::<op::job_policy_remove>(session, PolicyNameInput { name: name.clone() }).await?;
            if json {
                return output::policies(&left, true);
            }
            println!("Removed policy {name}.");
            Ok(())
        }
    }
}

async fn limit(session: &Session, cmd: LimitCommand) -> Result<(), Error> {
    match cmd {
        LimitCommand::List { json } => {
            output::limits(&api::call::<op::concurrency_limits>(session, NoInput {}).await?, json)
        }
        LimitCommand::Set { scope, name, vcenter, max, remove, json } => {
            let max_running = if remove { None } else { max };
            let list =
                api::call::<op::concurrency_limit_set>(session, LimitInput { scope, name, vcenter, max_running })
                    .await?;
            output::limits(&list, json)
        }
    }
}

pub async fn job(db: &Database, cmd: JobCommand) -> Result<(), Error> {
    let session = &Session::new(db.clone());
    match cmd {
        JobCommand::Policy(cmd) => policy(session, cmd).await,
        JobCommand::Limit(cmd) => limit(session, cmd).await,
        JobCommand::Submit(args) => submit(session, *args).await,
        JobCommand::List { status, limit, json } => {
            output::jobs(&api::call::<op::jobs>(session, JobsQuery { status, limit: Some(limit) }).await?, json)
        }
        JobCommand::Show { id, json } => {
            output::job_detail(&api::call::<op::job_detail>(session, JobIdInput { id }).await?, json)
        }
        JobCommand::Approve { id, comment, acknowledge_blockers, plan } => {
            // The plan read, as its full hash; the database refuses it if the plan changes
            // between this read and the approval.
            let plan_hash = match plan.as_deref().map(str::trim) {
                None => None,
                Some(read) if read.len() < 8 => {
                    return Err(Error::invalid("--plan needs at least 8 characters of the plan's hash"))
                }
                Some(read) => {
                    let d = api::call::<op::job_detail>(session, JobIdInput { id }).await?;
                    match d.plan_hash {
                        Some(h) if h.starts_with(&read.to_ascii_lowercase()) => Some(h),
                        Some(h) => {
                            return Err(Error::conflict(format!(
                                "the plan of job {id} is now {}, not the {read} you read: read it again with `eio job \
                                 show {id}`",
                                crate::output::short(&h)
                            )))
                        }
                        None => return Err(Error::conflict(format!("job {id} has no plan to approve"))),
                    }
                }
            };
            let input = JobCommentInput { id, comment, acknowledge_blockers, plan_hash };
            let j = api::call::<op::job_approve>(session, input).await.map_err(|e| {
                if e.code == eio_core::error::ErrorCode::Conflict && e.message.contains("acknowledgement") {
                    Error::conflict(format!(
                        "{}: read them with `eio job show {id}`, then approve with --acknowledge-blockers",
                        e.message
                    ))
                } else {
                    e
                }
            })?;
            println!("Approved job {} ({}); it is now {}.", j.id, j.title, j.status);
            Ok(())
        }
        JobCommand::Deny { id, comment } => {
            let j = api::call::<op::job_deny>(
                session,
                JobCommentInput { id, comment, acknowledge_blockers: false, plan_hash: None },
            )
            .await?;
            println!("Denied job {}: it is {}.", j.id, j.status);
            Ok(())
        }
        JobCommand::Cancel { id, reason } => {
            let j = api::call::<op::job_cancel>(session, JobCancelInput { id, reason: Some(reason) }).await?;
            if j.status == JobStatus::Running {
                println!("Cancel requested: job {} stops at its next safe point.", j.id);
            } else {
                println!("Job {} is {}.", j.id, j.status);
            }
            Ok(())
        }
        JobCommand::Decide(d) => {
            let (choice, vms) = match d.choice {
                ChoiceArgs { cancel: true, .. } => (Choice::Cancel, vec![]),
                ChoiceArgs { retry: true, .. } => (Choice::Retry, vec![]),
                ChoiceArgs { shutdown, .. } if !shutdown.is_empty() => (Choice::Shutdown, shutdown),
                ChoiceArgs { suspend, .. } => (Choice::Suspend, suspend),
            };
            let j = api::call::<op::job_decide>(session, JobDecideInput { id: d.id, choice, vms, comment: d.comment })
                .await?;
            println!("Decision recorded: job {} is {}.", j.id, j.status);
            Ok(())
        }
    }
}

async fn submit(session: &Session, args: SubmitArgs) -> Result<(), Error> {
    let spec = match args.kind {
        SubmitKind::MaintenanceMode { hosts, cluster, exit } => {
            JobSpec::MaintenanceMode(MaintenanceTarget { hosts, cluster, exit })
        }
        SubmitKind::FirmwareUpdate { hosts, cluster, component, version, image, baseline, packages } => {
            JobSpec::FirmwareUpdate(FirmwareTarget { hosts, cluster, component, version, image, baseline, packages })
        }
        SubmitKind::Power { action, vms, servers } => JobSpec::Power(PowerTarget { action, vms, servers }),
        SubmitKind::Sync { source, kind } => JobSpec::Sync(SyncTarget { source, kind, benchmark_noop: false }),
        SubmitKind::Report { definition } => JobSpec::Report(ReportTarget { definition }),
    };
    let policy = match &args.policy_file {
        Some(path) => PolicyOverrides::from_json(
            serde_json::from_str::<serde_json::Value>(
                &std::fs::read_to_string(path).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?,
            )
            .map_err(|e| Error::invalid(format!("{}: not JSON: {e}", path.display())))?,
        )?,
        None => None,
    };
    let submitted = api::call::<op::job_submit>(
        session,
        SubmitRequest {
            spec,
            title: args.title,
            policy_name: args.policy,
            policy,
            idempotency_key: args.idempotency_key,
            run_at: args.run_at,
            schedule: args.schedule,
            dry_run: args.dry_run,
        },
    )
    .await?;
    output::submitted(&submitted, args.json)
}

pub async fn kill_switch(db: &Database, cmd: KillSwitchCommand) -> Result<(), Error> {
    let session = &Session::new(db.clone());
    match cmd {
        KillSwitchCommand::On { reason } => {
            api::call::<op::kill_switch_set>(session, KillSwitchInput { engaged: true, reason }).await?;
            println!("Kill switch ENGAGED: no job makes an external call until an admin releases it.");
            Ok(())
        }
        KillSwitchCommand::Off { reason } => {
            api::call::<op::kill_switch_set>(session, KillSwitchInput { engaged: false, reason }).await?;
            println!("Kill switch released. Jobs it paused wait for a `eio job decide ID --retry`.");
            Ok(())
        }
        KillSwitchCommand::Status { json } => {
            let k = api::call::<op::kill_switch>(session, NoInput {}).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&k).map_err(|e| Error::internal(e.to_string()))?);
            } else if k.engaged {
                println!("ENGAGED by {} ({})", k.changed_by.unwrap_or_default(), k.reason.unwrap_or_default());
            } else {
                println!("off");
            }
            Ok(())
        }
    }
}

/// Run this machine's worker pool until Ctrl-C (or SIGTERM).
pub async fn worker(
    config: &Config,
    db: &Database,
    key_file: Option<&std::path::Path>,
    args: WorkerArgs,
) -> Result<(), Error> {
    let worker = build_worker(config, db, key_file, &args, "worker").await?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let watching = if worker.config.watch_vcenters.is_some() { ", watching vCenters for changes" } else { "" };
    eprintln!("worker {} running {} job slot(s){watching}; Ctrl-C to stop", worker.config.id, worker.config.slots);
    worker.run(stop).await
}

/// This machine's worker pool (`mode`: worker, serve), with the worker key it decrypts
/// service identities with; fails when no key is available. `eio serve` runs the same.
pub async fn build_worker(
    config: &Config,
    db: &Database,
    key_file: Option<&std::path::Path>,
    args: &WorkerArgs,
    mode: &'static str,
) -> Result<Worker, Error> {
    let syncer = source_cmds::syncer(config, db, key_file).await?;
    let mut cfg = WorkerConfig::new(source_cmds::worker_name(), mode);
    cfg.slots = args.slots.max(1);
    cfg.lease_ttl = std::time::Duration::from_secs(args.lease_ttl.max(3));
    cfg.heartbeat_every = cfg.lease_ttl / 3;
    cfg.task_poll = std::time::Duration::from_millis(args.task_poll_ms.max(10));
    cfg.sync_every =
        (args.sync_every_minutes > 0).then(|| std::time::Duration::from_secs(args.sync_every_minutes * 60));
    cfg.idle_poll = cfg.idle_poll.min(cfg.lease_ttl);
    cfg.watch_vcenters = args.watch_vcenters.then_some(std::time::Duration::from_secs(60));
    Ok(Worker::new(syncer, cfg))
}

/// Resolves at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
