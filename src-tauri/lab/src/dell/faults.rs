//! What goes wrong at a lab endpoint: the [`Fault`]s a test injects, the cell that holds
//! one while the lab runs, what they do to an answer (slow, 503 with `Retry-After`, a body
//! cut in half), and the raw TCP listener for faults below HTTP (connection resets, TLS
//! handshake failures, TLS-1.0-only endpoints).
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::redfish;

/// What goes wrong at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every login and request is refused with 401.
    Unauthorized,
    /// 503 with `Retry-After`, as an iDRAC that is restarting.
    Unavailable,
    /// Every answer is delayed this long.
    Slow(Duration),
    /// JSON/XML bodies are cut in half.
    MalformedJson,
    /// The TCP connection is reset as soon as it is accepted (set at build time only).
    ConnectionReset,
    /// The TLS handshake fails with a `handshake_failure` alert (set at build time only).
    TlsFailure,
    /// The endpoint answers TLS 1.2 with a `protocol_version` alert, as an iDRAC that speaks
    /// only TLS 1.0/1.1 does (set at build time only).
    LegacyTls,
}

impl Fault {
    /// Faults below HTTP: the endpoint is served by a raw TCP listener instead.
    pub fn is_transport(&self) -> bool {
        matches!(self, Fault::ConnectionReset | Fault::TlsFailure | Fault::LegacyTls)
    }
}

/// A fault that tests can change while the lab runs.
#[derive(Debug, Default)]
pub(crate) struct FaultCell(Mutex<Option<Fault>>);

impl FaultCell {
    pub(crate) fn get(&self) -> Option<Fault> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn set(&self, f: Option<Fault>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = f;
    }
}

/// Delay or refuse before handling (Slow, Unavailable).
pub(crate) async fn apply_fault_before(fault: &Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(*d).await;
            None
        }
        Some(Fault::Unavailable) => {
            let mut r = redfish::redfish_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Base.1.8.ServiceTemporarilyUnavailable",
                "The service is temporarily unavailable. Retry in 30 seconds.",
            );
            if let Ok(v) = "30".parse() {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            Some(r)
        }
        _ => None,
    }
}

/// Damage the answer (MalformedJson: the body cut in half).
pub(crate) async fn apply_fault_after(fault: &Option<Fault>, resp: Response) -> Response {
    if fault.as_ref() != Some(&Fault::MalformedJson) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(cut))
}

/// A listener that fails below HTTP.
pub struct RawServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub(super) async fn serve_raw(fault: Fault) -> std::io::Result<RawServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (mut tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                _ = stopped.changed() => return,
            };
            let fault = fault.clone();
            tokio::spawn(async move {
                // TLS alert records: level fatal (2), handshake_failure (40) / protocol_version (70).
                let alert: &[u8] = match fault {
                    Fault::TlsFailure => &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
                    Fault::LegacyTls => &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
                    _ => {
                        // Reset: close with SO_LINGER 0, which sends RST instead of FIN.
                        #[allow(deprecated)]
                        let _ = tcp.set_linger(Some(Duration::ZERO));
                        drop(tcp);
                        return;
                    }
                };
                let mut hello = [0u8; 4096];
                let _ = tcp.read(&mut hello).await;
                let _ = tcp.write_all(alert).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    Ok(RawServer { addr, stop, task: Some(task) })
}
