//! The handles a test holds: [`LabBmc`] (one iDRAC on its own port: its facts, ledger and
//! knobs), [`LabOme`], the whole [`DellLab`], and the [`DellLabBuilder`] that generates the
//! servers and serves every endpoint on loopback.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eio_connectors::http::{HttpConfig, Thumbprint, TlsPolicy};
use eio_connectors::idrac::{Generation, IdracEndpoint};
use eio_connectors::Credentials;

use super::faults::{serve_raw, FaultCell, RawServer};
use super::jobs::JobKnobs;
use super::model::{JobOutcome, ServerSpec, SimJob};
use super::samples::Samples;
use super::{bmc_handler, guard, ome, BmcState, DellAction, Fault, LabError};
use crate::tap::{CallTap, TapCell};
use crate::tls::HttpsServer;

enum Served {
    Https(HttpsServer),
    Raw(RawServer),
}

/// One simulated iDRAC on its own loopback port.
pub struct LabBmc {
    pub index: usize,
    /// `https://127.0.0.1:PORT`
    pub url: url::Url,
    /// The certificate to pin (`None` for endpoints that fail below HTTP).
    pub thumbprint: Option<Thumbprint>,
    state: Arc<BmcState>,
    served: Served,
}

impl LabBmc {
    /// The facts it reports.
    pub fn spec(&self) -> ServerSpec {
        self.state.spec()
    }

    /// Change an HTTP-level fault while the lab runs (transport faults are fixed at build).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// Change the server's facts while the lab runs (e.g. after a firmware update).
    pub fn update_spec(&self, change: impl FnOnce(&mut ServerSpec)) {
        change(&mut self.state.spec.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// HTTP requests served so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Redfish sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.sessions.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The job queue.
    pub fn jobs(&self) -> Vec<SimJob> {
        self.state.jobs()
    }

    /// Every job action this iDRAC received (and every reboot it did by itself), in order.
    pub fn actions(&self) -> Vec<DellAction> {
        guard(&self.state.ledger).clone()
    }

    /// Accepted requests of `action` (`MultipartUpdate`, `ComputerSystem.Reset`, …).
    pub fn action_count(&self, action: &str) -> usize {
        guard(&self.state.ledger).iter().filter(|a| a.action == action && a.refused.is_none()).count()
    }

    /// Every `action` request the iDRAC received, refused or not (a second update refused
    /// with RAC0679 is still a second update).
    pub fn call_count(&self, action: &str) -> usize {
        guard(&self.state.ledger).iter().filter(|a| a.action == action).count()
    }

    /// The version of a component the server reports now.
    pub fn firmware_version(&self, fqdd: &str) -> Option<String> {
        self.state.spec().firmware(fqdd).map(|f| f.version.clone())
    }

    /// The next started update jobs end like this, in order (then Completed again).
    pub fn set_next_job_outcomes(&self, outcomes: &[JobOutcome]) {
        guard(&self.state.knobs).outcomes = outcomes.to_vec();
    }

    /// Refuse the next `n` update requests with RAC0679 even when the queue is idle.
    pub fn refuse_next_updates(&self, n: u32) {
        guard(&self.state.knobs).refuse_next = n;
    }

    /// A slow iDRAC: each state of an update job lasts `looks` looks.
    pub fn set_job_looks_per_state(&self, looks: u32) {
        guard(&self.state.knobs).looks_per_state = looks;
    }

    /// The next `n` requests are answered 503 (busy, restarting).
    pub fn unreachable_for(&self, n: u32) {
        guard(&self.state.knobs).unreachable = n;
    }

    /// After every accepted reset, `n` requests are answered 503: the iDRAC is unreachable
    /// in the middle of the job.
    pub fn set_unreachable_after_reset(&self, n: u32) {
        guard(&self.state.knobs).unreachable_after_reset = n;
    }

    /// After the iDRAC's own firmware installs, `n` requests are answered 503: it restarts
    /// itself (the server keeps running).
    pub fn set_unreachable_after_idrac_update(&self, n: u32) {
        guard(&self.state.knobs).unreachable_after_idrac_update = n;
    }

    pub fn addr(&self) -> SocketAddr {
        match &self.served {
            Served::Https(s) => s.addr,
            Served::Raw(r) => r.addr,
        }
    }

    /// How a client should trust it: the pinned thumbprint (or insecure when it has none).
    pub fn tls_policy(&self) -> TlsPolicy {
        self.thumbprint.map(TlsPolicy::Pinned).unwrap_or(TlsPolicy::Insecure)
    }
}

/// The simulated OME.
pub struct LabOme {
    pub url: url::Url,
    pub thumbprint: Thumbprint,
    state: Arc<ome::OmeState>,
    _server: HttpsServer,
}

impl LabOme {
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// API sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.tokens.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig { tls: TlsPolicy::Pinned(self.thumbprint), ..Default::default() }
    }
}

/// Many iDRACs and (optionally) an OME, in one process.
pub struct DellLab {
    pub bmcs: Vec<LabBmc>,
    pub ome: Option<LabOme>,
    username: String,
    password: String,
    tap: Arc<TapCell>,
}

impl DellLab {
    pub fn builder() -> DellLabBuilder {
        DellLabBuilder::default()
    }

    pub fn bmc(&self, index: usize) -> &LabBmc {
        &self.bmcs[index]
    }

    /// The credentials every lab endpoint accepts.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(self.username.clone(), self.password.clone())
    }

    /// An HTTP configuration that pins BMC `index`'s certificate.
    pub fn http_config(&self, index: usize) -> HttpConfig {
        HttpConfig { tls: self.bmcs[index].tls_policy(), ..Default::default() }
    }

    /// Hold the answer to every call `tap` wants, on every BMC, until the test lets it go
    /// (None: answer everything at once again). See [`crate::tap`].
    pub fn set_tap(&self, tap: Option<CallTap>) {
        self.tap.set(tap);
    }

    /// BMC `index` as an operator would register it.
    pub fn endpoint(&self, index: usize) -> IdracEndpoint {
        IdracEndpoint::new(self.bmcs[index].url.clone(), self.credentials(), self.http_config(index))
    }
}

type Customization = Box<dyn FnOnce(&mut ServerSpec) + Send>;

/// Builds a [`DellLab`].
pub struct DellLabBuilder {
    bmcs: usize,
    mix: Vec<(Generation, usize)>,
    faults: Vec<(usize, Fault)>,
    ome: bool,
    outdated_every: Option<usize>,
    username: String,
    password: String,
    samples_dir: Option<PathBuf>,
    page_size: usize,
    ome_page_size: usize,
    latency: Duration,
    customizations: Vec<(usize, Customization)>,
    /// Loopback ports per BMC (by index) and for the OME; absent: any free port.
    ports: Vec<u16>,
    ome_port: u16,
    cert: Option<crate::tls::LabCert>,
}

impl Default for DellLabBuilder {
    fn default() -> Self {
        DellLabBuilder {
            bmcs: 1,
            mix: vec![(Generation::Idrac9, 1)],
            faults: Vec::new(),
            ome: false,
            outdated_every: None,
            username: "root".into(),
            password: "calvin".into(),
            samples_dir: None,
            page_size: 50,
            ome_page_size: 50,
            latency: Duration::ZERO,
            customizations: Vec::new(),
            ports: Vec::new(),
            ome_port: 0,
            cert: None,
        }
    }
}

impl DellLabBuilder {
    /// How many iDRACs (one loopback port each).
    pub fn bmcs(mut self, n: usize) -> Self {
        self.bmcs = n;
        self
    }

    /// Generations in proportion, assigned round-robin: `[(Idrac7, 1), (Idrac9, 3)]`.
    pub fn generation_mix(mut self, mix: &[(Generation, usize)]) -> Self {
        self.mix = mix.to_vec();
        self
    }

    /// Every generation the same.
    pub fn generation(self, g: Generation) -> Self {
        self.generation_mix(&[(g, 1)])
    }

    /// A fault at BMC `index`.
    pub fn fault(mut self, index: usize, fault: Fault) -> Self {
        self.faults.push((index, fault));
        self
    }

    /// Serve an OME that manages every BMC.
    pub fn with_ome(mut self) -> Self {
        self.ome = true;
        self
    }

    /// Every `k`-th server runs older BIOS/iDRAC firmware than the OME baseline.
    pub fn outdated_every(mut self, k: usize) -> Self {
        self.outdated_every = Some(k.max(1));
        self
    }

    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.username = username.into();
        self.password = password.into();
        self
    }

    /// Load samples from here instead of `target/peers/samples`.
    pub fn samples_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.samples_dir = Some(dir.into());
        self
    }

    /// Members per Redfish collection page (iDRACs page at 50).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Items per OME page.
    pub fn ome_page_size(mut self, n: usize) -> Self {
        self.ome_page_size = n.max(1);
        self
    }

    /// How long every BMC takes to answer a request (a real iDRAC's service time; 0 = at once).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Change the generated facts of BMC `index`.
    pub fn customize(mut self, index: usize, change: impl FnOnce(&mut ServerSpec) + Send + 'static) -> Self {
        self.customizations.push((index, Box::new(change)));
        self
    }

    /// Listen on these loopback ports (BMC `i` on `bmc_ports[i]`, 0 or missing: any free
    /// port; the OME on `ome_port`), so a lab started again comes back at the same URLs.
    pub fn ports(mut self, bmc_ports: Vec<u16>, ome_port: u16) -> Self {
        self.ports = bmc_ports;
        self.ome_port = ome_port;
        self
    }

    /// Present this certificate on every endpoint (default: a fresh one each).
    pub fn certificate(mut self, cert: crate::tls::LabCert) -> Self {
        self.cert = Some(cert);
        self
    }

    pub async fn build(self) -> Result<DellLab, LabError> {
        let samples = Arc::new(match &self.samples_dir {
            Some(d) => Samples::load(d)?,
            None => Samples::load_default()?,
        });
        let cycle: Vec<Generation> = self.mix.iter().flat_map(|(g, n)| std::iter::repeat_n(*g, *n)).collect();
        if cycle.is_empty() {
            return Err(LabError::Config("the generation mix is empty".into()));
        }
        let mut specs: Vec<ServerSpec> = (0..self.bmcs)
            .map(|i| {
                let outdated = self.outdated_every.is_some_and(|k| i % k == k - 1);
                ServerSpec::generate(i, cycle[i % cycle.len()], outdated)
            })
            .collect();
        for (i, change) in self.customizations {
            if let Some(spec) = specs.get_mut(i) {
                change(spec);
            }
        }
        let mut bmcs = Vec::with_capacity(specs.len());
        let tap = Arc::new(TapCell::default());
        for spec in &specs {
            let fault = self.faults.iter().rev().find(|(i, _)| *i == spec.index).map(|(_, f)| f.clone());
            let state = Arc::new(BmcState {
                spec: RwLock::new(spec.clone()),
                samples: samples.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                page_size: self.page_size,
                latency: self.latency,
                sessions: Mutex::new(HashMap::new()),
                jobs: Mutex::new(Vec::new()),
                enumerations: Mutex::new(HashMap::new()),
                fault: FaultCell::default(),
                requests: AtomicU64::new(0),
                next_id: AtomicU64::new(0),
                ledger: Mutex::new(Vec::new()),
                knobs: Mutex::new(JobKnobs::default()),
                staged: Mutex::new(Vec::new()),
                etag: AtomicU64::new(1),
                tap: tap.clone(),
            });
            let (served, thumbprint) = match fault {
                Some(f) if f.is_transport() => (Served::Raw(serve_raw(f).await?), None),
                other => {
                    state.fault.set(other);
                    let router = axum::Router::new().fallback(bmc_handler).with_state(state.clone());
                    let port = self.ports.get(spec.index).copied().unwrap_or(0);
                    let server = crate::tls::serve_https_at(router, port, self.cert.as_ref()).await?;
                    let t = server.thumbprint;
                    (Served::Https(server), Some(t))
                }
            };
            let port = match &served {
                Served::Https(s) => s.addr.port(),
                Served::Raw(r) => r.addr.port(),
            };
            let url =
                url::Url::parse(&format!("https://127.0.0.1:{port}")).map_err(|e| LabError::Config(e.to_string()))?;
            bmcs.push(LabBmc { index: spec.index, url, thumbprint, state, served });
        }
        let ome = if self.ome {
            let state = Arc::new(ome::OmeState {
                servers: specs.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                page_size: self.ome_page_size,
                tokens: Mutex::new(Default::default()),
                fault: FaultCell::default(),
            });
            let router = axum::Router::new().fallback(ome::handle).with_state(state.clone());
            let server = crate::tls::serve_https_at(router, self.ome_port, self.cert.as_ref()).await?;
            let url = url::Url::parse(&server.base_url).map_err(|e| LabError::Config(e.to_string()))?;
            Some(LabOme { url, thumbprint: server.thumbprint, state, _server: server })
        } else {
            None
        };
        Ok(DellLab { bmcs, ome, username: self.username, password: self.password, tap })
    }
}
