//! What a test sets on the lab vCenter's world: task lengths, downtimes, hung guests and
//! stopped tools, VMs DRS cannot move, a cluster's DRS settings, injected failures, purged
//! tasks.
use super::{Downtime, LabBlock, LabFailure, World};

impl World {
    pub(crate) fn set_task_steps(&mut self, method: &str, steps: u32) {
        self.task_steps.insert(method.to_owned(), steps);
    }

    pub(crate) fn set_reboot_downtime(&mut self, d: Downtime) {
        self.reboot_downtime = d;
    }

    pub(crate) fn set_guest_shutdown(&mut self, d: Downtime) {
        self.guest_shutdown = d;
    }

    pub(crate) fn set_hung_guest(&mut self, vm: &str, hung: bool) -> bool {
        match self.vms.get_mut(vm) {
            Some(v) => {
                v.hung = hung;
                if hung {
                    v.shutdown = None;
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_tools_running(&mut self, vm: &str, running: bool) -> bool {
        match self.vms.get_mut(vm) {
            Some(v) => {
                v.tools = running;
                self.render_vm(vm);
                true
            }
            None => false,
        }
    }

    pub(crate) fn block_vm(&mut self, vm: &str, block: Option<(LabBlock, String)>) -> bool {
        let Some(v) = self.vms.get_mut(vm) else { return false };
        v.block = block;
        let host = v.host.clone();
        self.render_vm(vm);
        if let Some(c) = self.cluster_of(&host) {
            self.refresh_faults(&c);
            self.render_cluster(&c);
        }
        true
    }

    pub(crate) fn set_cluster_drs(&mut self, cluster: &str, enabled: bool, behavior: &str) -> bool {
        let Some(c) = self.clusters.get_mut(cluster) else { return false };
        c.drs_enabled = enabled;
        c.behavior = behavior.to_owned();
        self.refresh_faults(cluster);
        self.render_cluster(cluster);
        true
    }

    pub(crate) fn add_failure(&mut self, f: LabFailure) {
        self.failures.push(f);
    }

    pub(crate) fn clear_failures(&mut self) {
        self.failures.clear();
    }

    /// vCenter purges a task some time after it ended: it is then unknown.
    pub(crate) fn forget_task(&mut self, moid: &str) -> bool {
        let Some(n) = self.task_ids.remove(moid) else { return false };
        self.tasks.remove(&n);
        self.index.remove(moid);
        true
    }
}
