//! The handlers the operation registry (`api.rs`) calls for the page models and the
//! actions their pages offer: one line each over a page model or a domain service.
use crate::api::{NoInput, Session};
use crate::error::Result;
use crate::jobs::{self, JobDetail, JobSummary, KillSwitch, SubmitRequest, Submitted};

use super::dashboard::{self, DashboardPage};
use super::inventory::{self, HostDetail, IdInput, InventoryPage, InventoryQuery, VmDetail};
use super::jobs::{JobCancelInput, JobCommentInput, JobDecideInput, JobIdInput, JobsPage, JobsQuery, KillSwitchInput};
use super::servers::{self, ManualMappingInput, ServerDetail, ServerInput, ServersPage};
use super::settings::{self, SettingsPage};

pub async fn shell_page(s: &Session, _: NoInput) -> Result<super::shell::ShellModel> {
    super::shell::load(&s.db).await
}

pub async fn dashboard_page(s: &Session, _: NoInput) -> Result<DashboardPage> {
    dashboard::load(&s.db).await
}

pub async fn inventory_page(s: &Session, q: InventoryQuery) -> Result<InventoryPage> {
    inventory::load(&s.db, &q).await
}

pub async fn vm_detail(s: &Session, i: IdInput) -> Result<VmDetail> {
    inventory::vm(&s.db, i.id).await
}

pub async fn host_detail(s: &Session, i: IdInput) -> Result<HostDetail> {
    inventory::host(&s.db, i.id).await
}

pub async fn servers_page(s: &Session, _: NoInput) -> Result<ServersPage> {
    servers::load(&s.db).await
}

pub async fn server_detail(s: &Session, i: ServerInput) -> Result<ServerDetail> {
    servers::detail(&s.db, &i.server).await
}

pub async fn mapping_set(s: &Session, i: ManualMappingInput) -> Result<ServerDetail> {
    servers::set_manual_mapping(&s.db, &i).await
}

pub async fn jobs_page(s: &Session, q: JobsQuery) -> Result<JobsPage> {
    super::jobs::load(&s.db, &q).await
}

/// Jobs, newest first, optionally in one state (default limit 100).
pub async fn jobs_list(s: &Session, q: JobsQuery) -> Result<Vec<JobSummary>> {
    jobs::list(&s.db, q.status.as_deref(), q.limit.unwrap_or(100).max(1)).await
}

pub async fn kill_switch(s: &Session, _: NoInput) -> Result<KillSwitch> {
    jobs::kill_switch(&s.db).await
}

pub async fn job_detail(s: &Session, i: JobIdInput) -> Result<JobDetail> {
    jobs::detail(&s.db, i.id).await
}

pub async fn job_submit(s: &Session, r: SubmitRequest) -> Result<Submitted> {
    check_policy_overrides(r.policy.as_ref())?;
    jobs::submit(&s.db, &r).await
}

/// Policy overrides as the database accepts them, checked here so a malformed one is the
/// caller's mistake (invalid input) rather than a policy the service can't read back.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PolicyOverrides {
    allow_vm_shutdown: Option<bool>,
    allow_hard_poweroff: Option<bool>,
    vm_limit: Option<i32>,
    shutdown_timeout_seconds: Option<i32>,
    require_approval: Option<bool>,
    tag_filters: Option<Vec<String>>,
    folder_filters: Option<Vec<String>>,
}

fn check_policy_overrides(policy: Option<&serde_json::Value>) -> Result<()> {
    match policy {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(v) => serde_json::from_value::<PolicyOverrides>(v.clone())
            .map(|_| ())
            .map_err(|e| crate::Error::invalid(format!("policy overrides: {e}"))),
    }
}

pub async fn job_approve(s: &Session, i: JobCommentInput) -> Result<JobSummary> {
    jobs::approve(&s.db, i.id, i.comment.as_deref(), i.acknowledge_blockers, i.plan_hash.as_deref()).await
}

pub async fn job_deny(s: &Session, i: JobCommentInput) -> Result<JobSummary> {
    jobs::deny(&s.db, i.id, i.comment.as_deref()).await
}

pub async fn job_cancel(s: &Session, i: JobCancelInput) -> Result<JobSummary> {
    jobs::cancel(&s.db, i.id, i.reason.as_deref().unwrap_or("cancelled from the UI")).await
}

pub async fn job_decide(s: &Session, i: JobDecideInput) -> Result<JobSummary> {
    jobs::decide(&s.db, i.id, i.choice, &i.vms, i.comment.as_deref()).await
}

pub async fn kill_switch_set(s: &Session, i: KillSwitchInput) -> Result<KillSwitch> {
    jobs::set_kill_switch(&s.db, i.engaged, &i.reason).await
}

pub async fn settings_page(s: &Session, _: NoInput) -> Result<SettingsPage> {
    settings::load(&s.db).await
}
