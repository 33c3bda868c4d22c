//! The vCenter actions orchestration jobs take, against the lab vCenter: DRS evacuation
//! (free and blocked), the gate's blocker list, reboot and reconnect, guest shutdown,
//! suspend, vMotion, cancellation, timeouts, injected failures, and re-attaching to a saved
//! task from a new session — with the lab's ledger proving no action was issued twice.
//!
//! No test sleeps to synchronise: the lab advances one tick per read, so polling a task or a
//! host is what moves the simulation; loops are bounded by a count and a generous deadline.
use std::time::{Duration, Instant};

use eio_connectors::http::TlsPolicy;
use eio_connectors::vcenter::{
    BlockReason, BlockerSource, FaultKind, HostConnectionState, Session, TaskInfo, TaskState, VcenterConfig,
    VcenterError, VmPowerState,
};
use eio_connectors::Credentials;
use eio_lab::vcenter::{Downtime, LabBlock, LabFailure, LabModel, LabVcenter, Pace};

/// One cluster (domain-c100) of three hosts (host-1000..1002), three VMs each:
/// host-1000 runs vm-5000..5002, host-1001 vm-5003..5005, host-1002 vm-5006..5008.
const CLUSTER: &str = "domain-c100";
const HOST: &str = "host-1000";

fn small() -> LabModel {
    LabModel::one_cluster(3, 3)
}

fn config(lab: &LabVcenter) -> VcenterConfig {
    let mut cfg = VcenterConfig::new(lab.sdk_url.parse().unwrap(), Credentials::new(lab.username(), lab.password()));
    cfg.http.tls = TlsPolicy::Pinned(lab.thumbprint);
    cfg
}

async fn start() -> (LabVcenter, Session) {
    let lab = LabVcenter::start(small()).await.unwrap();
    let session = Session::login(&config(&lab)).await.unwrap();
    (lab, session)
}

const DEADLINE: Duration = Duration::from_secs(60);

/// Poll the task until it ends; every look is one tick of the lab. Returns each look.
async fn follow(session: &Session, task: &str) -> Vec<TaskInfo> {
    let started = Instant::now();
    let mut looks = Vec::new();
    for _ in 0..1000 {
        let info = session.task_info(task).await.unwrap();
        let done = info.state.is_finished();
        looks.push(info);
        if done {
            return looks;
        }
        assert!(started.elapsed() < DEADLINE, "task {task} did not end: {looks:?}");
    }
    panic!("task {task} did not end in 1000 looks: {:?}", looks.last());
}

/// Poll the task `n` times; it must still be running each time.
async fn still_running(session: &Session, task: &str, n: usize) -> TaskInfo {
    let mut last = None;
    for _ in 0..n {
        let info = session.task_info(task).await.unwrap();
        assert_eq!(info.state, TaskState::Running, "{info:?}");
        last = Some(info);
    }
    last.unwrap()
}

#[tokio::test]
async fn an_unblocked_evacuation_moves_every_vm_and_the_host_enters_maintenance() {
    let (lab, session) = start().await;
    let mut watcher = session.watch().await.unwrap();
    watcher.next(0).await.unwrap().expect("baseline");

    let task = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    let looks = follow(&session, &task).await;
    let last = looks.last().unwrap();
    assert_eq!(last.state, TaskState::Success, "{last:?}");
    assert_eq!(last.entity_moid.as_deref(), Some(HOST));
    assert_eq!(last.description_id.as_deref(), Some("HostSystem.enterMaintenanceMode"));
    assert!(last.complete_time.is_some());
    // Progress rises while DRS moves the VMs one by one.
    let progress: Vec<u8> = looks.iter().filter_map(|l| l.progress).collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.first() < progress.last(), "{progress:?}");

    let state = session.host_state(HOST).await.unwrap();
    assert!(state.in_maintenance_mode);
    assert!(state.vms.is_empty(), "{:?}", state.vms);
    assert_eq!(state.connection_state, Some(HostConnectionState::Connected));
    assert_eq!(state.parent_moid.as_deref(), Some(CLUSTER));

    // The inventory agrees: the VMs are on the other hosts now.
    let inv = session.inventory().await.unwrap();
    for vm in ["vm-5000", "vm-5001", "vm-5002"] {
        let rec = inv.vms.iter().find(|v| v.moid == vm).unwrap();
        let host = rec.host_moid.as_deref().unwrap();
        assert!(host == "host-1001" || host == "host-1002", "{vm} is on {host}");
        assert_eq!(rec.power_state, Some(VmPowerState::PoweredOn));
        assert_eq!(Some(host.to_owned()), lab.vm_host(vm));
    }
    let host = inv.hosts.iter().find(|h| h.moid == HOST).unwrap();
    assert!(host.in_maintenance_mode);

    // The change stream reported the moves and the maintenance flag.
    let batch = watcher.next(0).await.unwrap().expect("changes");
    let moved: Vec<&str> = batch
        .changes
        .iter()
        .filter(|c| c.object_type == "VirtualMachine" && c.changed.iter().any(|f| f == "host_moid"))
        .map(|c| c.moid.as_str())
        .collect();
    assert_eq!(moved.len(), 3, "{:?}", batch.changes);
    assert!(batch.changes.iter().any(|c| c.moid == HOST && c.changed.iter().any(|f| f == "in_maintenance_mode")));
    assert!(watcher.next(0).await.unwrap().is_none(), "nothing more changed");

    // Exit again.
    let exit = session.exit_maintenance_mode(HOST).await.unwrap();
    assert_eq!(follow(&session, &exit).await.last().unwrap().state, TaskState::Success);
    assert!(!session.host_state(HOST).await.unwrap().in_maintenance_mode);

    assert_eq!(lab.action_count("EnterMaintenanceMode_Task", HOST), 1);
    assert_eq!(lab.action_count("ExitMaintenanceMode_Task", HOST), 1);
    assert_eq!(lab.actions().len(), 2, "{:?}", lab.actions());
}

#[tokio::test]
async fn a_blocked_vm_keeps_the_task_running_until_it_is_powered_off() {
    let (lab, session) = start().await;
    assert!(lab.block_vm("vm-5001", LabBlock::LocalStorage, ""));

    let task = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    // The others move; then the task waits at its progress and does not fail.
    let mut info = session.task_info(&task).await.unwrap();
    for _ in 0..10 {
        info = session.task_info(&task).await.unwrap();
    }
    assert_eq!(info.state, TaskState::Running, "{info:?}");
    let stuck = info.progress;
    assert!(stuck.is_some_and(|p| p > 0 && p < 100), "{info:?}");
    assert_eq!(still_running(&session, &task, 5).await.progress, stuck);

    let state = session.host_state(HOST).await.unwrap();
    let on_host: Vec<&str> = state.vms.iter().map(|v| v.moid.as_str()).collect();
    assert_eq!(on_host, ["vm-5001"]);
    assert!(!state.in_maintenance_mode);

    // The gate lists the VM with its reason, from DRS.
    let blockers = session.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    assert_eq!(blockers.len(), 1, "{blockers:?}");
    let b = &blockers[0];
    assert_eq!((b.vm_moid.as_str(), b.vm_name.as_str()), ("vm-5001", "lab-vm-00001"));
    assert_eq!(b.reason_code, BlockReason::LocalStorage);
    assert_eq!(b.source, BlockerSource::Drs);
    assert_eq!(b.fault_type.as_deref(), Some("NoCompatibleHost"));
    assert_eq!(b.power_state, Some(VmPowerState::PoweredOn));

    // Powering it off lets the evacuation finish; the VM stays, powered off.
    let off = session.power_off_vm("vm-5001").await.unwrap();
    assert_eq!(follow(&session, &off).await.last().unwrap().state, TaskState::Success);
    let looks = follow(&session, &task).await;
    assert_eq!(looks.last().unwrap().state, TaskState::Success, "{looks:?}");
    let state = session.host_state(HOST).await.unwrap();
    assert!(state.in_maintenance_mode);
    assert_eq!(state.vms.len(), 1);
    assert_eq!(state.vms[0].power_state, Some(VmPowerState::PoweredOff));
    assert!(session.evacuation_blockers(CLUSTER, HOST).await.unwrap().is_empty());

    assert_eq!(lab.action_count("EnterMaintenanceMode_Task", HOST), 1);
    assert_eq!(lab.action_count("PowerOffVM_Task", "vm-5001"), 1);
}

#[tokio::test]
async fn every_kind_of_blocker_is_named_before_and_while_trying() {
    let (lab, session) = start().await;
    // Nothing blocks at first.
    assert!(session.evacuation_blockers(CLUSTER, HOST).await.unwrap().is_empty());

    lab.block_vm("vm-5000", LabBlock::PassthroughDevice, "");
    lab.block_vm("vm-5001", LabBlock::AffinityRule, "");
    lab.block_vm("vm-5002", LabBlock::DrsManual, "");

    // Before trying: the configuration already tells.
    let before = session.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    let codes: Vec<(&str, BlockReason, BlockerSource)> =
        before.iter().map(|b| (b.vm_moid.as_str(), b.reason_code, b.source)).collect();
    assert_eq!(
        codes,
        [
            ("vm-5000", BlockReason::PassthroughDevice, BlockerSource::Configuration),
            ("vm-5001", BlockReason::AffinityRule, BlockerSource::Configuration),
            ("vm-5002", BlockReason::DrsNotFullyAutomated, BlockerSource::Configuration),
        ]
    );
    assert!(before[0].reason.contains("PCI device 0"), "{}", before[0].reason);
    assert!(before[1].reason.contains("pin-vm-5001"), "{}", before[1].reason);
    assert!(before[2].reason.contains("manual"), "{}", before[2].reason);

    // While trying: DRS reports the faults it hit (a manual VM gets a recommendation, not
    // a fault, so the configuration reason stays).
    let task = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    let info = still_running(&session, &task, 5).await;
    assert_eq!(info.progress, Some(0), "nothing could move");
    let during = session.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    let drs: Vec<(&str, BlockReason, Option<&str>)> = during
        .iter()
        .filter(|b| b.source == BlockerSource::Drs)
        .map(|b| (b.vm_moid.as_str(), b.reason_code, b.fault_type.as_deref()))
        .collect();
    assert_eq!(
        drs,
        [
            ("vm-5000", BlockReason::PassthroughDevice, Some("DisallowedMigrationDeviceAttached")),
            ("vm-5001", BlockReason::AffinityRule, Some("VmHostAffinityRuleViolation")),
        ]
    );
    assert!(during.iter().any(|b| b.vm_moid == "vm-5002" && b.reason_code == BlockReason::DrsNotFullyAutomated));

    // Unblocking lets DRS finish the job.
    for vm in ["vm-5000", "vm-5001", "vm-5002"] {
        lab.unblock_vm(vm);
    }
    assert_eq!(follow(&session, &task).await.last().unwrap().state, TaskState::Success);
    assert_eq!(lab.host(HOST).unwrap().vms.len(), 0);

    // Other reasons, one VM each on host-1001.
    let reasons = [
        ("vm-5003", LabBlock::FaultTolerance, BlockReason::FaultTolerance),
        ("vm-5004", LabBlock::UsbDevice, BlockReason::UsbDevice),
        ("vm-5005", LabBlock::DrsDisabledForVm, BlockReason::DrsDisabledForVm),
    ];
    for (vm, block, _) in reasons {
        lab.block_vm(vm, block, "");
    }
    let found = session.evacuation_blockers(CLUSTER, "host-1001").await.unwrap();
    for (vm, _, code) in reasons {
        assert!(found.iter().any(|b| b.vm_moid == vm && b.reason_code == code), "{vm}: {found:?}");
    }
}

#[tokio::test]
async fn drs_not_fully_automated_waits_for_manual_moves() {
    let (lab, session) = start().await;
    assert!(lab.set_cluster_drs(CLUSTER, true, "partiallyAutomated"));
    let task = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    assert_eq!(still_running(&session, &task, 5).await.progress, Some(0));
    let blockers = session.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    assert_eq!(blockers.len(), 3, "{blockers:?}");
    assert!(blockers.iter().all(|b| b.reason_code == BlockReason::DrsNotFullyAutomated));
    assert!(blockers[0].reason.contains("partiallyAutomated"));

    // The operator applies the moves by hand (vMotion); then the host enters.
    for (vm, to) in [("vm-5000", "host-1001"), ("vm-5001", "host-1002"), ("vm-5002", "host-1001")] {
        let m = session.migrate_vm(vm, to).await.unwrap();
        assert_eq!(follow(&session, &m).await.last().unwrap().state, TaskState::Success);
        assert_eq!(lab.vm_host(vm).as_deref(), Some(to));
    }
    assert_eq!(follow(&session, &task).await.last().unwrap().state, TaskState::Success);

    // DRS off entirely: every running VM is named.
    lab.set_cluster_drs(CLUSTER, false, "fullyAutomated");
    let blockers = session.evacuation_blockers(CLUSTER, "host-1001").await.unwrap();
    assert!(!blockers.is_empty());
    assert!(blockers.iter().all(|b| b.reason_code == BlockReason::DrsDisabled), "{blockers:?}");
}

#[tokio::test]
async fn a_blocked_evacuation_can_be_cancelled_or_time_out() {
    let (lab, session) = start().await;
    lab.block_vm("vm-5000", LabBlock::DeltaDisk, "Cannot move vm with delta disk (lab)");
    let task = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    still_running(&session, &task, 5).await;
    let b = session.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    assert_eq!(b[0].reason_code, BlockReason::DeltaDisk);
    assert_eq!(b[0].reason, "Cannot move vm with delta disk (lab)");

    session.cancel_task(&task).await.unwrap();
    let cancelled = task.clone();
    let info = session.task_info(&task).await.unwrap();
    assert_eq!(info.state, TaskState::Error);
    assert!(info.cancelled);
    assert_eq!(info.error.as_ref().map(|f| f.kind), Some(FaultKind::RequestCanceled));
    let host = lab.host(HOST).unwrap();
    assert!(!host.in_maintenance_mode && !host.entering_maintenance_mode);
    // The VMs DRS already moved stay moved.
    assert_eq!(host.vms, ["vm-5000"]);
    // A task that ended cannot be cancelled.
    let err = session.cancel_task(&task).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::InvalidState), "{err}");

    // With a timeout, the task fails with vCenter's Timeout fault.
    let task = session.enter_maintenance_mode(HOST, Some(1), false).await.unwrap();
    let err = session.wait_for_task(&task, DEADLINE).await.unwrap_err();
    match &err {
        VcenterError::TaskFailed { fault, .. } => assert_eq!(fault.type_name, "Timeout"),
        e => panic!("expected the task to fail with Timeout: {e:?}"),
    }
    assert!(!lab.host(HOST).unwrap().entering_maintenance_mode);
    assert_eq!(lab.action_count("EnterMaintenanceMode_Task", HOST), 2);
    assert_eq!(lab.action_count("CancelTask", &cancelled), 1, "the refused second cancel is not counted");
}

#[tokio::test]
async fn a_reboot_disconnects_the_host_and_it_comes_back() {
    let (lab, session) = start().await;
    // Not in maintenance mode: refused unless forced.
    let err = session.reboot_host(HOST, false).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::InvalidState), "{err}");

    let enter = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    assert_eq!(follow(&session, &enter).await.last().unwrap().state, TaskState::Success);
    let before = session.host_state(HOST).await.unwrap();
    assert!(before.is_up());

    lab.set_reboot_downtime(Downtime::Ticks(4));
    let reboot = session.reboot_host(HOST, false).await.unwrap();
    let mut seen = Vec::new();
    let started = Instant::now();
    loop {
        let s = session.host_state(HOST).await.unwrap();
        if seen.last() != Some(&s.connection_state) {
            seen.push(s.connection_state);
        }
        if s.connection_state == Some(HostConnectionState::Connected) && seen.len() > 1 {
            assert!(s.boot_time > before.boot_time, "a new boot time: {:?} → {:?}", before.boot_time, s.boot_time);
            assert!(s.in_maintenance_mode, "a reboot keeps maintenance mode");
            assert!(s.is_up());
            break;
        }
        assert!(started.elapsed() < DEADLINE && seen.len() < 10, "{seen:?}");
    }
    assert_eq!(
        seen,
        [Some(HostConnectionState::NotResponding), Some(HostConnectionState::Connected)],
        "disconnect, then reconnect"
    );
    assert_eq!(session.task_info(&reboot).await.unwrap().state, TaskState::Success);
    assert_eq!(lab.action_count("RebootHost_Task", HOST), 1);
}

#[tokio::test]
async fn a_task_survives_its_session_and_is_re_attached_from_a_new_one() {
    let (lab, session) = start().await;
    lab.block_vm("vm-5002", LabBlock::InsufficientResources, "");
    let saved = session.enter_maintenance_mode(HOST, None, false).await.unwrap();
    still_running(&session, &saved, 4).await;
    drop(session); // a worker dies without logging out

    let resumed = Session::login(&config(&lab)).await.unwrap();
    let info = resumed.task_info(&saved).await.unwrap();
    assert_eq!(info.state, TaskState::Running);
    assert_eq!(info.entity_moid.as_deref(), Some(HOST));
    assert_eq!(info.entity_name.as_deref(), Some("esx-000.lab.local"));
    let b = resumed.evacuation_blockers(CLUSTER, HOST).await.unwrap();
    assert_eq!(b[0].reason_code, BlockReason::InsufficientResources);

    lab.unblock_vm("vm-5002");
    let done = resumed.wait_for_task(&saved, DEADLINE).await.unwrap();
    assert_eq!(done.state, TaskState::Success);
    // Re-attaching is only reading: the action was issued once.
    assert_eq!(lab.action_count("EnterMaintenanceMode_Task", HOST), 1);
    assert_eq!(lab.actions().len(), 1);

    // Once vCenter purged the task, it says so in a way the engine can act on.
    assert!(lab.forget_task(&saved));
    let err = resumed.task_info(&saved).await.unwrap_err();
    assert!(matches!(err, VcenterError::TaskNotFound { ref task, .. } if *task == saved), "{err:?}");
    assert!(err.to_string().contains("instead of starting it again"), "{err}");
}

#[tokio::test]
async fn guest_shutdown_suspend_and_vmotion() {
    let (lab, session) = start().await;
    lab.set_pace(Pace::PerRead(1));
    lab.set_guest_shutdown_delay(Downtime::Ticks(3));

    // Accepted at once; the guest powers off a little later.
    session.shutdown_guest("vm-5003").await.unwrap();
    assert_eq!(lab.vm_power("vm-5003"), Some("poweredOn"));
    let mut looks = 0;
    while lab.vm_power("vm-5003") != Some("poweredOff") {
        session.host_state("host-1001").await.unwrap();
        looks += 1;
        assert!(looks < 20);
    }
    let vm = session.host_state("host-1001").await.unwrap().vms.into_iter().find(|v| v.moid == "vm-5003").unwrap();
    assert_eq!(vm.power_state, Some(VmPowerState::PoweredOff));
    assert_eq!(vm.tools_running, Some(false));

    // Shutting down a VM that is off, or whose Tools do not run, is refused.
    let err = session.shutdown_guest("vm-5003").await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::InvalidPowerState), "{err}");
    lab.set_tools_running("vm-5004", false);
    let err = session.shutdown_guest("vm-5004").await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.type_name.as_str()), Some("ToolsUnavailable"), "{err}");

    // A hung guest accepts and never powers off: the caller's timeout must end the wait.
    lab.hang_guest("vm-5005", true);
    session.shutdown_guest("vm-5005").await.unwrap();
    for _ in 0..10 {
        let s = session.host_state("host-1001").await.unwrap();
        let vm = s.vms.iter().find(|v| v.moid == "vm-5005").unwrap();
        assert_eq!(vm.power_state, Some(VmPowerState::PoweredOn));
    }

    // Suspend.
    let t = session.suspend_vm("vm-5006").await.unwrap();
    assert_eq!(session.wait_for_task(&t, DEADLINE).await.unwrap().state, TaskState::Success);
    assert_eq!(lab.vm_power("vm-5006"), Some("suspended"));
    let err = session.suspend_vm("vm-5006").await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::InvalidPowerState));

    // vMotion; one with a passthrough device fails the way vCenter says.
    let t = session.migrate_vm("vm-5007", "host-1000").await.unwrap();
    session.wait_for_task(&t, DEADLINE).await.unwrap();
    assert_eq!(lab.vm_host("vm-5007").as_deref(), Some("host-1000"));
    let inv = session.inventory().await.unwrap();
    assert_eq!(inv.vms.iter().find(|v| v.moid == "vm-5007").unwrap().host_moid.as_deref(), Some("host-1000"));
    lab.block_vm("vm-5008", LabBlock::PassthroughDevice, "");
    let t = session.migrate_vm("vm-5008", "host-1000").await.unwrap();
    let err = session.wait_for_task(&t, DEADLINE).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.type_name.as_str()), Some("DisallowedMigrationDeviceAttached"), "{err}");
    assert_eq!(lab.vm_host("vm-5008").as_deref(), Some("host-1002"));

    // The ledger: each action once, refusals recorded as refusals.
    assert_eq!(lab.action_count("ShutdownGuest", "vm-5003"), 1);
    let refused: Vec<(String, String)> =
        lab.actions().into_iter().filter_map(|a| a.refused.map(|r| (a.method, r))).collect();
    assert_eq!(
        refused,
        [
            ("ShutdownGuest".to_owned(), "InvalidPowerState".to_owned()),
            ("ShutdownGuest".to_owned(), "ToolsUnavailable".to_owned()),
            ("SuspendVM_Task".to_owned(), "InvalidPowerState".to_owned()),
        ]
    );
}

#[tokio::test]
async fn injected_failures_are_typed_errors() {
    let (lab, session) = start().await;
    lab.fail(LabFailure::task("PowerOffVM_Task", "SystemError", "A general system error occurred: lab").on("vm-5000"));
    let t = session.power_off_vm("vm-5000").await.unwrap();
    let err = session.wait_for_task(&t, DEADLINE).await.unwrap_err();
    match &err {
        VcenterError::TaskFailed { task, fault, .. } => {
            assert_eq!(task, &t);
            assert_eq!(fault.type_name, "SystemError");
            assert!(fault.message.contains("lab"));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(lab.vm_power("vm-5000"), Some("poweredOn"), "a failed task changes nothing");
    // Once only: the next one works.
    let t = session.power_off_vm("vm-5000").await.unwrap();
    session.wait_for_task(&t, DEADLINE).await.unwrap();
    assert_eq!(lab.vm_power("vm-5000"), Some("poweredOff"));

    // Refused at the call, on one host only.
    lab.fail(
        LabFailure::task(
            "EnterMaintenanceMode_Task",
            "NoPermission",
            "Permission to perform this operation was denied.",
        )
        .on("host-1001")
        .on_call(),
    );
    let err = session.enter_maintenance_mode("host-1001", None, false).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::NoPermission), "{err}");
    // An evacuation whose task fails.
    lab.fail(LabFailure::task("EnterMaintenanceMode_Task", "HostConfigFault", "lab: host config fault"));
    let t = session.enter_maintenance_mode("host-1002", None, false).await.unwrap();
    let info = follow(&session, &t).await.pop().unwrap();
    assert_eq!(info.error.map(|f| f.type_name).as_deref(), Some("HostConfigFault"));
    assert!(!lab.host("host-1002").unwrap().entering_maintenance_mode);
    // Unknown objects are vCenter's ManagedObjectNotFound.
    let err = session.host_state("host-9999").await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::ManagedObjectNotFound), "{err}");
    let err = session.evacuation_blockers("domain-c999", HOST).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::ManagedObjectNotFound), "{err}");
    let err = session.evacuation_blockers(CLUSTER, "host-9999").await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.kind), Some(FaultKind::ManagedObjectNotFound), "{err}");
}

#[tokio::test]
async fn tasks_can_advance_on_the_labs_clock_instead_of_on_reads() {
    let (lab, session) = start().await;
    lab.set_pace(Pace::Manual);
    lab.set_task_steps("PowerOffVM_Task", 4);
    let t = session.power_off_vm("vm-5000").await.unwrap();
    for _ in 0..5 {
        let info = session.task_info(&t).await.unwrap();
        assert_eq!((info.state, info.progress), (TaskState::Running, Some(0)), "reads do not move time");
    }
    lab.advance(2);
    assert_eq!(session.task_info(&t).await.unwrap().progress, Some(50));
    lab.advance(2);
    assert_eq!(session.task_info(&t).await.unwrap().state, TaskState::Success);

    // On a timer: the test only waits for the state.
    lab.set_pace(Pace::Every(Duration::from_millis(5)));
    let t = session.power_on_vm("vm-5000").await.unwrap();
    let info = session.wait_for_task(&t, DEADLINE).await.unwrap();
    assert_eq!(info.state, TaskState::Success);
    assert_eq!(lab.vm_power("vm-5000"), Some("poweredOn"));
}
