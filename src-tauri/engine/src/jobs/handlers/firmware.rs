//! `firmware_update` jobs, OMIVV-style: one host at a time, stop at the first failure.
//!
//! Per host: pre-checks (the iDRAC answers, its Dell job queue is empty — a busy queue pauses
//! and asks, it is never cleared by us), maintenance mode through the gate, one Dell job per
//! component (staged for the next reset, its `JID_…` recorded before waiting), a server
//! reset that applies them, the host back in vCenter, the installed versions verified, and
//! maintenance mode left. An iDRAC reached over WSMan (iDRAC7) pulls the package with
//! `InstallFromURI`: a package on the worker's disk is served to it ([`super::package`])
//! while its update steps run, and the reset is a reboot job (`RID_…`, recorded like a
//! `JID_…`) scheduled after the update jobs. Every external step goes through the step protocol, so a worker
//! killed anywhere leaves a job another worker finishes without repeating an action.
use eio_connectors::idrac::records::{ApplyTime, DriverKind, ResetKind};
use eio_connectors::idrac::{FirmwareImage, FirmwareUpdate, ImageSource};
use eio_core::jobs::pause::QueuedDellJob;
use eio_core::jobs::{Choice, FirmwareTarget, JobSpec, PauseReason};
use serde_json::{json, Value};

use super::actions::{reset_check_started, reset_confirm_window, AwaitHost, ResetServer, UpdateFirmware};
use super::maintenance::{self, Sessions, EXIT_OFFSET, HOST_STRIDE};
use super::{package, targets};
use crate::jobs::context::{JobContext, JobError, StoredDecision};
use crate::sync::Syncer;

const PRECHECK: i32 = 5_000;
const UPDATE: i32 = 6_000;
const RESET: i32 = 7_000;
const AWAIT: i32 = 7_001;
const VERIFY: i32 = 8_000;

/// The package at `location`: a URL the iDRAC pulls, or a file on this worker it is sent.
fn image(location: &str) -> Result<ImageSource, JobError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(ImageSource::Uri(location.to_owned()));
    }
    let bytes = std::fs::read(location)
        .map_err(|e| JobError::Failed(format!("the firmware package {location} can't be read on this worker: {e}")))?;
    let file_name = std::path::Path::new(location)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "firmware.exe".into());
    Ok(ImageSource::Push(FirmwareImage { file_name, bytes: bytes.into() }))
}

pub async fn run(ctx: &JobContext, syncer: &Syncer, t: &FirmwareTarget) -> Result<Value, JobError> {
    let spec = JobSpec::FirmwareUpdate(t.clone());
    let plan = maintenance::plan(ctx, &spec).await?;
    let approved = maintenance::approved_blockers(ctx, &plan);
    let policy = super::policy(ctx)?;
    let mut sessions = Sessions::default();
    let result = async {
        let mut done = Vec::new();
        let n = plan.hosts.len().max(1);
        for (i, planned) in plan.hosts.iter().enumerate() {
            let base = (i as i32 + 1) * HOST_STRIDE;
            let finished = ctx.steps_between(base + EXIT_OFFSET, base + EXIT_OFFSET + 1).await?;
            if finished.first().is_some_and(|s| s.status == "succeeded" || s.status == "skipped") {
                done.push(json!({ "host": planned.name, "result": "updated" }));
                continue;
            }
            let share = |k: f32| (i as f32 + k) / n as f32;
            let host = targets::host(ctx, &planned.moid, planned.vcenter.as_deref()).await?;
            let idrac = host
                .idrac
                .clone()
                .ok_or_else(|| JobError::Failed(format!("{} is not mapped to an iDRAC: map it first", host.name)))?;
            let components: Vec<_> = plan.firmware.iter().filter(|f| f.host == planned.name).collect();

            ctx.progress(share(0.0), format!("{}: pre-checks", host.name)).await?;
            let dell = targets::dell(ctx, syncer, &idrac).await?;
            let outcome = async {
                let pre =
                    ctx.step(base + PRECHECK, &format!("pre-checks: {}", host.name), "precheck", json!({})).await?;
                if pre.status != "succeeded" {
                    ctx.guard().await?;
                    let pending = dell.pending_jobs().await.map_err(|e| JobError::Failed(e.to_string()))?;
                    if !pending.is_empty() {
                        return Err(JobError::pause(PauseReason::DellQueueBusy {
                            host: host.name.clone(),
                            message: format!(
                                "the iDRAC of {} has {} unfinished job(s) ({}): let them finish or clear the queue, \
                                 then choose Retry",
                                host.name,
                                pending.len(),
                                pending
                                    .iter()
                                    .map(|j| format!("{} {}", j.id, j.raw_state))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            jobs: pending
                                .iter()
                                .map(|j| QueuedDellJob {
                                    id: j.id.clone(),
                                    state: j.raw_state.clone(),
                                    name: j.name.clone(),
                                })
                                .collect(),
                            choices: vec![Choice::Cancel, Choice::Retry],
                        }));
                    }
                    ctx.set_step(
                        &pre,
                        "succeeded",
                        Some(json!({ "driver": format!("{:?}", dell.driver_kind()) })),
                        None,
                    )
                    .await?;
                }

                // Every package is read before maintenance mode (a host is never taken down
                // for a package this worker can't read). WSMan: the iDRAC pulls each one; one
                // on our disk is served to it until its update steps are done.
                let url =
                    url::Url::parse(&idrac.url).map_err(|e| JobError::Failed(format!("bad URL {}: {e}", idrac.url)))?;
                let mut served = Vec::new();
                let mut sources = Vec::new();
                for c in &components {
                    let source = image(c.package.as_deref().unwrap_or(&t.image))?;
                    sources.push(match (source, dell.driver_kind()) {
                        (ImageSource::Push(image), DriverKind::Wsman) => {
                            let p = package::serve(&image, &url)
                                .await
                                .map_err(|e| JobError::Failed(format!("{}: {e}", host.name)))?;
                            let uri = ImageSource::Uri(p.url.clone());
                            served.push(p);
                            uri
                        }
                        (source, _) => source,
                    });
                }

                ctx.progress(share(0.1), format!("{}: entering maintenance mode", host.name)).await?;
                let session = sessions.get(ctx, syncer, &host).await?;
                let entered = maintenance::enter(ctx, session, &host, &policy, base, &approved).await?;
                let found_in_maintenance = entered["already"] == json!(true);

                // In the plan's order (the iDRAC first: it applies at once and restarts by
                // itself; then the BIOS; then the rest), every component needing a restart
                // staged for the one restart below.
                let mut staged = Vec::new();
                let mut claimed = Vec::new();
                let mut updates = Vec::new();
                for (k, (c, source)) in components.iter().zip(sources).enumerate() {
                    ctx.progress(share(0.3), format!("{}: updating {} {} → {}", host.name, c.fqdd, c.from, c.to))
                        .await?;
                    // An iDRAC updated just before (by this worker or one that died) restarts
                    // itself: ask nothing of it until it answers again.
                    answers_again(ctx, &dell, &host.name, base + UPDATE + k as i32).await?;
                    let update = FirmwareUpdate {
                        component_fqdd: c.fqdd.clone(),
                        expected_version: c.to.clone(),
                        image: source,
                        apply: if c.restart { ApplyTime::OnReset } else { ApplyTime::Immediate },
                    };
                    let action = UpdateFirmware { dell: &dell, idrac: &idrac.name, update: &update, claimed: &claimed };
                    let out = ctx
                        .run_action(base + UPDATE + k as i32, &format!("update {} on {}", c.fqdd, host.name), &action)
                        .await?;
                    let job_id = out["job_id"].as_str().unwrap_or_default().to_owned();
                    if out["staged"] == json!(true) || out["state"] == json!("RebootPending") {
                        staged.push(job_id.clone());
                    }
                    claimed.push(job_id);
                    updates.push(update);
                }
                // Every package is on the iDRAC now.
                drop(served);

                if !staged.is_empty() {
                    ctx.progress(share(0.5), format!("{}: restarting to apply", host.name)).await?;
                    let reset = ResetServer {
                        dell: &dell,
                        idrac: &idrac.name,
                        kind: ResetKind::GracefulRestart,
                        jobs: staged,
                        confirm_window: reset_confirm_window(),
                    };
                    resend_reset_if_asked(ctx, base + RESET).await?;
                    ctx.run_action(base + RESET, &format!("restart {} to apply the update", host.name), &reset).await?;
                    ctx.progress(share(0.7), format!("{}: waiting for the host to reconnect", host.name)).await?;
                    let session = sessions.get(ctx, syncer, &host).await?;
                    let wait = AwaitHost { session, host: &host.moid };
                    ctx.run_action(base + AWAIT, &format!("{} back in vCenter", host.name), &wait).await?;
                }

                let verify =
                    ctx.step(base + VERIFY, &format!("verify versions: {}", host.name), "verify", json!({})).await?;
                if verify.status != "succeeded" {
                    ctx.guard().await?;
                    let mut checked = Vec::new();
                    for u in &updates {
                        let v = dell.verify(u).await.map_err(|e| JobError::Failed(e.to_string()))?;
                        if !v.is_ok() {
                            let message = format!(
                                "{}: {} reports {} after the update, expected {}",
                                host.name,
                                v.component_fqdd,
                                v.installed_version.as_deref().unwrap_or("nothing"),
                                v.expected_version
                            );
                            ctx.set_step(&verify, "failed", None, Some(&message)).await?;
                            return Err(JobError::Failed(format!(
                                "{message}; stopping (the host stays in maintenance mode)"
                            )));
                        }
                        checked.push(json!({ "component": v.component_fqdd, "installed": v.installed_version }));
                    }
                    ctx.set_step(&verify, "succeeded", Some(json!(checked)), None).await?;
                }

                if found_in_maintenance {
                    let step = ctx
                        .step(
                            base + EXIT_OFFSET,
                            &format!("exit maintenance mode: {}", host.name),
                            "exit_maintenance_mode",
                            json!({}),
                        )
                        .await?;
                    ctx.set_step(&step, "skipped", Some(json!({ "left_in_maintenance_mode": true })), None).await?;
                    ctx.event(
                        "info",
                        format!("{} was in maintenance mode before this job: left there", host.name),
                        json!({ "host": host.moid }),
                    )
                    .await?;
                    return Ok(());
                }
                ctx.progress(share(0.9), format!("{}: leaving maintenance mode", host.name)).await?;
                let session = sessions.get(ctx, syncer, &host).await?;
                maintenance::exit(ctx, session, &host, base + EXIT_OFFSET).await?;
                Ok(())
            }
            .await;
            let _ = dell.close().await;
            outcome?;
            done.push(json!({ "host": host.name, "result": "updated" }));
        }
        ctx.progress(1.0, "done").await?;
        Ok(json!({ "hosts": done }))
    }
    .await;
    sessions.close().await;
    result
}

/// How long an iDRAC may take to answer again after restarting itself (its own firmware
/// applied): `EIO_IDRAC_RESTART_SECONDS`, default 10 minutes.
pub(super) fn idrac_restart_window() -> std::time::Duration {
    let secs = std::env::var("EIO_IDRAC_RESTART_SECONDS").ok().and_then(|s| s.parse::<u64>().ok());
    std::time::Duration::from_secs(secs.unwrap_or(600))
}

/// Wait until the iDRAC answers (its job queue can be read): after its own update it
/// restarts, and an update sent meanwhile would fail. Said once in the job's events; past
/// [`idrac_restart_window`] the job pauses to ask (Retry waits again).
async fn answers_again(
    ctx: &JobContext,
    dell: &eio_connectors::idrac::DellActions,
    host: &str,
    seq: i32,
) -> Result<(), JobError> {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        ctx.guard().await?;
        let why = match dell.pending_jobs().await {
            Ok(_) => return Ok(()),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > idrac_restart_window() {
            return Err(JobError::pause(PauseReason::Unreachable {
                step: seq,
                task: "idrac".into(),
                message: format!(
                    "the iDRAC of {host} has not answered for {} s ({why}): check it, then choose Retry",
                    started.elapsed().as_secs()
                ),
            }));
        }
        if !said {
            said = true;
            ctx.event(
                "info",
                format!("the iDRAC of {host} does not answer (restarting after its own update?): waiting for it"),
                json!({ "kind": "idrac_restarting", "host": host, "error": why }),
            )
            .await?;
        }
        tokio::time::sleep(ctx.poll_every).await;
    }
}

/// After a `reset_unconfirmed` pause, an operator's Retry means "the server did not restart:
/// send it". The step watching for the unconfirmed reset is then closed, so `run_action`
/// issues the reset again — once: closing the step and marking the decision applied are one
/// transaction, and only a decision taken after the watch began counts (a Retry that
/// answered an earlier pause does not). Both times are the database's, so workers' clocks
/// don't matter.
async fn resend_reset_if_asked(ctx: &JobContext, seq: i32) -> Result<(), JobError> {
    let Some(StoredDecision { decision, at }) = ctx.decision()?.filter(|d| d.decision.choice == Choice::Retry) else {
        return Ok(());
    };
    let Some(step) = ctx.steps_between(seq, seq + 1).await?.pop() else { return Ok(()) };
    let Some(task) = step.external_task_id.as_deref().filter(|t| reset_check_started(t).is_some()) else {
        return Ok(());
    };
    if step.status != "waiting" {
        return Ok(());
    }
    // Decided after the watch was recorded, and not applied yet.
    let fresh: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM job_events WHERE step_id = $1 AND data ->> 'external_task_id' = $2
                          AND at < $3::timestamptz)
            AND NOT EXISTS (SELECT 1 FROM job_events WHERE job_id = $4 AND data ->> 'kind' = 'decision_applied'
                              AND data ->> 'decision_at' = $5)",
    )
    .bind(step.id)
    .bind(task)
    .bind(at)
    .bind(ctx.job.id)
    .bind(at)
    .fetch_one(ctx.db.pool())
    .await?;
    if !fresh {
        return Ok(());
    }
    let message =
        format!("step {seq}: {} chose Retry: sending the restart", decision.by.as_deref().unwrap_or("an operator"));
    ctx.reopen_step(&step, message, json!({ "kind": "decision_applied", "decision_at": at, "choice": "retry" })).await
}
