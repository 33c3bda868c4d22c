//! The vSphere fault bodies the lab reports for a VM that cannot move: the type and stock
//! message per [`LabBlock`], and the `drsFault` entry with the fault's own details.
use super::{esc, HostSim, LabBlock, VmSim};

/// A `LocalizedMethodFault`'s content.
pub(super) fn fault_body(type_name: &str, inner: &str, message: &str) -> String {
    format!(
        "<fault><fault xsi:type=\"{type_name}\">{inner}</fault><localizedMessage>{}</localizedMessage></fault>",
        esc(message)
    )
}

/// The fault type and stock message vCenter reports for a block.
pub(super) fn block_type(b: LabBlock) -> (&'static str, &'static str) {
    match b {
        LabBlock::LocalStorage => ("NoCompatibleHost", "No host is compatible with the virtual machine."),
        LabBlock::AffinityRule => (
            "VmHostAffinityRuleViolation",
            "The virtual machine violates a mandatory VM/Host affinity rule on the destination host.",
        ),
        LabBlock::PassthroughDevice | LabBlock::UsbDevice => (
            "DisallowedMigrationDeviceAttached",
            "Migration is not possible while the virtual machine has a device attached.",
        ),
        LabBlock::DrsManual => ("", ""),
        LabBlock::DrsDisabledForVm => ("DrsDisabledOnVm", "DRS is disabled on the virtual machine."),
        LabBlock::FaultTolerance => ("CannotMoveFaultToleranceVm", "Cannot move a fault tolerant virtual machine."),
        LabBlock::DeltaDisk => ("CannotMoveVmWithDeltaDisk", "Cannot move a virtual machine with a delta disk."),
        LabBlock::InsufficientResources => {
            ("InsufficientResourcesFault", "Insufficient resources to satisfy the configured failover level.")
        }
    }
}

/// The drsFault entry for a blocked VM (None for blocks DRS reports no fault for).
pub(super) fn block_fault(b: LabBlock, reason: &str, v: &VmSim, host: Option<&HostSim>) -> Option<String> {
    let (ty, stock) = block_type(b);
    if ty.is_empty() {
        return None;
    }
    let message = if reason.is_empty() { stock } else { reason };
    let host_name = host.map(|h| h.name.as_str()).unwrap_or_default();
    let inner = match b {
        LabBlock::LocalStorage => format!(
            "<error><fault xsi:type=\"DatastoreNotWritableOnHost\"><datastore type=\"Datastore\">{}</datastore>\
             <name>{}-local</name><host type=\"HostSystem\">{}</host></fault>\
             <localizedMessage>The datastore is not writable on the host.</localizedMessage></error>",
            host.map(|h| h.local_ds.as_str()).unwrap_or_default(),
            esc(host_name),
            esc(&v.host)
        ),
        LabBlock::AffinityRule => format!("<vmName>{}</vmName><hostName>{}</hostName>", esc(&v.name), esc(host_name)),
        LabBlock::PassthroughDevice | LabBlock::UsbDevice => {
            "<fault><fault xsi:type=\"NotSupported\"></fault><localizedMessage>The device is not supported for migration.</localizedMessage></fault>"
                .to_owned()
        }
        LabBlock::FaultTolerance => format!("<moveType>migrate</moveType><vmName>{}</vmName>", esc(&v.name)),
        LabBlock::DeltaDisk => "<device>Hard disk 1</device>".to_owned(),
        _ => String::new(),
    };
    Some(fault_body(ty, &inner, message))
}
