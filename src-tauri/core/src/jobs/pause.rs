//! Why a job paused, and what a person decided: the shapes the engine writes to
//! `jobs.pause_reason` and `decide_job` writes to `jobs.decision`, typed once here so the
//! engine that writes them, the job page, the approval queue and `eio job show` read the
//! same thing (the UI gets them through the generated bindings, never a copy).
//!
//! This module only describes. It never decides: `decide_job` (in the database) checks a
//! decision against the pause — which VMs may be named, whether shutdown is allowed — and the
//! engine acts on it.
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Choice;

/// Why a job paused, by kind. Every kind carries a sentence for the operator
/// ([`PauseReason::message`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// A host can't enter maintenance mode: these VMs can't be moved off it.
    BlockedEvacuation {
        /// The host's name.
        host: String,
        host_moid: String,
        message: String,
        #[serde(deserialize_with = "readable")]
        blocking_vms: Vec<PausedVm>,
        choices: Vec<Choice>,
        /// The parts of the job's policy that bound the choices.
        policy: PausePolicy,
    },
    /// A server's iDRAC still runs jobs of its own: an update now would be refused or race them.
    DellQueueBusy { host: String, message: String, jobs: Vec<QueuedDellJob>, choices: Vec<Choice> },
    /// A step's external task stopped on something only a person can answer.
    Blocked { step: i32, task: String, details: StepBlock },
    /// A step's external task could not be read several times in a row.
    Unreachable { step: i32, task: String, message: String },
    /// A step's external task did not finish in its time.
    Timeout { step: i32, task: String, message: String },
    /// The kill switch stopped the job at a safe point.
    KillSwitch { reason: String, choices: Vec<Choice> },
    /// A pause this version does not know (written by a newer or older worker): its sentence,
    /// if it had one.
    Unrecognized { message: String },
}

/// A VM that keeps a host from entering maintenance mode, as the engine found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PausedVm {
    pub vm_moid: String,
    pub vm_name: String,
    #[serde(default)]
    pub power_state: Option<String>,
    /// A stable code (`local_storage`, `host_device`, `affinity_rule`, …).
    pub reason_code: String,
    /// What to tell the operator.
    pub reason: String,
    /// `drs` (vCenter said so) or `configuration` (read from the VM before trying).
    #[serde(default)]
    pub source: Option<String>,
    /// vSphere's fault type, when DRS reported it.
    #[serde(default)]
    pub fault_type: Option<String>,
}

/// The policy bounds a blocked evacuation's choices were offered under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct PausePolicy {
    pub allow_vm_shutdown: bool,
    pub vm_limit: i32,
    pub shutdown_timeout_seconds: i32,
}

/// A job in an iDRAC's own queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct QueuedDellJob {
    pub id: String,
    pub state: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// What a blocked step says: a sentence, and the VMs or Dell jobs concerned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct StepBlock {
    /// A stable code (`reset_unconfirmed`), when the step gave one.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "readable")]
    pub blocking_vms: Vec<PausedVm>,
    /// The iDRAC concerned, for a server's step.
    #[serde(default)]
    pub idrac: Option<String>,
    /// The server's power state when the step stopped.
    #[serde(default)]
    pub power_state: Option<String>,
    /// The Dell jobs the step waits on.
    #[serde(default)]
    pub jobs: Vec<WaitedDellJob>,
    #[serde(default)]
    pub choices: Vec<Choice>,
}

/// A Dell job a step waits on, and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct WaitedDellJob {
    pub job_id: String,
    pub state: String,
    pub finished: bool,
}

/// A stored list read as far as it can be: `null` is empty, and an entry this version can't
/// read is left out rather than hiding the others (a pause still offers the VMs it can name).
fn readable<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw: Option<Vec<serde_json::Value>> = Option::deserialize(d)?;
    Ok(raw.unwrap_or_default().into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

impl PauseReason {
    /// The sentence shown to the operator.
    pub fn message(&self) -> String {
        match self {
            PauseReason::BlockedEvacuation { message, .. }
            | PauseReason::DellQueueBusy { message, .. }
            | PauseReason::Unreachable { message, .. }
            | PauseReason::Timeout { message, .. }
            | PauseReason::Unrecognized { message } => message.clone(),
            PauseReason::Blocked { step, task, details } => details
                .message
                .clone()
                .unwrap_or_else(|| format!("step {step} ({task}) is blocked and waits for a decision")),
            PauseReason::KillSwitch { reason, .. } => format!("paused: the kill switch is engaged ({reason})"),
        }
    }

    /// The VMs an operator may name in a decision.
    pub fn blocking_vms(&self) -> &[PausedVm] {
        match self {
            PauseReason::BlockedEvacuation { blocking_vms, .. } => blocking_vms,
            PauseReason::Blocked { details, .. } => &details.blocking_vms,
            _ => &[],
        }
    }

    /// The host it concerns, when there is one.
    pub fn host(&self) -> Option<&str> {
        match self {
            PauseReason::BlockedEvacuation { host, .. } | PauseReason::DellQueueBusy { host, .. } => Some(host),
            _ => None,
        }
    }

    /// Read a stored pause. One this version can't read is kept as its sentence, so a job
    /// page never fails over a pause written by another version of the engine.
    pub fn from_stored(v: serde_json::Value) -> PauseReason {
        match serde_json::from_value(v.clone()) {
            Ok(p) => p,
            Err(e) => PauseReason::Unrecognized {
                message: v["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("the job paused and waits for a decision ({e})")),
            },
        }
    }

    /// The value stored in `jobs.pause_reason`.
    pub fn to_stored(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl From<&eio_connectors::vcenter::BlockingVm> for PausedVm {
    fn from(b: &eio_connectors::vcenter::BlockingVm) -> Self {
        // The connector's enums name themselves in snake_case through serde: the same
        // words the database's `decide_job` and the UI see.
        let word = |v: serde_json::Value| v.as_str().map(str::to_owned);
        PausedVm {
            vm_moid: b.vm_moid.clone(),
            vm_name: b.vm_name.clone(),
            power_state: b.power_state.and_then(|p| word(serde_json::to_value(p).unwrap_or_default())),
            reason_code: b.reason_code.code().to_owned(),
            reason: b.reason.clone(),
            source: word(serde_json::to_value(b.source).unwrap_or_default()),
            fault_type: b.fault_type.clone(),
        }
    }
}

/// What a person decided about a paused job (`jobs.decision`, written by `decide_job`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct Decision {
    pub choice: Choice,
    /// The VMs a shutdown or suspend applies to (moids).
    #[serde(default, deserialize_with = "readable")]
    pub vms: Vec<String>,
    /// Who decided (their email).
    #[serde(default)]
    pub by: Option<String>,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_stored_shape_reads_back_typed() {
        let evac = json!({
            "kind": "blocked_evacuation", "host": "esx-1", "host_moid": "host-1", "message": "esx-1 cannot enter",
            "blocking_vms": [{"vm_moid": "vm-1", "vm_name": "db01", "power_state": "powered_on",
                              "reason_code": "local_storage", "reason": "on local disk", "source": "configuration",
                              "fault_type": null}],
            "choices": ["cancel", "retry", "suspend"],
            "policy": {"allow_vm_shutdown": false, "vm_limit": 20, "shutdown_timeout_seconds": 300},
        });
        let p = PauseReason::from_stored(evac.clone());
        assert_eq!(p.blocking_vms()[0].vm_name, "db01");
        assert_eq!(p.host(), Some("esx-1"));
        assert_eq!(p.to_stored(), evac, "the typed form writes back what it read");

        let step = PauseReason::from_stored(json!({
            "kind": "blocked", "step": 3, "task": "reset:idrac-1",
            "details": {"reason": "reset_unconfirmed", "message": "may or may not", "power_state": "on"},
        }));
        assert_eq!(step.message(), "may or may not");
        let PauseReason::Blocked { details, .. } = &step else { panic!("{step:?}") };
        assert_eq!(details.reason.as_deref(), Some("reset_unconfirmed"));

        let kill =
            PauseReason::from_stored(json!({"kind": "kill_switch", "reason": "storm", "choices": ["retry", "cancel"]}));
        assert_eq!(kill.message(), "paused: the kill switch is engaged (storm)");

        // One unreadable blocker doesn't hide the others; null lists are empty.
        let partial = PauseReason::from_stored(json!({
            "kind": "blocked_evacuation", "host": "esx-1", "host_moid": "host-1", "message": "m",
            "blocking_vms": [{"nope": 1}, {"vm_moid": "vm-2", "vm_name": "web02", "reason_code": "host_device",
                                           "reason": "a host CD-ROM"}],
            "choices": ["cancel"], "policy": {"allow_vm_shutdown": false, "vm_limit": 1, "shutdown_timeout_seconds": 60},
        }));
        assert_eq!(partial.blocking_vms().iter().map(|v| v.vm_name.as_str()).collect::<Vec<_>>(), ["web02"]);
        let null = PauseReason::from_stored(json!({"kind": "blocked", "step": 1, "task": "t",
                                                   "details": {"blocking_vms": null, "message": "x"}}));
        assert_eq!((null.blocking_vms().len(), null.message()), (0, "x".to_string()));

        let unknown = PauseReason::from_stored(json!({"kind": "from_the_future", "message": "ask Ann"}));
        assert_eq!(unknown, PauseReason::Unrecognized { message: "ask Ann".into() });
    }

    #[test]
    fn a_decision_reads_as_the_database_writes_it() {
        let d: Decision = serde_json::from_value(json!({
            "choice": "suspend", "vms": ["vm-1"], "by": "ann@example.test",
            "at": "2026-12-06T11:30:00.123456+00:00", "comment": null,
        }))
        .unwrap();
        assert_eq!((d.choice, d.vms.as_slice()), (Choice::Suspend, &["vm-1".to_string()][..]));
        // `decide_job(id, 'retry', NULL)` from psql stores "vms": null.
        let retry: Decision = serde_json::from_value(json!({
            "choice": "retry", "vms": null, "by": "ann@example.test", "at": "2026-12-06T11:30:00+00:00",
        }))
        .unwrap();
        assert!(retry.vms.is_empty());
    }
}
