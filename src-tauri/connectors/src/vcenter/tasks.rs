//! vCenter tasks: starting the few VM operations EIO performs, and following a task to its
//! end.
//!
//! Owns task polling (Task `info`: state, progress, error, result). Starting an operation
//! and waiting for it are separate calls on purpose: the engine records the task id
//! before it waits, so a resumed worker re-attaches instead of starting it again. It must
//! never retry an operation by itself.
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{FaultKind, SoapFault, VcenterError};
use super::soap::{esc, MoRef};
use super::{child_text, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    Success,
    Error,
}

impl TaskState {
    /// Success or Error: the task will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(self, TaskState::Success | TaskState::Error)
    }
}

/// A task as vCenter describes it (`Task.info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub moid: String,
    pub state: TaskState,
    /// Percent done, when vCenter says.
    pub progress: Option<u8>,
    /// Why it failed (state Error).
    pub error: Option<SoapFault>,
    /// The managed object a successful task produced (a new VM, a snapshot…), if any.
    pub result_moid: Option<String>,
    /// What the task acts on.
    pub entity_moid: Option<String>,
    /// The entity's name as vCenter shows it.
    pub entity_name: Option<String>,
    /// What the task does, in vCenter's words: `info.description.message` when vCenter
    /// fills it, else the method (`info.name`, e.g. `EnterMaintenanceMode_Task`).
    pub description: Option<String>,
    /// vCenter's id for the kind of task, e.g. `HostSystem.enterMaintenanceMode`.
    pub description_id: Option<String>,
    /// Someone asked vCenter to cancel it.
    pub cancelled: bool,
    /// vCenter would accept a CancelTask now.
    pub cancelable: bool,
    pub queue_time: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub complete_time: Option<DateTime<Utc>>,
}

impl Session {
    /// Read a task's current state. Safe to repeat, from any session: this is how a resumed
    /// worker re-attaches to a task whose moid it saved. A task vCenter no longer knows
    /// (purged some time after it ended, or vCenter restarted) is
    /// [`VcenterError::TaskNotFound`]: look at the target's state instead.
    pub async fn task_info(&self, task_moid: &str) -> Result<TaskInfo, VcenterError> {
        let task = MoRef::new("Task", task_moid);
        let inner = format!(
            "{}<specSet><propSet><type>Task</type><pathSet>info</pathSet></propSet><objectSet>{}<skip>false</skip></objectSet></specSet><options/>",
            self.services.property_collector.xml("_this"),
            task.xml("obj")
        );
        let node = match self.soap.call_returnval("RetrievePropertiesEx", &inner).await {
            Ok(Some(node)) => node,
            // vCenter answers an unknown object with ManagedObjectNotFound; some builds
            // (and vcsim) with an empty result instead.
            Ok(None) => return Err(self.task_not_found(task_moid)),
            Err(e) if e.fault().is_some_and(|f| f.kind == FaultKind::ManagedObjectNotFound) => {
                return Err(self.task_not_found(task_moid))
            }
            Err(e) => return Err(e),
        };
        let info = node
            .children_named("objects")
            .flat_map(|o| o.children_named("propSet"))
            .find(|p| p.text_of("name").map(str::trim) == Some("info"))
            .and_then(|p| p.child("val"))
            .ok_or_else(|| self.soap.unexpected("RetrievePropertiesEx", "the task's info"))?;
        let state = match info.text_of("state").map(str::trim) {
            Some("queued") => TaskState::Queued,
            Some("running") => TaskState::Running,
            Some("success") => TaskState::Success,
            Some("error") => TaskState::Error,
            _ => return Err(self.soap.unexpected("RetrievePropertiesEx", "a known task state")),
        };
        Ok(TaskInfo {
            moid: task_moid.to_owned(),
            state,
            progress: info.text_of("progress").and_then(|p| p.trim().parse::<u8>().ok()).map(|p| p.min(100)),
            error: info.child("error").map(SoapFault::from_localized),
            result_moid: info.child("result").and_then(MoRef::from_node).map(|r| r.value),
            entity_moid: child_text(info, "entity"),
            entity_name: child_text(info, "entityName"),
            description: info
                .child("description")
                .and_then(|d| child_text(d, "message"))
                .or_else(|| child_text(info, "name")),
            description_id: child_text(info, "descriptionId"),
            cancelled: child_text(info, "cancelled").as_deref() == Some("true"),
            cancelable: child_text(info, "cancelable").as_deref() == Some("true"),
            queue_time: time_of(info, "queueTime"),
            start_time: time_of(info, "startTime"),
            complete_time: time_of(info, "completeTime"),
        })
    }

    fn task_not_found(&self, task_moid: &str) -> VcenterError {
        VcenterError::TaskNotFound { host: self.soap.host().to_owned(), task: task_moid.to_owned() }
    }

    /// Poll a task until it succeeds (its info), fails ([`VcenterError::TaskFailed`]) or
    /// `timeout` passes ([`VcenterError::TaskTimeout`]; the task may still be running).
    pub async fn wait_for_task(&self, task_moid: &str, timeout: Duration) -> Result<TaskInfo, VcenterError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            let info = self.task_info(task_moid).await?;
            match info.state {
                TaskState::Success => return Ok(info),
                TaskState::Error => {
                    let fault = info.error.unwrap_or_else(|| SoapFault::new("MethodFault", "the task failed"));
                    return Err(VcenterError::TaskFailed {
                        host: self.soap.host().to_owned(),
                        task: task_moid.to_owned(),
                        fault: Box::new(fault),
                    });
                }
                TaskState::Queued | TaskState::Running => {}
            }
            if started.elapsed() + pause > timeout {
                return Err(VcenterError::TaskTimeout {
                    host: self.soap.host().to_owned(),
                    task: task_moid.to_owned(),
                    seconds: timeout.as_secs(),
                });
            }
            // Polling the server's task, not synchronising with ourselves.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Call a `…_Task` method and return the task's moid (nothing else is waited for).
    pub(crate) async fn start_task(&self, method: &'static str, inner: &str) -> Result<String, VcenterError> {
        let node = self.soap.call_required(method, inner).await?;
        MoRef::from_node(&node).map(|t| t.value).ok_or_else(|| self.soap.unexpected(method, "the task reference"))
    }

    /// Hard power-off (PowerOffVM_Task). Returns the task's moid.
    pub async fn power_off_vm(&self, vm_moid: &str) -> Result<String, VcenterError> {
        self.start_task("PowerOffVM_Task", &MoRef::new("VirtualMachine", vm_moid).xml("_this")).await
    }

    /// Power on (PowerOnVM_Task). Returns the task's moid.
    pub async fn power_on_vm(&self, vm_moid: &str) -> Result<String, VcenterError> {
        self.start_task("PowerOnVM_Task", &MoRef::new("VirtualMachine", vm_moid).xml("_this")).await
    }

    /// Set advanced settings (`extraConfig` key/value pairs) with ReconfigVM_Task.
    /// Returns the task's moid.
    pub async fn set_vm_extra_config(&self, vm_moid: &str, entries: &[(&str, &str)]) -> Result<String, VcenterError> {
        let mut inner = MoRef::new("VirtualMachine", vm_moid).xml("_this");
        inner.push_str("<spec>");
        for (k, v) in entries {
            inner.push_str(&format!(
                "<extraConfig xsi:type=\"OptionValue\"><key>{}</key><value xsi:type=\"xsd:string\">{}</value></extraConfig>",
                esc(k),
                esc(v)
            ));
        }
        inner.push_str("</spec>");
        self.start_task("ReconfigVM_Task", &inner).await
    }
}

/// An `xsd:dateTime` child, if present and readable.
fn time_of(n: &super::xml::Node, name: &str) -> Option<DateTime<Utc>> {
    let text = child_text(n, name)?;
    DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&Utc))
}
