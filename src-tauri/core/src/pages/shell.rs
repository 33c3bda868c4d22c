//! What the frame around every page shows: who is signed in and what they may do, how
//! many jobs await approval (the navigation badge, the tray badge) and whether the kill
//! switch is on (a banner on every page).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::Result;
use crate::identity::{self, Me};
use crate::jobs::{self, KillSwitch};
use crate::Database;

#[derive(Debug, Clone, Serialize, Deserialize, TS, JsonSchema)]
pub struct ShellModel {
    pub me: Me,
    /// The signed-in user's id (None for a login with no user).
    #[ts(type = "string | null")]
    pub user_id: Option<Uuid>,
    /// Jobs awaiting approval that this user could approve (not their own).
    pub approvals_for_me: i64,
    /// All jobs awaiting approval.
    pub pending_approvals: i64,
    /// This user's jobs that are paused and wait for a decision.
    pub my_paused_jobs: i64,
    pub kill_switch: KillSwitch,
}

/// The job counts [`load`] reads in one statement.
#[derive(sqlx::FromRow)]
struct ShellCounts {
    user_id: Option<Uuid>,
    pending: i64,
    for_me: i64,
    paused: i64,
}

pub async fn load(db: &Database) -> Result<ShellModel> {
    let me = identity::me(db).await?;
    let ShellCounts { user_id, pending, for_me, paused } = sqlx::query_as(
        r#"
        SELECT current_app_user_id() AS user_id,
               count(*) FILTER (WHERE j.status = 'awaiting_approval') AS pending,
               count(*) FILTER (WHERE j.status = 'awaiting_approval'
                                  AND j.initiated_by_user IS DISTINCT FROM current_app_user_id()) AS for_me,
               count(*) FILTER (WHERE j.status = 'paused' AND j.initiated_by_user = current_app_user_id()) AS paused
        FROM jobs j
        WHERE j.status IN ('awaiting_approval', 'paused')
        "#,
    )
    .fetch_one(db.pool())
    .await?;
    Ok(ShellModel {
        approvals_for_me: if me.may.approve_jobs { for_me } else { 0 },
        user_id,
        pending_approvals: pending,
        my_paused_jobs: paused,
        kill_switch: jobs::kill_switch(db).await?,
        me,
    })
}
