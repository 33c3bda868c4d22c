//! Helpers shared by the Dell connector tests: where the fetched samples and the
//! sushy-emulator venv live (tests FAIL, naming the script to run, when they are missing),
//! a replay server for the raw iDRAC9 captures, and peers started on free loopback ports.
#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `target/peers/samples/<rel>`, or a failure that says how to get it.
pub fn sample_path(rel: &str) -> PathBuf {
    let dir = eio_lab::dell::samples::default_dir();
    let path = dir.join(rel);
    assert!(
        path.is_file(),
        "sample {} is missing: run scripts/peers/fetch-dell-samples (looked in {})",
        rel,
        dir.display()
    );
    path
}

pub fn sample_text(rel: &str) -> String {
    std::fs::read_to_string(sample_path(rel)).expect("readable sample")
}

pub fn sample_json(rel: &str) -> Value {
    serde_json::from_str(&sample_text(rel)).expect("sample is JSON")
}

/// A free loopback port (bound and released; the peer binds it next).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Wait until something accepts TCP connections on `port` (the peer's "ready" signal), or
/// fail after `limit` with what the peer printed.
pub fn wait_for_port(port: u16, limit: Duration, child: &mut Child, what: &str, log: &Path) {
    let start = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited ({status}) before listening on {port}: {err}");
        }
        assert!(start.elapsed() < limit, "{what} did not listen on 127.0.0.1:{port} within {limit:?}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
pub struct Peer {
    pub child: Child,
    pub port: u16,
    pub dir: Option<tempfile::TempDir>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/peers/venv/bin/sushy-emulator`, or a failure that says how to get it.
pub fn sushy_emulator() -> PathBuf {
    let bin = repo().join("target/peers/venv/bin/sushy-emulator");
    assert!(bin.is_file(), "sushy-emulator is not installed at {}: run scripts/peers/sushy", bin.display());
    bin
}

/// Start sushy-emulator `--fake` on 127.0.0.1 over HTTPS (`cert_pem`/`key_pem`) with Basic
/// auth for `user`/`password` (a bcrypt htpasswd file, as sushy-tools requires).
pub fn start_sushy(user: &str, password: &str, cert_pem: &str, key_pem: &str) -> Peer {
    let bin = sushy_emulator();
    let python = bin.with_file_name("python");
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = Command::new(&python)
        .args(["-c", "import bcrypt,sys; print(bcrypt.hashpw(sys.stdin.readline().strip().encode(), bcrypt.gensalt(rounds=4)).decode())"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes())?;
            c.wait_with_output()
        })
        .expect("bcrypt in the sushy venv (run scripts/peers/sushy)");
    assert!(hash.status.success(), "bcrypt failed in the sushy venv: run scripts/peers/sushy");
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(&htpasswd, format!("{user}:{}", String::from_utf8_lossy(&hash.stdout).trim())).expect("htpasswd");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, cert_pem).expect("cert");
    std::fs::write(&key, key_pem).expect("key");
    let config = dir.path().join("emulator.conf");
    std::fs::write(
        &config,
        format!(
            "SUSHY_EMULATOR_AUTH_FILE = {:?}\nSUSHY_EMULATOR_SSL_CERT = {:?}\nSUSHY_EMULATOR_SSL_KEY = {:?}\n",
            htpasswd.display().to_string(),
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .expect("config");
    let port = free_port();
    let log = dir.path().join("sushy.log");
    let mut child = Command::new(&bin)
        .args(["--fake", "-i", "127.0.0.1", "-p", &port.to_string(), "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start sushy-emulator");
    wait_for_port(port, Duration::from_secs(60), &mut child, "sushy-emulator", &log);
    Peer { child, port, dir: Some(dir) }
}

/// A server that only speaks TLS 1.0 (python's ssl with `@SECLEVEL=0`), as old iDRACs do.
/// Prints its port on stdout once listening.
pub fn start_tls10_server(cert_pem: &str, key_pem: &str) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, cert_pem).expect("cert");
    std::fs::write(&key, key_pem).expect("key");
    let script = r#"
import socket, ssl, sys, warnings
warnings.simplefilter("ignore")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1
ctx.maximum_version = ssl.TLSVersion.TLSv1
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(65536)
        t.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}")
        t.close()
    except Exception:
        c.close()
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 for the TLS 1.0 server");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = child.stdout.as_mut().expect("stdout");
        std::io::BufReader::new(out).read_line(&mut line).expect("port line");
    }
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the TLS 1.0 server printed {line:?}"));
    Peer { child, port, dir: Some(dir) }
}

/// A self-signed certificate for 127.0.0.1 as PEM (cert, key) and its thumbprint.
pub fn self_signed() -> (String, String, eio_connectors::http::Thumbprint) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).expect("cert");
    let thumbprint = eio_connectors::http::Thumbprint::of_der(cert.cert.der());
    (cert.cert.pem(), cert.signing_key.serialize_pem(), thumbprint)
}

/// Serve the raw sushy-oem-idrac captures at their own `@odata.id`s (unchanged), plus the
/// Systems collection the wheel lacks, over HTTPS: the inventory of "a real iDRAC9".
pub async fn serve_idrac9_captures() -> eio_lab::tls::HttpsServer {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let mut docs: std::collections::HashMap<String, String> = Default::default();
    for file in ["root.json", "system.json", "manager.json", "manager_collection.json"] {
        let text = sample_text(&format!("sushy-oem-idrac/{file}"));
        let v: Value = serde_json::from_str(&text).expect("json");
        let id = v["@odata.id"].as_str().expect("@odata.id").trim_end_matches('/').to_owned();
        docs.insert(id, text);
    }
    docs.insert(
        "/redfish/v1/Systems".into(),
        serde_json::json!({"@odata.id": "/redfish/v1/Systems", "Members": [{"@odata.id": "/redfish/v1/Systems/System.Embedded.1"}],
                           "Members@odata.count": 1}).to_string(),
    );
    let docs = std::sync::Arc::new(docs);
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let docs = docs.clone();
        async move {
            let path = req.uri().path().trim_end_matches('/').to_owned();
            match docs.get(&path) {
                Some(body) if req.method() == axum::http::Method::GET => {
                    ([(axum::http::header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
                }
                _ => (StatusCode::NOT_FOUND, "{}").into_response(),
            }
        }
    });
    eio_lab::tls::serve_https(router).await.expect("serve captures")
}
