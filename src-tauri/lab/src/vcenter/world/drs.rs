//! DRS evacuation for maintenance mode: which VMs must move, which can, where to (the least
//! loaded usable host of the cluster), one move per step, and the cluster's `drsFault` for
//! every VM an evacuation cannot move.
use std::collections::BTreeMap;

use super::faults::{block_fault, fault_body};
use super::{Work, World};

impl World {
    /// One step of DRS emptying `host`: move one movable VM, or finish when none is left.
    pub(super) fn evacuate_step(&mut self, n: u64, host: &str, total: usize, moved: usize) {
        let need = self.needing_move(host);
        if need.is_empty() {
            if let Some(h) = self.hosts.get_mut(host) {
                h.in_mm = true;
            }
            self.render_host(host);
            self.finish(n, Ok(()));
            return;
        }
        let mut moved_now = moved;
        if let Some(vm) = need.iter().find(|vm| self.movable(vm)).cloned() {
            if let Some(target) = self.target_for(host) {
                self.move_vm(&vm, &target);
                moved_now += 1;
            }
        }
        if let Some(t) = self.tasks.get_mut(&n) {
            if let Work::Evacuate { moved, .. } = &mut t.work {
                *moved = moved_now;
            }
            t.progress = Some((moved_now * 100 / total.max(1)).min(99) as u8);
            let moid = t.moid.clone();
            self.render_task(&moid);
        }
        if let Some(c) = self.cluster_of(host) {
            self.refresh_faults(&c);
            self.render_cluster(&c);
        }
    }

    /// VMs on `host` the evacuation still has to move.
    pub(super) fn needing_move(&self, host: &str) -> Vec<String> {
        let all = self.hosts.get(host).and_then(|h| h.entering).unwrap_or(false);
        self.vms
            .iter()
            .filter(|(_, v)| v.host == host && (all || v.power == "poweredOn"))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub(super) fn drs_automatic(&self, host: &str) -> bool {
        self.cluster_of(host)
            .and_then(|c| self.clusters.get(&c))
            .is_some_and(|c| c.drs_enabled && c.behavior == "fullyAutomated")
    }

    /// DRS would move it now.
    pub(super) fn movable(&self, vm: &str) -> bool {
        let Some(v) = self.vms.get(vm) else { return false };
        v.block.is_none() && self.drs_automatic(&v.host) && self.target_for(&v.host).is_some()
    }

    pub(super) fn usable_target(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|h| h.connection == "connected" && !h.in_mm && h.entering.is_none())
    }

    /// The least loaded usable other host of `host`'s cluster.
    pub(super) fn target_for(&self, host: &str) -> Option<String> {
        let cluster = self.cluster_of(host)?;
        let c = self.clusters.get(&cluster)?;
        c.hosts
            .iter()
            .filter(|h| h.as_str() != host && self.usable_target(h))
            .min_by_key(|h| (self.vms.values().filter(|v| &v.host == *h).count(), (*h).clone()))
            .cloned()
    }

    pub(super) fn move_vm(&mut self, vm: &str, target: &str) {
        let Some(v) = self.vms.get_mut(vm) else { return };
        let from = std::mem::replace(&mut v.host, target.to_owned());
        self.render_vm(vm);
        self.render_host(&from);
        self.render_host(target);
    }

    /// Recompute the cluster's `drsFault`: every VM an evacuation in it cannot move, and why.
    pub(super) fn refresh_faults(&mut self, cluster: &str) {
        let Some(c) = self.clusters.get(cluster) else { return };
        let auto = c.drs_enabled && c.behavior == "fullyAutomated";
        let mut faults = BTreeMap::new();
        for host in c.hosts.clone() {
            if self.hosts.get(&host).is_none_or(|h| h.entering.is_none()) {
                continue;
            }
            let target = self.target_for(&host);
            for vm in self.needing_move(&host) {
                let Some(v) = self.vms.get(&vm) else { continue };
                let body = match (&v.block, &target) {
                    (Some((block, reason)), _) => block_fault(*block, reason, v, self.hosts.get(&host)),
                    (None, None) if auto => {
                        Some(fault_body("NoCompatibleHost", "", "No host is compatible with the virtual machine."))
                    }
                    _ => None,
                };
                if let Some(body) = body {
                    faults.insert(vm, body);
                }
            }
        }
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.faults = faults;
        }
    }
}
