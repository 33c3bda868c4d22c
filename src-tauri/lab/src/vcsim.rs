//! Starting govmomi's vCenter simulator (`target/peers/vcsim`, built by
//! `scripts/peers/build-vcsim`) for a test: on a free loopback port, waiting for its ready
//! line (never sleeping), and stopping it when the handle is dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use eio_connectors::http::{HttpClient, HttpConfig, Thumbprint, TlsPolicy};
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
