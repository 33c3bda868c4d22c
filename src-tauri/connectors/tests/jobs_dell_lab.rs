//! Dell firmware updates against the lab iDRACs: the job's whole state progression (waiting in
//! RebootPending until the server is reset), the new version in the inventory afterwards,
//! RAC0679 as a typed error, failed and partly failed jobs, an iDRAC unreachable mid-job,
//! re-attaching to a saved `JID_…` from a new connection, and the lab's per-BMC ledger proving
//! each update and reset was issued exactly once.
//!
//! No sleeps: a lab job moves one state each time it is looked at, so polling is what moves
//! it; loops are bounded.
use bytes::Bytes;
use eio_connectors::idrac::{
    self, ApplyTime, DellActions, DriverKind, ErrorKind, FirmwareImage, FirmwareUpdate, Generation, ImageSource,
    JobState, JobStatus, ResetKind, SyncOptions, UpdateMethod,
};
use eio_connectors::redfish::RedfishError;
use eio_lab::dell::{lab_image, DellLab, JobOutcome};

const BIOS: &str = "BIOS.Setup.1-1";
const NEW_BIOS: &str = "2.99.1";

fn bios_update(apply: ApplyTime) -> FirmwareUpdate {
    FirmwareUpdate {
        component_fqdd: BIOS.into(),
        expected_version: NEW_BIOS.into(),
        image: ImageSource::Push(FirmwareImage {
            file_name: format!("BIOS_{NEW_BIOS}.EXE"),
            bytes: Bytes::from(lab_image(BIOS, NEW_BIOS, 64 * 1024)),
        }),
        apply,
    }
}

async fn lab(generation: Generation) -> DellLab {
    DellLab::builder().bmcs(1).generation(generation).build().await.unwrap()
}

/// Look at the job until `until` holds (at most `max` looks); every look is returned.
async fn watch(actions: &DellActions, jid: &str, max: usize, until: impl Fn(&JobStatus) -> bool) -> Vec<JobStatus> {
    let mut looks = Vec::new();
    for _ in 0..max {
        let job = actions.job(jid).await.unwrap();
        let done = until(&job);
        looks.push(job);
        if done {
            return looks;
        }
    }
    panic!("job {jid} never got there: {:?}", looks.iter().map(|j| j.state).collect::<Vec<_>>());
}

fn states(looks: &[JobStatus]) -> Vec<JobState> {
    let mut out: Vec<JobState> = Vec::new();
    for l in looks {
        if out.last() != Some(&l.state) {
            out.push(l.state);
        }
    }
    out
}

#[tokio::test]
async fn a_bios_update_waits_for_the_reset_then_completes_and_shows_in_the_inventory() {
    let lab = lab(Generation::Idrac9).await;
    let endpoint = lab.endpoint(0);
    let before = lab.bmc(0).firmware_version(BIOS).unwrap();
    assert_ne!(before, NEW_BIOS);

    let actions = DellActions::connect(&endpoint).await.unwrap();
    assert_eq!(actions.driver_kind(), DriverKind::Redfish);
    let update = bios_update(ApplyTime::OnReset);
    let started = actions.start_firmware_update(&update).await.unwrap();
    assert!(started.job_id.starts_with("JID_"), "{started:?}");
    assert_eq!(started.method, UpdateMethod::MultipartPush);

    // It reaches RebootPending and stays there: nothing applies without a reset.
    let looks = watch(&actions, &started.job_id, 20, |j| j.state == JobState::RebootPending).await;
    assert_eq!(
        states(&looks),
        [JobState::New, JobState::Downloading, JobState::Downloaded, JobState::Scheduled, JobState::RebootPending]
    );
    for _ in 0..5 {
        assert_eq!(actions.job(&started.job_id).await.unwrap().state, JobState::RebootPending);
    }
    assert_eq!(lab.bmc(0).firmware_version(BIOS).as_deref(), Some(before.as_str()));
    assert!(!actions.verify(&update).await.unwrap().is_ok());

    // The reset lets it run and complete.
    actions.reset(ResetKind::GracefulRestart).await.unwrap();
    let looks = watch(&actions, &started.job_id, 20, |j| j.state.is_finished()).await;
    let last = looks.last().unwrap();
    assert_eq!(last.state, JobState::Completed, "{last:?}");
    assert_eq!(last.percent, Some(100));
    assert_eq!(last.message_id.as_deref(), Some("PR19"));
    assert!(states(&looks).contains(&JobState::Running));

    // Verified by reading the firmware again, and through the ordinary inventory pass.
    let verified = actions.verify(&update).await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    actions.close().await.unwrap();
    let inv = idrac::inventory(&endpoint, None, &SyncOptions::default()).await.unwrap();
    let bios = inv.firmware.iter().find(|f| f.fqdd == BIOS).unwrap();
    assert_eq!(bios.version, NEW_BIOS);
    assert_eq!(inv.bios_version.as_deref(), Some(NEW_BIOS));

    // Each action once.
    let bmc = lab.bmc(0);
    assert_eq!(bmc.action_count("MultipartUpdate"), 1);
    assert_eq!(bmc.action_count("ComputerSystem.Reset"), 1);
    assert_eq!(bmc.actions().len(), 2, "{:?}", bmc.actions());
    assert_eq!(bmc.open_sessions(), 0);
}

#[tokio::test]
async fn idrac8_uploads_to_http_push_uri_and_applies_with_simple_update() {
    let lab = lab(Generation::Idrac8).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let update = bios_update(ApplyTime::OnReset);
    let started = actions.start_firmware_update(&update).await.unwrap();
    assert_eq!(started.method, UpdateMethod::HttpPushSimpleUpdate);
    watch(&actions, &started.job_id, 20, |j| j.state == JobState::RebootPending).await;
    actions.reset(ResetKind::PowerCycle).await.unwrap();
    let last = watch(&actions, &started.job_id, 20, |j| j.state.is_finished()).await.pop().unwrap();
    assert_eq!(last.state, JobState::Completed);
    assert!(actions.verify(&update).await.unwrap().is_ok());
    let bmc = lab.bmc(0);
    assert_eq!(bmc.action_count("HttpPushUpload"), 1);
    assert_eq!(bmc.action_count("SimpleUpdate"), 1);
    assert_eq!(bmc.action_count("MultipartUpdate"), 0);
    actions.close().await.unwrap();
}

#[tokio::test]
async fn an_idrac_update_needs_no_server_reset() {
    let lab = lab(Generation::Idrac9).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let fqdd = "iDRAC.Embedded.1-1";
    let update = FirmwareUpdate {
        component_fqdd: fqdd.into(),
        expected_version: "7.10.70.00".into(),
        image: ImageSource::Push(FirmwareImage {
            file_name: "iDRAC_7.10.70.00.EXE".into(),
            bytes: Bytes::from(lab_image(fqdd, "7.10.70.00", 1024)),
        }),
        apply: ApplyTime::Immediate,
    };
    let started = actions.start_firmware_update(&update).await.unwrap();
    let looks = watch(&actions, &started.job_id, 20, |j| j.state.is_finished()).await;
    assert_eq!(
        states(&looks),
        [JobState::New, JobState::Downloading, JobState::Downloaded, JobState::Running, JobState::Completed]
    );
    assert!(actions.verify(&update).await.unwrap().is_ok());
    assert_eq!(lab.bmc(0).action_count("ComputerSystem.Reset"), 0);
    actions.close().await.unwrap();
}

#[tokio::test]
async fn a_running_job_is_rac0679_and_clearing_the_queue_frees_it() {
    let lab = lab(Generation::Idrac9).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let first = actions.start_firmware_update(&bios_update(ApplyTime::OnReset)).await.unwrap();

    let err = actions.start_firmware_update(&bios_update(ApplyTime::OnReset)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobRunning, "{err:?}");
    assert!(matches!(err, idrac::IdracError::Redfish(RedfishError::JobAlreadyRunning { .. })), "{err:?}");
    assert!(err.to_string().contains("RAC0679"), "{err}");

    let pending = actions.pending_jobs().await.unwrap();
    assert_eq!(pending.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [first.job_id.as_str()]);

    // Clearing is the caller's (policy) decision; afterwards the job is gone.
    actions.clear_job_queue().await.unwrap();
    assert!(actions.job_queue().await.unwrap().is_empty());
    let err = actions.job(&first.job_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");

    // An iDRAC that refuses although its queue looks idle.
    lab.bmc(0).refuse_next_updates(1);
    let err = actions.start_firmware_update(&bios_update(ApplyTime::OnReset)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobRunning);
    let second = actions.start_firmware_update(&bios_update(ApplyTime::OnReset)).await.unwrap();
    assert_ne!(second.job_id, first.job_id);

    let bmc = lab.bmc(0);
    assert_eq!(bmc.action_count("MultipartUpdate"), 2);
    assert_eq!(bmc.action_count("DeleteJobQueue"), 1);
    let refused: Vec<_> = bmc.actions().into_iter().filter_map(|a| a.refused).collect();
    assert_eq!(refused, ["RAC0679", "RAC0679"]);
    actions.close().await.unwrap();
}

#[tokio::test]
async fn failed_and_partly_failed_jobs_leave_the_version_alone() {
    let lab = lab(Generation::Idrac9).await;
    lab.bmc(0).set_next_job_outcomes(&[JobOutcome::Failed, JobOutcome::CompletedWithErrors]);
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let update = bios_update(ApplyTime::OnReset);
    for expected in [JobState::Failed, JobState::CompletedWithErrors] {
        let started = actions.start_firmware_update(&update).await.unwrap();
        watch(&actions, &started.job_id, 20, |j| j.state == JobState::RebootPending).await;
        actions.reset(ResetKind::GracefulRestart).await.unwrap();
        let last = watch(&actions, &started.job_id, 20, |j| j.state.is_finished()).await.pop().unwrap();
        assert_eq!(last.state, expected, "{last:?}");
        assert!(!last.state.is_success());
        assert!(last.message.is_some() && last.message_id.is_some(), "{last:?}");
        let v = actions.verify(&update).await.unwrap();
        assert!(!v.is_ok(), "{v:?}");
    }

    // A component the server does not have is refused before anything is sent.
    let mut wrong = bios_update(ApplyTime::OnReset);
    wrong.component_fqdd = "BIOS.Setup.9-9".into();
    let err = actions.start_firmware_update(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("BIOS.Setup.9-9"));
    // An image for another component than stated: the iDRAC installs what the image is,
    // and verification catches the mismatch.
    let mut mislabeled = bios_update(ApplyTime::Immediate);
    mislabeled.image = ImageSource::Push(FirmwareImage {
        file_name: "NIC.EXE".into(),
        bytes: Bytes::from(lab_image("NIC.Integrated.1-1-1", "22.0.0", 16)),
    });
    let started = actions.start_firmware_update(&mislabeled).await.unwrap();
    let last = watch(&actions, &started.job_id, 30, |j| j.state.is_finished()).await.pop().unwrap();
    assert_eq!(last.state, JobState::Completed);
    assert!(!actions.verify(&mislabeled).await.unwrap().is_ok());
    // Immediate on a component that needs a reboot: the iDRAC rebooted the server itself.
    assert!(lab.bmc(0).actions().iter().any(|a| a.action == "AutoReboot"));
    assert_eq!(lab.bmc(0).action_count("MultipartUpdate"), 3);
    actions.close().await.unwrap();
}

#[tokio::test]
async fn a_saved_job_id_is_re_attached_after_the_client_is_gone() {
    let lab = lab(Generation::Idrac9).await;
    lab.bmc(0).set_job_looks_per_state(2);
    let endpoint = lab.endpoint(0);
    let update = bios_update(ApplyTime::OnReset);
    let saved = {
        let actions = DellActions::connect(&endpoint).await.unwrap();
        let started = actions.start_firmware_update(&update).await.unwrap();
        actions.job(&started.job_id).await.unwrap();
        started.job_id
        // Dropped without logging out: a worker that died.
    };

    let resumed = DellActions::connect(&endpoint).await.unwrap();
    let job = resumed.job(&saved).await.unwrap();
    assert_eq!(job.id, saved);
    assert!(!job.state.is_finished());
    watch(&resumed, &saved, 40, |j| j.state == JobState::RebootPending).await;

    // The iDRAC is unreachable for a moment after the reset: typed, retryable errors.
    lab.bmc(0).set_unreachable_after_reset(2);
    resumed.reset(ResetKind::GracefulRestart).await.unwrap();
    for _ in 0..2 {
        let err = resumed.job(&saved).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    }
    let last = watch(&resumed, &saved, 40, |j| j.state.is_finished()).await.pop().unwrap();
    assert_eq!(last.state, JobState::Completed);
    assert!(resumed.verify(&update).await.unwrap().is_ok());
    resumed.close().await.unwrap();

    // Re-attaching issued nothing: one update, one reset.
    let bmc = lab.bmc(0);
    assert_eq!(bmc.action_count("MultipartUpdate"), 1);
    assert_eq!(bmc.action_count("ComputerSystem.Reset"), 1);
    assert_eq!(bmc.open_sessions(), 1, "the dead worker's session stays until the iDRAC times it out");

    // Ids that are not Dell job ids never reach a URL; unknown ones are typed.
    let again = DellActions::connect(&endpoint).await.unwrap();
    let err = again.job("JID_000000000001").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = again.job("../../Systems").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err:?}");
    again.close().await.unwrap();
}

#[tokio::test]
async fn idrac7_jobs_are_read_over_wsman_and_actions_are_refused_clearly() {
    let lab = lab(Generation::Idrac7).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    assert_eq!(actions.driver_kind(), DriverKind::Wsman);
    assert!(actions.job_queue().await.unwrap().is_empty());
    let fw = actions.firmware().await.unwrap();
    assert!(fw.iter().any(|f| f.fqdd == BIOS));
    let err = actions.start_firmware_update(&bios_update(ApplyTime::OnReset)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    assert!(err.to_string().contains("InstallFromURI"), "a pushed package can't go over WSMan: {err}");
    assert!(lab.bmc(0).actions().is_empty());
}

/// A package share the iDRAC can pull from (HTTPS on loopback): `name` → bytes.
async fn share(files: Vec<(&'static str, Vec<u8>)>) -> eio_lab::tls::HttpsServer {
    let mut router = axum::Router::new();
    for (name, bytes) in files {
        router = router.route(&format!("/{name}"), axum::routing::get(move || async move { bytes.clone() }));
    }
    eio_lab::tls::serve_https(router).await.unwrap()
}

fn uri_update(uri: String) -> FirmwareUpdate {
    FirmwareUpdate {
        component_fqdd: BIOS.into(),
        expected_version: NEW_BIOS.into(),
        image: ImageSource::Uri(uri),
        apply: ApplyTime::OnReset,
    }
}

/// Dell's WSMan sequence: InstallFromURI (download → Downloaded), CreateRebootJob +
/// SetupJobQueue (Scheduled → reboot → Running → Completed), the version read back from
/// DCIM_SoftwareIdentity; each method issued once, the jobs re-attached from a new connection.
#[tokio::test]
async fn idrac7_installs_from_a_uri_and_one_reboot_job_applies_it() {
    let lab = lab(Generation::Idrac7).await;
    let repo = share(vec![("BIOS.EXE", lab_image(BIOS, NEW_BIOS, 32 * 1024))]).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    assert_eq!(actions.driver_kind(), DriverKind::Wsman);
    let update = uri_update(format!("{}/BIOS.EXE", repo.base_url));
    let started = actions.start_firmware_update(&update).await.unwrap();
    assert!(started.job_id.starts_with("JID_"), "{started:?}");
    assert_eq!(started.method, UpdateMethod::WsmanInstallFromUri);

    let looks = watch(&actions, &started.job_id, 5_000, |j| j.state != JobState::Downloading).await;
    let seen = states(&looks);
    assert_eq!(seen.last(), Some(&JobState::Downloaded), "{seen:?}");
    assert!(seen.iter().all(|s| matches!(s, JobState::Downloading | JobState::Downloaded)), "{seen:?}");
    let staged = looks.last().unwrap();
    assert!(actions.is_staged(staged) && actions.awaits_reset(staged), "{staged:?}");
    assert!(!actions.verify(&update).await.unwrap().is_ok(), "nothing installed before the reboot");

    let rid = actions.apply_staged(std::slice::from_ref(&started.job_id), ResetKind::GracefulRestart).await.unwrap();
    let rid = rid.expect("a reboot job");
    assert!(rid.starts_with("RID_"), "{rid}");
    let looks = watch(&actions, &started.job_id, 20, |j| j.state.is_finished()).await;
    assert_eq!(states(&looks), [JobState::Scheduled, JobState::Running, JobState::Completed]);
    let v = actions.verify(&update).await.unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!(lab.bmc(0).firmware_version(BIOS).as_deref(), Some(NEW_BIOS));
    actions.close().await.unwrap();

    // A new connection (a resumed worker) re-attaches to both jobs; the reboot job is done.
    let again = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    assert_eq!(again.job(&started.job_id).await.unwrap().state, JobState::Completed);
    let reboot = again.job(&rid).await.unwrap();
    assert_eq!((reboot.state, reboot.raw_state.as_str()), (JobState::Completed, "Reboot Completed"));
    assert!(again.pending_jobs().await.unwrap().is_empty());

    let bmc = lab.bmc(0);
    for action in ["InstallFromURI", "CreateRebootJob", "SetupJobQueue", "RebootJob"] {
        assert_eq!(bmc.action_count(action), 1, "{action}: {:?}", bmc.actions());
    }
    assert!(bmc.actions().iter().all(|a| a.refused.is_none()), "{:?}", bmc.actions());
}

/// A reboot job created by a worker that died before SetupJobQueue is reused, never doubled.
#[tokio::test]
async fn an_unscheduled_reboot_job_is_reused() {
    let lab = lab(Generation::Idrac7).await;
    let repo = share(vec![("BIOS.EXE", lab_image(BIOS, NEW_BIOS, 1024))]).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let update = uri_update(format!("{}/BIOS.EXE", repo.base_url));
    let jid = actions.start_firmware_update(&update).await.unwrap().job_id;
    watch(&actions, &jid, 5_000, |j| j.state != JobState::Downloading).await;
    let client = eio_connectors::wsman::WsmanClient::new(
        &lab.endpoint(0).url,
        lab.credentials(),
        eio_connectors::http::HttpClient::new(lab.http_config(0)).unwrap(),
    );
    let orphan =
        eio_connectors::wsman::dcim::create_reboot_job(&client, eio_connectors::wsman::dcim::RebootJobType::PowerCycle)
            .await
            .unwrap();
    let rid = actions.apply_staged(std::slice::from_ref(&jid), ResetKind::GracefulRestart).await.unwrap();
    assert_eq!(rid.as_deref(), Some(orphan.as_str()));
    assert_eq!(lab.bmc(0).action_count("CreateRebootJob"), 1);
    watch(&actions, &jid, 20, |j| j.state.is_finished()).await;
    assert!(actions.verify(&update).await.unwrap().is_ok());
}

/// Refusals and failures over WSMan: Dell's messages, nothing installed, the queue cleared
/// with DeleteJobQueue(JID_CLEARALL).
#[tokio::test]
async fn wsman_refusals_and_failed_downloads_are_typed() {
    let lab = lab(Generation::Idrac7).await;
    let repo = share(vec![("NIC.EXE", lab_image("NIC.Integrated.1-1-1", "99.0", 1024))]).await;
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    let mut other = uri_update(format!("{}/BIOS.EXE", repo.base_url));
    other.component_fqdd = "Disk.Bay.99:Enclosure.Internal.0-1".into();
    let err = actions.start_firmware_update(&other).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(lab.bmc(0).action_count("InstallFromURI"), 0);

    // A URI that answers 404, and a package for another component: both jobs fail.
    for uri in [format!("{}/missing.EXE", repo.base_url), format!("{}/NIC.EXE", repo.base_url)] {
        let jid = actions.start_firmware_update(&uri_update(uri)).await.unwrap().job_id;
        let looks = watch(&actions, &jid, 5_000, |j| j.state.is_finished()).await;
        let last = looks.last().unwrap();
        assert_eq!(last.state, JobState::Failed, "{last:?}");
        assert!(last.message.is_some(), "{last:?}");
    }
    assert_ne!(lab.bmc(0).firmware_version(BIOS).as_deref(), Some(NEW_BIOS));
    actions.clear_job_queue().await.unwrap();
    assert!(actions.job_queue().await.unwrap().is_empty());
    assert_eq!(lab.bmc(0).action_count("DeleteJobQueue"), 1);
    // A job id the iDRAC does not know is Dell's SUP011, typed.
    let client = eio_connectors::wsman::WsmanClient::new(
        &lab.endpoint(0).url,
        lab.credentials(),
        eio_connectors::http::HttpClient::new(lab.http_config(0)).unwrap(),
    );
    let err = eio_connectors::wsman::dcim::setup_job_queue(&client, &["JID_000000000001".into()]).await.unwrap_err();
    assert!(matches!(&err, eio_connectors::wsman::WsmanError::Refused { code: Some(c), .. } if c == "SUP011"), "{err}");
}

/// An iDRAC7 resets and power-cycles over WSMan (`RequestPowerStateChange`), each asked once
/// and read back from `DCIM_ComputerSystem`; a PowerState Dell does not list is refused with
/// the iDRAC's message, typed, and changes nothing.
#[tokio::test]
async fn idrac7_resets_and_power_cycles_over_wsman_once_each() {
    use eio_connectors::idrac::records::PowerState;
    use eio_connectors::wsman::dcim::{self, RequestedPower};
    let lab = lab(Generation::Idrac7).await;
    let bmc = lab.bmc(0);
    let actions = DellActions::connect(&lab.endpoint(0)).await.unwrap();
    assert_eq!(actions.driver_kind(), DriverKind::Wsman);
    assert_eq!(actions.power_state().await.unwrap(), PowerState::On);

    actions.reset(ResetKind::ForceOff).await.unwrap();
    assert_eq!(actions.power_state().await.unwrap(), PowerState::Off);
    assert_eq!(bmc.spec().power_state, "Off");
    // A powered-off server is not restarted: refused, typed, nothing changed.
    let err = actions.reset(ResetKind::PowerCycle).await.unwrap_err();
    assert!(err.to_string().contains("RequestPowerStateChange"), "{err}");
    assert_eq!(actions.power_state().await.unwrap(), PowerState::Off);
    actions.reset(ResetKind::On).await.unwrap();
    assert_eq!(actions.power_state().await.unwrap(), PowerState::On);
    actions.reset(ResetKind::PowerCycle).await.unwrap();
    actions.reset(ResetKind::GracefulRestart).await.unwrap();
    assert_eq!(actions.power_state().await.unwrap(), PowerState::On);

    // Each call reached the iDRAC once, with Dell's PowerState for it.
    let asked: Vec<(String, Option<String>)> = bmc
        .actions()
        .into_iter()
        .filter(|a| a.action == "RequestPowerStateChange")
        .map(|a| (a.detail, a.refused))
        .collect();
    let code = |p: RequestedPower| p.code().to_string();
    assert_eq!(
        asked,
        vec![
            (code(RequestedPower::SoftOff), None),
            (code(RequestedPower::PowerCycle), Some("RAC0508".into())),
            (code(RequestedPower::On), None),
            (code(RequestedPower::PowerCycle), None),
            (code(RequestedPower::SoftPowerCycle), None),
        ]
    );
    assert_eq!(bmc.action_count("RequestPowerStateChange"), 4);
    assert_eq!(bmc.action_count("ComputerSystem.Reset"), 0);

    // A state Dell does not list (3 is RequestStateChange's "off", not a PowerState).
    let client = eio_connectors::wsman::WsmanClient::new(
        &lab.endpoint(0).url,
        lab.credentials(),
        eio_connectors::http::HttpClient::new(lab.http_config(0)).unwrap(),
    );
    let err = client
        .invoke(
            dcim::CS_POWER_MANAGEMENT_SERVICE,
            "RequestPowerStateChange",
            dcim::CS_POWER_MANAGEMENT_SELECTORS,
            "<p:PowerState>3</p:PowerState>",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, eio_connectors::wsman::WsmanError::Refused { code: Some(c), reason, .. }
            if c == "SYS021" && reason == "The command failed to set RequestedState"),
        "{err}"
    );
    assert_eq!(dcim::computer_system_power(&client).await.unwrap(), PowerState::On);
    assert_eq!(bmc.action_count("RequestPowerStateChange"), 4);
}
