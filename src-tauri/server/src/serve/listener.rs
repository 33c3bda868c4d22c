//! The `eio serve` listener: the accept loop between the socket and the router.
//!
//! It owns what a hostile client meets before any handler runs:
//! * **Connection cap** (`--max-connections`): over it, a new connection is closed at once,
//!   before a byte is read.
//! * **Timeouts** (`--header-timeout`): a request's head must arrive within it, from the
//!   moment the server waits for it (so it is also how long an idle keep-alive connection
//!   stays open), and a TLS handshake must finish within it. A response that streams
//!   (`/api/events`) is not cut: Server-Sent Events are long-lived by design.
//! * **TLS** (`--tls-cert`, `--tls-key`, PEM; rustls with the `ring` provider), for teams
//!   without a reverse proxy. HTTP/1.1 only, with or without TLS.
//! * **Host allow-list** (`--allowed-host`): a request for a name this server doesn't
//!   know (DNS rebinding: an attacker's name resolving to this machine) is refused with
//!   421 before the router sees it. Loopback names and the bound address are allowed.
//! * **The client's address**: every request carries `ConnectInfo<SocketAddr>`.
//! * **Graceful stop**: on the stop signal it stops accepting, lets open requests finish
//!   (bounded by [`DRAIN`]), and returns.
//!
//! It never logs or returns the private key or its file's contents: a bad key file is
//! named, never quoted.
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Args;
use eio_core::error::ErrorCode;
use eio_core::Error;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::http::HttpError;

/// How long a stopping server waits for open requests before it closes them.
pub const DRAIN: Duration = Duration::from_secs(20);

/// The listener's flags (part of `eio serve`).
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Serve HTTPS with this certificate chain (PEM; needs --tls-key). Session cookies are
    /// then marked Secure
    #[arg(long, env = "EIO_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, env = "EIO_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// At most this many open connections; over it a new one is closed at once
    #[arg(long, env = "EIO_MAX_CONNECTIONS", default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers (and to finish a TLS handshake);
    /// also how long an idle keep-alive connection stays open
    #[arg(long, env = "EIO_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Also answer requests for this host name or address (repeatable, or comma-separated
    /// in EIO_ALLOWED_HOSTS); always answered: localhost, 127.0.0.1, ::1 and the --bind
    /// address. Others get 421 (this stops DNS rebinding)
    #[arg(long = "allowed-host", env = "EIO_ALLOWED_HOSTS", value_delimiter = ',', value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
}

/// A bound listener, ready to serve.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    hosts: Arc<AllowedHosts>,
    max_connections: usize,
    header_timeout: Duration,
}

impl Listener {
    /// Check the TLS files (so a bad one fails before anything starts).
    pub fn tls(args: &ListenArgs) -> Result<Option<TlsAcceptor>, Error> {
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => load_tls(cert, key).map(Some),
            (None, None) => Ok(None),
            _ => Err(Error::config("--tls-cert and --tls-key go together: give both, or neither")),
        }
    }

    /// Listen on `bind` with `args`' limits and `tls` (from [`Listener::tls`]).
    pub async fn bind(bind: SocketAddr, args: &ListenArgs, tls: Option<TlsAcceptor>) -> Result<Listener, Error> {
        let tcp = TcpListener::bind(bind).await.map_err(|e| Error::config(format!("cannot listen on {bind}: {e}")))?;
        Ok(Listener {
            tcp,
            tls,
            hosts: Arc::new(AllowedHosts::new(bind.ip(), &args.allowed_hosts)),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            header_timeout: Duration::from_secs(args.header_timeout),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.tcp.local_addr()?)
    }

    /// `https` under TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The names requests may be addressed to, for the operator.
    pub fn allowed_hosts(&self) -> String {
        self.hosts.names.join(", ")
    }

    /// Serve `app` until `stop` completes; then stop accepting and let open requests
    /// finish (at most [`DRAIN`]).
    pub async fn serve(self, app: Router, stop: impl Future<Output = ()>) {
        let Listener { tcp, tls, hosts, max_connections, header_timeout } = self;
        let slots = Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS)));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
        let graceful = GracefulShutdown::new();
        let mut full_said = false;
        tokio::pin!(stop);
        loop {
            let (socket, peer) = tokio::select! {
                accepted = tcp.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment rather
                        // than spin (axum::serve does the same).
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut stop => break,
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                // Closed unread: a flood costs one accept each, not a task or a buffer.
                drop(socket);
                if !full_said {
                    eprintln!(
                        "eio serve: {max_connections} connections are open (--max-connections): \
                         closing new ones until some end"
                    );
                    full_said = true;
                }
                tracing::debug!(%peer, "connection closed: at --max-connections");
                continue;
            };
            full_said = false;
            let _ = socket.set_nodelay(true);
            let watcher = graceful.watcher();
            let (tls, http, hosts, app) = (tls.clone(), http.clone(), hosts.clone(), app.clone());
            tokio::spawn(async move {
                let _slot = permit;
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    handle(app.clone(), hosts.clone(), peer, header_timeout, request)
                });
                let served = match tls {
                    None => serve_one(socket, &http, service, watcher).await,
                    Some(tls) => match tokio::time::timeout(header_timeout, tls.accept(socket)).await {
                        Ok(Ok(stream)) => serve_one(stream, &http, service, watcher).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    },
                };
                if let Err(e) = served {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
        drop(tcp);
        let open = graceful.count();
        if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
            eprintln!(
                "eio serve: requests still open after {} s (of {open} connection(s) at stop): closing them",
                DRAIN.as_secs()
            );
        }
    }
}

async fn serve_one<I, S>(
    io: I,
    http: &hyper::server::conn::http1::Builder,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible> + Send,
    S::Future: Send + 'static,
{
    watcher.watch(http.serve_connection(TokioIo::new(io), service)).await
}

/// One request: refused unless it names an allowed host; else the router's answer, with
/// the client's address in its extensions and its body due within `body_within` (whole,
/// not per frame: a body trickled a byte at a time would otherwise hold the connection).
async fn handle(
    app: Router,
    hosts: Arc<AllowedHosts>,
    peer: SocketAddr,
    body_within: Duration,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    if let Err(refusal) = hosts.check(&request) {
        return Ok(super::ui::security_headers(refusal.into_response()).await);
    }
    let mut request = request.map(|body| axum::body::Body::new(DeadlineBody::new(body, body_within)));
    request.extensions_mut().insert(ConnectInfo(peer));
    app.oneshot(request).await
}

/// A request body that fails once its deadline passes, however it trickles.
struct DeadlineBody {
    inner: Incoming,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration) -> Self {
        DeadlineBody { inner, deadline: Box::pin(tokio::time::sleep(within)) }
    }
}

/// The body did not arrive in time.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        std::pin::Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The names a request may be addressed to (lowercase, no port, no brackets).
pub struct AllowedHosts {
    names: Vec<String>,
}

impl AllowedHosts {
    /// Loopback names, the bound address unless it is unspecified (0.0.0.0, ::), and `extra`.
    pub fn new(bind: IpAddr, extra: &[String]) -> AllowedHosts {
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if !bind.is_unspecified() {
            names.push(bind.to_string());
        }
        for name in extra {
            if let Some(n) = host_name(name.trim()) {
                names.push(n);
            }
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        AllowedHosts { names }
    }

    pub fn allows(&self, host: &str) -> bool {
        host_name(host).is_some_and(|h| self.names.contains(&h))
    }

    /// Ok when the request's `Host` (and its absolute URI's host, if any) is allowed.
    fn check<B>(&self, request: &Request<B>) -> Result<(), HttpError> {
        let mut hosts = request.headers().get_all(header::HOST).iter();
        let host = match (hosts.next(), hosts.next()) {
            (Some(h), None) => h.to_str().ok(),
            (None, _) => {
                return Err(HttpError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    ErrorCode::Forbidden,
                    "the request has no Host header: send one (HTTP/1.1) naming this server",
                ))
            }
            (Some(_), Some(_)) => None,
        };
        let authority = request.uri().authority().map(|a| a.host());
        let host_ok = host.is_some_and(|h| self.allows(h));
        let authority_ok = authority.is_none_or(|a| self.allows(a));
        if host_ok && authority_ok {
            return Ok(());
        }
        let named = match (host_ok, authority) {
            (true, Some(a)) => Some(a),
            _ => host,
        };
        let message = match named.and_then(host_name).filter(|n| shown_safely(n)) {
            Some(name) => format!(
                "this server doesn't answer for \"{name}\": if that is its name, start `eio serve` with \
                 --allowed-host {name} (or add it to EIO_ALLOWED_HOSTS)"
            ),
            None => "this server doesn't answer for the name this request was sent to: start `eio serve` with \
                     --allowed-host NAME for each name clients use"
                .to_string(),
        };
        Err(HttpError::new(StatusCode::MISDIRECTED_REQUEST, ErrorCode::Forbidden, message))
    }
}

/// A `Host` value's name: lowercase, without port, IPv6 brackets or a trailing dot.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        (ip, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
    } else if host.matches(':').count() > 1 {
        // A bare IPv6 address (not valid in Host, but given on the command line).
        (host, None)
    } else {
        host.split_once(':').map_or((host, None), |(name, port)| (name, Some(port)))
    };
    // After the name only a port may follow (`localhost:evil.example` names nothing).
    if port.is_some_and(|p| p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    (!name.is_empty()).then_some(name)
}

/// A name that may be echoed in a message: a host name's characters, a sane length.
fn shown_safely(name: &str) -> bool {
    name.len() <= 253 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:_".contains(&b))
}

/// The TLS acceptor for `cert` (a PEM chain) and `key` (a PEM private key). Errors name
/// the file and say what to fix; they never quote the key.
fn load_tls(cert: &Path, key: &Path) -> Result<TlsAcceptor, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read = |flag: &str, path: &Path| {
        std::fs::read(path).map_err(|e| Error::config(format!("{flag} {}: cannot read the file: {e}", path.display())))
    };
    let cert_pem = read("--tls-cert", cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| Error::config(format!("--tls-cert {}: not a valid PEM certificate file", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::config(format!(
            "--tls-cert {}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        )));
    }
    let key_pem = zeroize::Zeroizing::new(read("--tls-key", key)?);
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (expected -----BEGIN PRIVATE KEY-----, \
                                                            RSA PRIVATE KEY or EC PRIVATE KEY)"
            }
            _ => "not a valid PEM private key file",
        };
        Error::config(format!("--tls-key {}: {why}", key.display()))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            Error::config(format!(
                "--tls-cert {} and --tls-key {} can't be used together ({e}): the key must be the certificate's own, \
                 of a supported type (RSA, ECDSA P-256/P-384, Ed25519)",
                cert.display(),
                key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_compared_without_port_case_or_brackets() {
        let hosts = AllowedHosts::new("127.0.0.1".parse().unwrap(), &["EIO.example.com".into(), "[fd00::1]".into()]);
        for ok in ["localhost", "LOCALHOST:8080", "localhost.", "127.0.0.1:9", "[::1]:8080", "[::1]", "eio.example.com"]
        {
            assert!(hosts.allows(ok), "{ok}");
        }
        assert!(hosts.allows("eio.example.com:443") && hosts.allows("[FD00::1]:1"));
        for refused in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.2",
            "",
            ":8080",
            "[::1",
            "example.com",
            "localhost:evil.example",
            "[::1]evil.example",
            "localhost:123456",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        let any = AllowedHosts::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(!any.allows("0.0.0.0"));
        assert_eq!(any.names, ["localhost", "127.0.0.1", "::1"]);
        let lan = AllowedHosts::new("10.1.2.3".parse().unwrap(), &[]);
        assert!(lan.allows("10.1.2.3:8080"));
    }

    #[test]
    fn requests_without_one_allowed_host_are_misdirected() {
        let hosts = AllowedHosts::new("127.0.0.1".parse().unwrap(), &[]);
        let request = |uri: &str, host: &[&str]| {
            let mut b = Request::builder().uri(uri);
            for h in host {
                b = b.header(header::HOST, *h);
            }
            b.body(()).unwrap()
        };
        assert!(hosts.check(&request("/healthz", &["127.0.0.1:8080"])).is_ok());
        for refused in [
            request("/healthz", &[]),
            request("/healthz", &["evil.example"]),
            request("/healthz", &["localhost", "evil.example"]),
            request("http://evil.example/healthz", &["localhost"]),
        ] {
            let response = hosts.check(&refused).err().unwrap().into_response();
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
        }
    }
}
