//! Life in the lab while the demo runs: a VM powered on or off now and then through the
//! vCenter API, as someone in vCenter would.
use std::time::Duration;

use eio_connectors::http::TlsPolicy;
use eio_connectors::vcenter::{Session, VcenterConfig};
use eio_lab::estate::{self, EstateLab};
use eio_secret::{Credentials, Secret};

/// Powers random VMs on and off through the vCenter API, as someone in vCenter would.
pub(crate) struct Churn {
    state: u64,
    sessions: Vec<Option<Session>>,
}

impl Churn {
    pub(crate) fn new(lab: &EstateLab) -> Churn {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Churn { state: u64::from_le_bytes(seed) | 1, sessions: lab.vcenters.iter().map(|_| None).collect() }
    }

    /// xorshift64*
    pub(crate) fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) async fn toggle(&mut self, lab: &EstateLab) -> Result<Option<String>, String> {
        let e = &lab.estate;
        let candidates: Vec<&estate::EstateVm> = e
            .vms
            .iter()
            .filter(|v| v.moid != e.blocked.vm_moid || v.vcenter != e.blocked.vcenter)
            .filter(|v| !e.hosts.iter().any(|h| h.vcenter == v.vcenter && h.moid == v.host && h.in_maintenance_mode))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let vm = candidates[(self.next() % candidates.len() as u64) as usize];
        let lab_vc = &lab.vcenters[vm.vcenter];
        let Some(power) = lab_vc.vm_power(&vm.moid) else { return Ok(None) };
        if self.sessions[vm.vcenter].is_none() {
            let url = url::Url::parse(&lab_vc.sdk_url).map_err(|e| e.to_string())?;
            let mut cfg = VcenterConfig::new(url, Credentials::new(lab_vc.username(), Secret::new(lab_vc.password())));
            cfg.http.tls = TlsPolicy::Pinned(lab_vc.thumbprint);
            self.sessions[vm.vcenter] = Some(Session::login(&cfg).await.map_err(|e| e.to_string())?);
        }
        let Some(session) = self.sessions[vm.vcenter].as_ref() else { return Ok(None) };
        let on = power != "poweredOn";
        let task = if on { session.power_on_vm(&vm.moid).await } else { session.power_off_vm(&vm.moid).await };
        match task {
            Ok(task) => {
                let _ = session.wait_for_task(&task, Duration::from_secs(30)).await;
                Ok(Some(format!("lab: {} powered {}", vm.name, if on { "on" } else { "off" })))
            }
            Err(err) => {
                // Log in again next time (the session may have expired).
                self.sessions[vm.vcenter] = None;
                Err(err.to_string())
            }
        }
    }
}
