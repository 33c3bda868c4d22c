//! # tap — hold a simulator's answer while a test acts
//!
//! A test arms a [`CallTap`] for some kinds of state-changing call (the ledger's names:
//! `MultipartUpdate`, `ComputerSystem.Reset`, `EnterMaintenanceMode_Task`, …) on the Dell lab
//! ([`crate::dell::DellLab::set_tap`]) and the lab vCenter
//! ([`crate::vcenter::LabVcenter::set_tap`]). When such a call arrives, the simulator acts on
//! it as always (the action is in its ledger and has taken effect), then hands the test a
//! [`HeldCall`] and does not answer until the test drops it. In between, the client that sent
//! the call is waiting for an answer it hasn't got: the window between issuing an action and
//! learning (and recording) that it happened. The crash harness SIGKILLs the client there.
//!
//! A held call never outlives the test's interest in it: dropping the receiver, dropping the
//! call, or disarming the tap lets the simulator answer.
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

/// A state-changing call a simulator received and acted on, whose answer waits until this is
/// dropped (or [`HeldCall::answer`]ed).
#[derive(Debug)]
pub struct HeldCall {
    /// The lab's name for the endpoint: `bmc-<index>` for a lab iDRAC, `vcenter` for the lab
    /// vCenter.
    pub endpoint: String,
    /// The ledger's name for the call.
    pub action: String,
    /// What it acted on: the vCenter object (`_this`), the Dell ledger's detail (the image's
    /// file name, the ResetType).
    pub target: String,
    /// The Dell job or vCenter task it started, if any.
    pub started: Option<String>,
    /// Why the simulator refused it, if it did (a refused call changed nothing).
    pub refused: Option<String>,
    release: Option<oneshot::Sender<()>>,
}

impl HeldCall {
    /// Let the simulator answer now.
    pub fn answer(self) {}
}

impl Drop for HeldCall {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
    }
}

/// The receiving end of a tap: every held call, in the order the simulators acted.
pub type HeldCalls = mpsc::UnboundedReceiver<HeldCall>;

/// Which calls to hold, and where to hand them.
#[derive(Debug, Clone)]
pub struct CallTap {
    kinds: Arc<[String]>,
    to: mpsc::UnboundedSender<HeldCall>,
}

impl CallTap {
    /// A tap holding calls of these `kinds` (ledger names), and where the test receives them.
    pub fn new(kinds: &[&str]) -> (CallTap, HeldCalls) {
        let (to, from) = mpsc::unbounded_channel();
        (CallTap { kinds: kinds.iter().map(|k| (*k).to_owned()).collect(), to }, from)
    }

    /// Whether calls of `action` are held.
    pub(crate) fn wants(&self, action: &str) -> bool {
        self.kinds.iter().any(|k| k == action)
    }

    /// Hand the call to the test and wait until it lets the answer go (at once when the test
    /// no longer listens).
    pub(crate) async fn hold(
        &self,
        endpoint: String,
        action: String,
        target: String,
        started: Option<String>,
        refused: Option<String>,
    ) {
        let (release, released) = oneshot::channel();
        let call = HeldCall { endpoint, action, target, started, refused, release: Some(release) };
        // A send that fails hands the call back, and dropping it releases it.
        if self.to.send(call).is_ok() {
            let _ = released.await;
        }
    }
}

/// A lab's armed tap, if any (changed while the lab runs).
#[derive(Debug, Default)]
pub(crate) struct TapCell(Mutex<Option<CallTap>>);

impl TapCell {
    /// The armed tap, if any.
    pub(crate) fn get(&self) -> Option<CallTap> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set(&self, tap: Option<CallTap>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = tap;
    }
}
