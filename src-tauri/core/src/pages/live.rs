//! Live updates for open pages: the database's NOTIFY channels (`eio_jobs`,
//! `eio_job_events`, `eio_approvals`, `eio_kill_switch`, `eio_inventory`) relayed as
//! [`LiveEvent`]s — to a browser as Server-Sent Events by `eio serve`, to the desktop's
//! window as Tauri events by its shell. Both relay with [`relay`], so what a page can
//! learn this way is decided in one place.
//!
//! An event only says *what* changed (ids and kinds): the page then asks for its model
//! again with its own rights. Any database login may NOTIFY these channels with a payload of
//! its own making, so an event is a hint, never a fact: the database sends ids only
//! (migration 0050), whatever else a notification carries is dropped here, and a consumer
//! that tells a person something (the desktop's tray) re-reads the row first.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::Result;
use crate::jobs::{EventLevel, JobStatus, JobType};

/// The channels relayed, in the order listened to.
pub const CHANNELS: &[&str] = &["eio_jobs", "eio_job_events", "eio_approvals", "eio_kill_switch", "eio_inventory"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveKind {
    /// A job was created or changed status (`eio_jobs`).
    Job,
    /// A job's timeline grew (`eio_job_events`).
    JobEvent,
    /// A job now awaits approval (`eio_approvals`).
    Approval,
    /// The kill switch was engaged or released (`eio_kill_switch`).
    KillSwitch,
    /// A sync changed the inventory (`eio_inventory`).
    Inventory,
    /// The relay lost its connection and may have missed events: reload what is shown.
    Resync,
}

/// One change, as ids and kinds only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct LiveEvent {
    pub kind: LiveKind,
    #[ts(type = "string | null")]
    pub job_id: Option<Uuid>,
    /// The job's new status (job).
    pub status: Option<JobStatus>,
    /// The job's type (job).
    pub job_type: Option<JobType>,
    /// Who submitted the job (job, approval): for "your job paused" notifications.
    #[ts(type = "string | null")]
    pub initiated_by_user: Option<Uuid>,
    /// The timeline entry's id and level (job_event).
    pub event_id: Option<i64>,
    pub level: Option<EventLevel>,
    /// Kill switch state (kill_switch).
    pub engaged: Option<bool>,
    /// The source synced (inventory).
    pub source: Option<String>,
}

impl LiveEvent {
    fn empty(kind: LiveKind) -> Self {
        LiveEvent {
            kind,
            job_id: None,
            status: None,
            job_type: None,
            initiated_by_user: None,
            event_id: None,
            level: None,
            engaged: None,
            source: None,
        }
    }

    /// The "reload everything" event sent after a reconnect.
    pub fn resync() -> Self {
        Self::empty(LiveKind::Resync)
    }

    /// Read one notification; None for a channel we don't relay or a payload we can't read.
    pub fn from_notification(channel: &str, payload: &str) -> Option<LiveEvent> {
        let v: serde_json::Value = serde_json::from_str(payload).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let id = |k: &str| v.get(k).and_then(|x| x.as_str()).and_then(|s| s.parse::<Uuid>().ok());
        // Ids only: a status, type, initiator or kill-switch state in a payload could be
        // anybody's invention. Consumers that need them read the row (see the desktop's tray).
        let mut e = match channel {
            "eio_jobs" => {
                let mut e = Self::empty(LiveKind::Job);
                e.job_id = id("id");
                e
            }
            "eio_job_events" => {
                let mut e = Self::empty(LiveKind::JobEvent);
                e.job_id = id("job_id");
                e.event_id = v.get("id").and_then(|x| x.as_i64());
                e
            }
            "eio_approvals" => {
                let mut e = Self::empty(LiveKind::Approval);
                e.job_id = id("job_id");
                e
            }
            "eio_kill_switch" => Self::empty(LiveKind::KillSwitch),
            "eio_inventory" => {
                let mut e = Self::empty(LiveKind::Inventory);
                e.source = text("source");
                e
            }
            _ => return None,
        };
        // A source's name, not a paragraph someone slipped into a payload.
        if e.source.as_ref().is_some_and(|x| x.len() > 64) {
            e.source = None;
        }
        Some(e)
    }
}

/// Listen on every channel through `pool` and hand each event to `deliver` until it
/// returns false. A lost connection is re-established (by sqlx) and announced with a
/// [`LiveEvent::resync`]. Fails only if listening can't start at all.
pub async fn relay(pool: &PgPool, mut deliver: impl FnMut(LiveEvent) -> bool) -> Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all(CHANNELS.iter().copied()).await?;
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                if let Some(e) = LiveEvent::from_notification(n.channel(), n.payload()) {
                    if !deliver(e) {
                        return Ok(());
                    }
                }
            }
            Ok(None) => {
                tracing::warn!("live updates: the database connection was lost; reconnecting");
                if !deliver(LiveEvent::resync()) {
                    return Ok(());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "live updates: listening failed; retrying in 2 s");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if !deliver(LiveEvent::resync()) {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_become_ids_and_kinds_only() {
        let id = Uuid::new_v4();
        // A forged payload's claims (status, initiator) are not taken: ids only.
        let e = LiveEvent::from_notification(
            "eio_jobs",
            &format!(
                r#"{{"id": "{id}", "type": "power", "status": "awaiting_approval", "initiated_by_user": "{id}"}}"#
            ),
        )
        .unwrap();
        assert_eq!((e.kind, e.job_id), (LiveKind::Job, Some(id)));
        assert_eq!((e.status, e.job_type, e.initiated_by_user), (None, None, None));
        let k = LiveEvent::from_notification(
            "eio_kill_switch",
            r#"{"engaged": true, "reason": "storage outage at DC2", "changed_by": "alice"}"#,
        )
        .unwrap();
        let shown = serde_json::to_string(&k).unwrap();
        assert!(!shown.contains("storage outage") && !shown.contains("alice"), "{shown}");
        assert_eq!((k.kind, k.engaged), (LiveKind::KillSwitch, None));
        let inv = LiveEvent::from_notification("eio_inventory", r#"{"source": "vc1", "run": "x", "moids": ["vm-1"]}"#)
            .unwrap();
        assert!(!serde_json::to_string(&inv).unwrap().contains("vm-1"));
        assert_eq!(LiveEvent::from_notification("other", "{}"), None);
        assert_eq!(LiveEvent::from_notification("eio_jobs", "not json"), None);
    }
}
