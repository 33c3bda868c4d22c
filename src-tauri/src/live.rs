//! Live updates in the desktop: while a session is open, a LISTEN task relays the
//! database's notifications to the window as `eio://live` Tauri events (the same
//! [`LiveEvent`]s a browser gets over SSE, via `eio_core::pages::live::relay`), keeps the
//! tray's pending-approval badge current, and raises a desktop notification when a job
//! awaits this user's approval or one of their jobs pauses or fails, and when a scheduled
//! report is ready (or failed). Clicking the notification opens that job, or the Reports
//! page (`eio://open`).
//!
//! Without a notification daemon notify-rust fails at once: that is logged and ignored;
//! the tray and the events carry on.
//!
//! A notification is a hint, never a fact: any database login may NOTIFY with a payload of
//! its own. Before telling the user anything, the job is read back with the user's own
//! rights ([`facts`]) and judged on the row; each (job, status) is told once; the queue from
//! the listener is bounded (an overflow becomes one "reload" event), and at most
//! [`MAX_NOTIFICATION_THREADS`] notifications wait for a click at once.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use eio_core::api::Session;
use eio_core::jobs::{JobStatus, JobType};
use eio_core::pages::live::{LiveEvent, LiveKind};
use eio_core::pages::shell::ShellModel;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// The Tauri event carrying each [`LiveEvent`] to the window.
pub const LIVE_EVENT: &str = "eio://live";
/// The Tauri event asking the window to show a path (`/jobs/<id>`).
pub const OPEN_EVENT: &str = "eio://open";

/// Why the user should look at a job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    AwaitsYourApproval(Uuid),
    YourJobPaused(Uuid),
    YourJobFailed(Uuid),
    /// A scheduled report (a `report` job nobody submitted by hand) wrote its files.
    ReportReady(Uuid),
    ReportFailed(Uuid),
}

impl Notice {
    pub fn job_id(self) -> Uuid {
        match self {
            Notice::AwaitsYourApproval(id)
            | Notice::YourJobPaused(id)
            | Notice::YourJobFailed(id)
            | Notice::ReportReady(id)
            | Notice::ReportFailed(id) => id,
        }
    }

    /// The page the notification opens.
    pub fn path(self) -> String {
        match self {
            Notice::ReportReady(_) | Notice::ReportFailed(_) => "/reports".into(),
            n => format!("/jobs/{}", n.job_id()),
        }
    }
}

/// Who is signed in, as far as notifications go.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user_id: Option<Uuid>,
    pub may_approve: bool,
}

impl From<&ShellModel> for Viewer {
    fn from(m: &ShellModel) -> Self {
        Viewer { user_id: m.user_id, may_approve: m.me.may.approve_jobs }
    }
}

/// Does `e` deserve a desktop notification for `viewer`?
pub fn notice(e: &LiveEvent, viewer: &Viewer) -> Option<Notice> {
    let job = e.job_id?;
    let mine = viewer.user_id.is_some() && e.initiated_by_user == viewer.user_id;
    let scheduled_report =
        viewer.user_id.is_some() && e.initiated_by_user.is_none() && e.job_type == Some(JobType::Report);
    match e.kind {
        LiveKind::Approval if viewer.may_approve && !mine => Some(Notice::AwaitsYourApproval(job)),
        LiveKind::Job if mine && e.status == Some(JobStatus::Paused) => Some(Notice::YourJobPaused(job)),
        LiveKind::Job if mine && e.status == Some(JobStatus::Failed) => Some(Notice::YourJobFailed(job)),
        // Scheduled reports are everybody's (signed in): the worker ran them for nobody.
        LiveKind::Job if scheduled_report => match e.status {
            Some(JobStatus::Succeeded) => Some(Notice::ReportReady(job)),
            Some(JobStatus::Failed) => Some(Notice::ReportFailed(job)),
            _ => None,
        },
        _ => None,
    }
}

/// Does `e` change the number of jobs awaiting approval?
fn moves_badge(e: &LiveEvent) -> bool {
    matches!(e.kind, LiveKind::Approval | LiveKind::Resync | LiveKind::Job)
}

/// How many events may wait between the listener and the handler.
const QUEUE: usize = 256;
/// How many desktop notifications may wait for a click at once (each holds a thread).
pub const MAX_NOTIFICATION_THREADS: usize = 4;
static NOTIFICATION_THREADS: AtomicUsize = AtomicUsize::new(0);

/// `e` with the job's type, status and initiator as the database says now, read with the
/// session's own rights; None when the job can't be read, or an approval event names a job
/// that is not awaiting approval.
async fn facts(session: &Session, mut e: LiveEvent) -> Option<LiveEvent> {
    let id = e.job_id?;
    let row: Option<(JobType, JobStatus, Option<Uuid>)> =
        sqlx::query_as("SELECT type, status, initiated_by_user FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(session.db.pool())
            .await
            .ok()?;
    let (job_type, status, by) = row?;
    if e.kind == LiveKind::Approval && status != JobStatus::AwaitingApproval {
        return None;
    }
    e.job_type = Some(job_type);
    e.status = Some(status);
    e.initiated_by_user = by;
    Some(e)
}

/// What the user is told, judged on the rows, never on a payload: each event is read back
/// ([`facts`]) and a job is told about when its status changes, however often it is
/// announced (a job sent back for approval is told again: it moved away and back).
#[derive(Default)]
pub struct Judge {
    last_status: HashMap<Uuid, JobStatus>,
}

impl Judge {
    pub async fn notice(&mut self, session: &Session, e: LiveEvent, viewer: &Viewer) -> Option<Notice> {
        if !matches!(e.kind, LiveKind::Job | LiveKind::Approval) {
            return None;
        }
        let fact = facts(session, e).await?;
        let (Some(job), Some(status)) = (fact.job_id, fact.status) else { return None };
        if self.last_status.len() > 4096 {
            self.last_status.clear();
        }
        if self.last_status.insert(job, status) == Some(status) {
            return None;
        }
        notice(&fact, viewer)
    }
}

/// Follow the session: relay while one is open, stop when it closes, restart on a new one.
pub fn spawn<R: Runtime>(app: AppHandle<R>, mut sessions: watch::Receiver<Option<Session>>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let current = sessions.borrow_and_update().clone();
            match current {
                Some(session) => {
                    tokio::select! {
                        _ = relay(&app, &session) => {
                            if sessions.changed().await.is_err() {
                                return;
                            }
                        }
                        changed = sessions.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                }
                None => {
                    crate::tray::set_badge(&app, 0);
                    if sessions.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

async fn shell_model(session: &Session) -> Option<ShellModel> {
    match eio_core::pages::shell::load(&session.db).await {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::debug!(error = %e, "no shell model for the tray");
            None
        }
    }
}

/// Relay one session's notifications until listening fails for good.
pub async fn relay<R: Runtime>(app: &AppHandle<R>, session: &Session) {
    let mut viewer = Viewer::default();
    if let Some(m) = shell_model(session).await {
        crate::tray::set_badge(app, m.approvals_for_me);
        viewer = Viewer::from(&m);
    }
    let (inbox, mut rx, overflowed) = Inbox::new();
    let pool = session.db.pool().clone();
    let listen = async move {
        if let Err(e) = eio_core::pages::live::relay(&pool, move |e| inbox.deliver(e)).await {
            tracing::warn!(error = %e, "no live updates from the database");
        }
    };
    let handle = async {
        let mut judge = Judge::default();
        while let Some(e) = rx.recv().await {
            let e = Inbox::next(&overflowed, e);
            if let Err(err) = app.emit(LIVE_EVENT, &e) {
                tracing::debug!(error = %err, "live event not delivered to the window");
            }
            if moves_badge(&e) {
                if let Some(m) = shell_model(session).await {
                    crate::tray::set_badge(app, m.approvals_for_me);
                    viewer = Viewer::from(&m);
                }
            }
            let Some(n) = judge.notice(session, e, &viewer).await else { continue };
            let title = eio_core::jobs::get(&session.db, n.job_id()).await.map(|j| j.title).unwrap_or_default();
            notify(app, n, &title);
        }
    };
    tokio::join!(listen, handle);
}

/// One of [`MAX_NOTIFICATION_THREADS`] places for a notification waiting on a click; given
/// back however its thread ends (or if it never starts).
struct Slot(&'static AtomicUsize);

impl Slot {
    fn take(count: &'static AtomicUsize) -> Option<Slot> {
        if count.fetch_add(1, Ordering::SeqCst) >= MAX_NOTIFICATION_THREADS {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(count))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The listener's side of the bounded queue: an event that finds it full is dropped and
/// remembered, and the next one handled becomes a single "reload" instead ([`Inbox::next`]).
struct Inbox {
    tx: mpsc::Sender<LiveEvent>,
    overflowed: Arc<AtomicBool>,
}

impl Inbox {
    fn new() -> (Inbox, mpsc::Receiver<LiveEvent>, Arc<AtomicBool>) {
        let (tx, rx) = mpsc::channel::<LiveEvent>(QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        (Inbox { tx, overflowed: overflowed.clone() }, rx, overflowed)
    }

    /// Queue `e`; false once the handler is gone.
    fn deliver(&self, e: LiveEvent) -> bool {
        match self.tx.try_send(e) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The event to handle for `e` taken off the queue: a resync if events were lost.
    fn next(overflowed: &AtomicBool, e: LiveEvent) -> LiveEvent {
        if overflowed.swap(false, Ordering::Relaxed) {
            tracing::info!("live updates came faster than they could be shown: reloading instead");
            return LiveEvent::resync();
        }
        e
    }
}

/// Show a desktop notification; clicking it opens the job. Never fails the caller.
fn notify<R: Runtime>(app: &AppHandle<R>, n: Notice, title: &str) {
    let (summary, body) = match n {
        Notice::AwaitsYourApproval(_) => ("A job awaits your approval", title.to_owned()),
        Notice::YourJobPaused(_) => ("Your job paused and needs a decision", title.to_owned()),
        Notice::YourJobFailed(_) => ("Your job failed", title.to_owned()),
        Notice::ReportReady(_) => ("A scheduled report is ready", title.to_owned()),
        Notice::ReportFailed(_) => ("A scheduled report failed", title.to_owned()),
    };
    let path = n.path();
    let app = app.clone();
    let notification = move || {
        notify_rust::Notification::new().appname("EIO").summary(summary).body(&body).action("default", "Open").show()
    };
    let Some(slot) = Slot::take(&NOTIFICATION_THREADS) else {
        // Enough notifications already wait for a click: show this one without waiting on it.
        if let Err(e) = notification() {
            tracing::info!(error = %e, "no desktop notification (no notification daemon?)");
        }
        return;
    };
    // notify-rust talks D-Bus synchronously and waits for the click: its own thread.
    let spawned = std::thread::Builder::new().name("eio-notification".into()).spawn(move || {
        let _slot = slot;
        match notification() {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    crate::tray::show_main(&app);
                    let _ = app.emit(OPEN_EVENT, &path);
                }
            }),
            Err(e) => tracing::info!(error = %e, "no desktop notification (no notification daemon?)"),
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread for a desktop notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_fills_the_queue_once_and_becomes_one_reload() {
        let (inbox, mut rx, overflowed) = Inbox::new();
        let job = |n: u128| {
            let mut e = LiveEvent::resync();
            e.kind = LiveKind::Job;
            e.job_id = Some(Uuid::from_u128(n));
            e
        };
        for n in 0..(QUEUE as u128 + 500) {
            assert!(inbox.deliver(job(n)), "the handler is still there");
        }
        let mut queued = Vec::new();
        while let Ok(e) = rx.try_recv() {
            queued.push(e);
        }
        assert_eq!(queued.len(), QUEUE, "the queue holds what it holds, never more");
        let first = Inbox::next(&overflowed, queued.remove(0));
        assert_eq!(first.kind, LiveKind::Resync, "the events lost become one reload");
        let second = Inbox::next(&overflowed, queued.remove(0));
        assert_eq!((second.kind, second.job_id), (LiveKind::Job, Some(Uuid::from_u128(1))));
        drop(rx);
        assert!(!inbox.deliver(job(0)), "a closed queue stops the listener");
    }

    #[test]
    fn at_most_a_few_notifications_hold_a_thread() {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let held: Vec<Slot> = (0..MAX_NOTIFICATION_THREADS).map(|_| Slot::take(&COUNT).expect("a free slot")).collect();
        assert!(Slot::take(&COUNT).is_none(), "one more would start another thread");
        assert_eq!(COUNT.load(Ordering::SeqCst), MAX_NOTIFICATION_THREADS);
        drop(held);
        assert_eq!(COUNT.load(Ordering::SeqCst), 0, "every slot is given back");
        assert!(Slot::take(&COUNT).is_some());
    }

    fn event(kind: LiveKind, status: Option<&str>, by: Option<Uuid>) -> LiveEvent {
        let mut e = LiveEvent::resync();
        e.kind = kind;
        e.job_id = Some(Uuid::from_u128(7));
        e.status = status.map(|s| s.parse().unwrap());
        e.initiated_by_user = by;
        e
    }

    #[test]
    fn notifications_go_to_approvers_and_to_the_job_owner() {
        let me = Uuid::from_u128(1);
        let other = Uuid::from_u128(2);
        let approver = Viewer { user_id: Some(me), may_approve: true };
        let operator = Viewer { user_id: Some(me), may_approve: false };
        let job = Uuid::from_u128(7);
        assert_eq!(
            notice(&event(LiveKind::Approval, None, Some(other)), &approver),
            Some(Notice::AwaitsYourApproval(job))
        );
        assert_eq!(notice(&event(LiveKind::Approval, None, Some(me)), &approver), None, "not for my own job");
        assert_eq!(notice(&event(LiveKind::Approval, None, Some(other)), &operator), None);
        assert_eq!(
            notice(&event(LiveKind::Job, Some("paused"), Some(me)), &operator),
            Some(Notice::YourJobPaused(job))
        );
        assert_eq!(
            notice(&event(LiveKind::Job, Some("failed"), Some(me)), &operator),
            Some(Notice::YourJobFailed(job))
        );
        assert_eq!(notice(&event(LiveKind::Job, Some("paused"), Some(other)), &operator), None);
        assert_eq!(notice(&event(LiveKind::Job, Some("running"), Some(me)), &operator), None);
        let nobody = Viewer { user_id: None, may_approve: false };
        assert_eq!(notice(&event(LiveKind::Job, Some("failed"), None), &nobody), None);
    }

    #[test]
    fn scheduled_reports_notify_everyone_signed_in_when_ready_or_failed() {
        let viewer = Viewer { user_id: Some(Uuid::from_u128(1)), may_approve: false };
        let job = Uuid::from_u128(7);
        let report = |status: &str, by: Option<Uuid>| {
            let mut e = event(LiveKind::Job, Some(status), by);
            e.job_type = Some(JobType::Report);
            e
        };
        assert_eq!(notice(&report("succeeded", None), &viewer), Some(Notice::ReportReady(job)));
        assert_eq!(notice(&report("failed", None), &viewer), Some(Notice::ReportFailed(job)));
        assert_eq!(notice(&report("running", None), &viewer), None);
        assert_eq!(Notice::ReportReady(job).path(), "/reports");
        assert_eq!(Notice::YourJobFailed(job).path(), format!("/jobs/{job}"));
        // A report job someone else submitted by hand is theirs; a sync job is nobody's news.
        assert_eq!(notice(&report("succeeded", Some(Uuid::from_u128(2))), &viewer), None);
        let mut sync = event(LiveKind::Job, Some("succeeded"), None);
        sync.job_type = Some(JobType::Sync);
        assert_eq!(notice(&sync, &viewer), None);
        let nobody = Viewer { user_id: None, may_approve: false };
        assert_eq!(notice(&report("succeeded", None), &nobody), None);
    }
}
