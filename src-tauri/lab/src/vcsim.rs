//! Starting govmomi's vCenter simulator (`target/peers/vcsim`, built by
//! `scripts/peers/build-vcsim`) for a test: on a free loopback port, waiting for its ready
//! line (never sleeping), and stopping it when the handle is dropped. Tests change and read
//! it with raw SOAP where our client has no method ([`Vcsim::remove_cdroms`],
//! [`Vcsim::property`]), so what they compare with is vcsim's word, not our client's.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use eio_connectors::http::{HttpClient, HttpConfig, Thumbprint, TlsPolicy};
use eio_connectors::vcenter::xml::{parse_document, Node};
use eio_connectors::vcenter::VcenterConfig;
use eio_connectors::Credentials;

/// The simulator's own count of its inventory (`VCSIM_COUNTS`), read from its object
/// registry: a second path to the truth, independent of our client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub datacenters: usize,
    pub clusters: usize,
    pub hosts: usize,
    pub vms: usize,
}

pub struct Vcsim {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `https://127.0.0.1:PORT/sdk` (no credentials in it)
    pub sdk_url: url::Url,
    pub username: String,
    pub password: String,
    pub thumbprint: Thumbprint,
    pub counts: Counts,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("EIO_VCSIM") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/vcsim")
}

impl Vcsim {
    /// The simulator's process id (the benchmark reads its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Start vcsim with these model flags (e.g. `["-dc", "2", "-cluster", "3"]`).
    pub fn start(args: &[&str]) -> Vcsim {
        let bin = binary();
        assert!(
            bin.is_file(),
            "the vCenter simulator is missing at {}: run scripts/peers/build-vcsim (or point EIO_VCSIM at a vcsim binary)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args(args)
            .args(["-port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = lines.find_map(|l| l.ok().filter(|l| l.starts_with("VCSIM_URL=")));
            let _ = tx.send(ready);
            for _ in lines {} // keep draining so vcsim never blocks on a full pipe
        });
        // Generous: a 10,000-VM model takes ~20 s to build on 2 cores.
        let line = match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(Some(line)) => line,
            other => {
                let _ = child.kill();
                panic!("vcsim {args:?} did not print its ready line: {other:?}");
            }
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        let mut url: url::Url = field("VCSIM_URL").parse().expect("VCSIM_URL");
        let username = url.username().to_owned();
        let password = url.password().unwrap_or_default().to_owned();
        url.set_username("").expect("url");
        url.set_password(None).expect("url");
        let thumbprint: Thumbprint = field("VCSIM_THUMBPRINT").parse().expect("thumbprint");
        let counts_text = field("VCSIM_COUNTS");
        let count = |k: &str| -> usize {
            counts_text
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {counts_text}"))
        };
        let counts =
            Counts { datacenters: count("dc"), clusters: count("cluster"), hosts: count("host"), vms: count("vm") };
        let stdin = child.stdin.take();
        Vcsim { child, stdin, sdk_url: url, username, password, thumbprint, counts }
    }

    /// A client configuration that pins the simulator's certificate.
    pub fn config(&self) -> VcenterConfig {
        let mut cfg =
            VcenterConfig::new(self.sdk_url.clone(), Credentials::new(&self.username, self.password.as_str()));
        cfg.http.tls = TlsPolicy::Pinned(self.thumbprint);
        cfg
    }

    /// A plain HTTP client for test-side requests (the tagging API, raw SOAP).
    pub fn http(&self) -> HttpClient {
        HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(self.thumbprint), cookies: true, ..Default::default() })
            .expect("client")
    }

    /// Send a raw SOAP request (the test's own, for changes our client has no method
    /// for) on a client that has logged in; returns the response text.
    pub async fn raw_soap(&self, http: &HttpClient, body: &str) -> String {
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
        );
        let resp = http
            .send(
                http.inner()
                    .post(self.sdk_url.clone())
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .header("SOAPAction", "urn:vim25/6.5")
                    .body(envelope),
            )
            .await
            .expect("raw SOAP request");
        String::from_utf8(http.body(resp).await.expect("body").to_vec()).expect("utf-8")
    }

    /// Log `http` in with raw SOAP.
    pub async fn raw_login(&self, http: &HttpClient) {
        let text = self
            .raw_soap(
                http,
                &format!(
                    "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this>\
                     <userName>{}</userName><password>{}</password></Login>",
                    self.username, self.password
                ),
            )
            .await;
        assert!(text.contains("LoginResponse"), "raw login failed: {text}");
    }

    /// Remove every CD-ROM of VM `vm_moid` (a raw ReconfigVM_Task with one `remove`
    /// device change per `VirtualCdrom`, followed until the task ends): what an operator
    /// does to free a VM a host CD-ROM pins. Returns the device keys removed (none when it
    /// had no CD-ROM, without reconfiguring anything); `Err` says what vcsim answered.
    pub async fn remove_cdroms(&self, vm_moid: &str) -> Result<Vec<i32>, String> {
        let http = self.http();
        self.raw_login(&http).await;
        let devices = self.property_on(&http, "VirtualMachine", vm_moid, "config.hardware.device").await?;
        let keys: Vec<i32> = devices
            .children
            .iter()
            .filter(|d| d.xsi_type.as_deref().is_some_and(|t| t.rsplit(':').next() == Some("VirtualCdrom")))
            .filter_map(|d| d.text_of("key")?.trim().parse().ok())
            .collect();
        if keys.is_empty() {
            return Ok(keys);
        }
        let changes: String = keys
            .iter()
            .map(|k| {
                format!(
                    "<deviceChange><operation>remove</operation><device xsi:type=\"VirtualCdrom\"><key>{k}</key></device></deviceChange>"
                )
            })
            .collect();
        self.reconfigure(&http, vm_moid, &changes).await?;
        Ok(keys)
    }

    /// Reserve `mb` of memory for VM `vm_moid` (a raw ReconfigVM_Task setting
    /// `memoryAllocation.reservation`, followed until the task ends).
    pub async fn reserve_memory(&self, vm_moid: &str, mb: i64) -> Result<(), String> {
        let http = self.http();
        self.raw_login(&http).await;
        self.reconfigure(
            &http,
            vm_moid,
            &format!("<memoryAllocation><reservation>{mb}</reservation></memoryAllocation>"),
        )
        .await
    }

    /// ReconfigVM_Task of `vm_moid` with this `VirtualMachineConfigSpec` body, followed until
    /// it ends.
    async fn reconfigure(&self, http: &HttpClient, vm_moid: &str, spec: &str) -> Result<(), String> {
        let answer = self
            .raw_soap(
                http,
                &format!(
                    "<ReconfigVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">{}</_this><spec>{spec}</spec></ReconfigVM_Task>",
                    quick_xml::escape::escape(vm_moid)
                ),
            )
            .await;
        let doc = parse_document(answer.as_bytes()).map_err(|e| format!("{e}: {answer}"))?;
        let task = doc
            .at(&["Body", "ReconfigVM_TaskResponse", "returnval"])
            .map(|t| t.text.trim().to_owned())
            .ok_or_else(|| format!("ReconfigVM_Task was refused: {answer}"))?;
        for _ in 0..200 {
            let info = self.property_on(http, "Task", &task, "info").await?;
            match info.text_of("state").map(str::trim) {
                Some("success") => return Ok(()),
                Some("error") => return Err(format!("{task} failed: {answer}")),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        Err(format!("{task} did not finish"))
    }

    /// Property `path` of object `kind`:`moid` as vcsim states it (its `val` element), read
    /// with raw SOAP on a session of its own: the truth a test compares our client's
    /// reading with. `Err` when vcsim does not give it.
    pub async fn property(&self, kind: &str, moid: &str, path: &str) -> Result<Node, String> {
        let http = self.http();
        self.raw_login(&http).await;
        self.property_on(&http, kind, moid, path).await
    }

    async fn property_on(&self, http: &HttpClient, kind: &str, moid: &str, path: &str) -> Result<Node, String> {
        let (kind_x, moid_x, path_x) =
            (quick_xml::escape::escape(kind), quick_xml::escape::escape(moid), quick_xml::escape::escape(path));
        let answer = self
            .raw_soap(
                http,
                &format!(
                    "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet>\
                     <propSet><type>{kind_x}</type><pathSet>{path_x}</pathSet></propSet>\
                     <objectSet><obj type=\"{kind_x}\">{moid_x}</obj></objectSet></specSet><options/></RetrievePropertiesEx>"
                ),
            )
            .await;
        let doc = parse_document(answer.as_bytes()).map_err(|e| format!("{e}: {answer}"))?;
        doc.at(&["Body", "RetrievePropertiesExResponse", "returnval", "objects"])
            .and_then(|o| o.children_named("propSet").find(|p| p.text_of("name").map(str::trim) == Some(path)))
            .and_then(|p| p.child("val"))
            .cloned()
            .ok_or_else(|| format!("vcsim gave no {path} of {kind} {moid}: {answer}"))
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        // Closing its stdin asks vcsim to stop and remove its temporary datastores.
        drop(self.stdin.take());
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
