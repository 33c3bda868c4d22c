//! The handlers the operation registry (`api.rs`) calls for the page models: one line
//! each over a page model. They only read; the actions a page offers are their domains'
//! operations (`crate::jobs::ops`, `crate::inventory::ops`, …).
use crate::api::{NoInput, Session};
use crate::error::Result;

use super::dashboard::{self, DashboardPage};
use super::inventory::{self, HostDetail, IdInput, InventoryPage, InventoryQuery, VmDetail};
use super::jobs::{JobsPage, JobsQuery};
use super::servers::{self, ServerDetail, ServerInput, ServersPage, ServersQuery};
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

pub async fn servers_page(s: &Session, q: ServersQuery) -> Result<ServersPage> {
    servers::load(&s.db, &q).await
}

pub async fn server_detail(s: &Session, i: ServerInput) -> Result<ServerDetail> {
    servers::detail(&s.db, &i.server).await
}

pub async fn jobs_page(s: &Session, q: JobsQuery) -> Result<JobsPage> {
    super::jobs::load(&s.db, &q).await
}

pub async fn settings_page(s: &Session, _: NoInput) -> Result<SettingsPage> {
    settings::load(&s.db).await
}
