//! The vCenter actions against govmomi's vcsim, for what it simulates: maintenance mode (a
//! flag there: no DRS evacuation), power, suspend, guest shutdown, vMotion (RelocateVM_Task),
//! host and VM state, the blocker pre-checks on its configuration, and re-attaching to a
//! saved task from a new session. vcsim's tasks finish before the call is answered; it has no
//! RebootHost_Task, no CancelTask and no `drsFault` — those are tested against the lab.
use std::time::Duration;

use eio_connectors::vcenter::{
    BlockReason, BlockerSource, HostConnectionState, Session, TaskState, VcenterError, VmPowerState,
};
use eio_lab::vcsim::Vcsim;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn maintenance_mode_power_and_vmotion_on_vcsim() {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "3", "-vm", "4", "-standalone-host", "0"]);
    let session = Session::login(&sim.config()).await.unwrap();
    let inv = session.inventory().await.unwrap();
    let cluster = inv.clusters[0].moid.clone();
    let mut hosts: Vec<String> =
        inv.hosts.iter().filter(|h| h.cluster_moid.as_deref() == Some(&cluster)).map(|h| h.moid.clone()).collect();
    hosts.sort();
    assert_eq!(hosts.len(), 3);
    // The host with the most VMs, and another one.
    let on = |h: &str| -> Vec<String> {
        let mut v: Vec<String> =
            inv.vms.iter().filter(|v| v.host_moid.as_deref() == Some(h)).map(|v| v.moid.clone()).collect();
        v.sort();
        v
    };
    hosts.sort_by_key(|h| std::cmp::Reverse(on(h).len()));
    let (host, other) = (hosts[0].clone(), hosts[1].clone());
    let vms = on(&host);
    assert!(!vms.is_empty(), "vcsim placed no VM on {host}");

    // host_state: one read of the host and its VMs, as the inventory sees them.
    let state = session.host_state(&host).await.unwrap();
    assert_eq!(state.parent_moid.as_deref(), Some(cluster.as_str()));
    assert_eq!(state.connection_state, Some(HostConnectionState::Connected));
    assert!(!state.in_maintenance_mode);
    let mut seen: Vec<String> = state.vms.iter().map(|v| v.moid.clone()).collect();
    seen.sort();
    assert_eq!(seen, vms);

    // The pre-checks read vcsim's configuration without error; vcsim reports no DRS faults.
    let blockers = session.evacuation_blockers(&cluster, &host).await.unwrap();
    assert!(blockers.iter().all(|b| b.source == BlockerSource::Configuration), "{blockers:?}");
    // vcsim's clusters run DRS fully automated, and every vcsim VM has a CD-ROM backed by a
    // drive of the host, connected: vMotion refuses that, so each running VM is named for it.
    let running: Vec<&str> = state.powered_on_vms().map(|v| v.moid.as_str()).collect();
    let named: Vec<&str> = blockers.iter().map(|b| b.vm_moid.as_str()).collect();
    assert_eq!(named, running, "{blockers:?}");
    assert!(
        blockers.iter().all(|b| b.reason_code == BlockReason::HostDevice && b.reason.contains("cdrom")),
        "{blockers:?}"
    );

    // Maintenance mode is a flag in vcsim.
    let enter = session.enter_maintenance_mode(&host, Some(600), false).await.unwrap();
    let info = session.wait_for_task(&enter, WAIT).await.unwrap();
    assert_eq!(info.state, TaskState::Success);
    assert_eq!(info.entity_moid.as_deref(), Some(host.as_str()));
    assert!(session.host_state(&host).await.unwrap().in_maintenance_mode);
    let exit = session.exit_maintenance_mode(&host).await.unwrap();
    session.wait_for_task(&exit, WAIT).await.unwrap();
    assert!(!session.host_state(&host).await.unwrap().in_maintenance_mode);

    // Power, suspend and guest shutdown.
    let vm = vms[0].clone();
    if power(&session, &vm, &host).await != Some(VmPowerState::PoweredOn) {
        let t = session.power_on_vm(&vm).await.unwrap();
        session.wait_for_task(&t, WAIT).await.unwrap();
    }
    let t = session.suspend_vm(&vm).await.unwrap();
    session.wait_for_task(&t, WAIT).await.unwrap();
    assert_eq!(power(&session, &vm, &host).await, Some(VmPowerState::Suspended));
    let t = session.power_off_vm(&vm).await.unwrap();
    session.wait_for_task(&t, WAIT).await.unwrap();
    assert_eq!(power(&session, &vm, &host).await, Some(VmPowerState::PoweredOff));
    let err = session.shutdown_guest(&vm).await.unwrap_err();
    assert_eq!(err.fault().map(|f| f.type_name.as_str()), Some("InvalidPowerState"), "{err}");
    let t = session.power_on_vm(&vm).await.unwrap();
    let saved = t.clone();
    session.wait_for_task(&t, WAIT).await.unwrap();
    session.shutdown_guest(&vm).await.unwrap();
    assert_eq!(power(&session, &vm, &host).await, Some(VmPowerState::PoweredOff));

    // vMotion to another host of the cluster.
    let moving = vms.last().unwrap().clone();
    let t = session.migrate_vm(&moving, &other).await.unwrap();
    session.wait_for_task(&t, WAIT).await.unwrap();
    let inv = session.inventory().await.unwrap();
    assert_eq!(inv.vms.iter().find(|v| v.moid == moving).unwrap().host_moid.as_deref(), Some(other.as_str()));

    // Re-attach: a new session reads the saved task.
    drop(session);
    let resumed = Session::login(&sim.config()).await.unwrap();
    let info = resumed.task_info(&saved).await.unwrap();
    assert_eq!(info.state, TaskState::Success);
    assert_eq!(info.entity_moid.as_deref(), Some(vm.as_str()));
    let err = resumed.task_info("task-999999").await.unwrap_err();
    assert!(matches!(err, VcenterError::TaskNotFound { .. }), "{err:?}");
    resumed.logout().await.unwrap();
}

async fn power(session: &Session, vm: &str, host: &str) -> Option<VmPowerState> {
    session.host_state(host).await.unwrap().vms.into_iter().find(|v| v.moid == vm).and_then(|v| v.power_state)
}
