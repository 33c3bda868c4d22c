//! One HTTP client setup for every connector: TLS policy, timeouts, body caps, and
//! errors an operator can act on.
//!
//! TLS is verified against the system's roots by default. Self-signed vCenters and BMCs
//! are trusted the way operators actually do it: by pinning the SHA-256 thumbprint of the
//! certificate they present ([`TlsPolicy::Pinned`]); a pin replaces CA trust for that
//! endpoint, and a mismatch names both thumbprints. Skipping verification is possible only
//! by an explicit [`TlsPolicy::Insecure`]. Whatever fails, the error carries the
//! thumbprint the server presented, so "untrusted certificate" comes with the exact
//! `--thumbprint` to pin if the operator recognises it — unless no trust setting can help (an
//! RSA key under 2048 bits, which rustls refuses to verify), which is said as such. Servers that speak only TLS 1.0/1.1
//! (old iDRACs) get a clear explanation, not a hang: EIO speaks TLS 1.2 and 1.3 only.
//!
//! Bodies are read with a cap ([`HttpClient::body`], [`HttpClient::body_stream`]) so a
//! hostile or broken endpoint can't exhaust memory. Nothing here logs a header or a body:
//! credentials travel in them.
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// SHA-256 of a certificate (DER). Parsed from `AB:CD:…` or plain hex, any case.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Thumbprint(pub [u8; 32]);

impl Thumbprint {
    pub fn of_der(der: &[u8]) -> Self {
        Thumbprint(Sha256::digest(der).into())
    }

    /// Lowercase hex without separators: how the database stores it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Thumbprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
        let bytes = hex::decode(&cleaned).map_err(|_| format!("\"{s}\" is not a hex SHA-256 thumbprint"))?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!("a SHA-256 thumbprint has 32 bytes (64 hex digits); \"{s}\" has {}", b.len())
        })?;
        Ok(Thumbprint(arr))
    }
}

/// Uppercase, colon-separated: how vSphere and iDRAC show it to operators.
impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&parts.join(":"))
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({self})")
    }
}

/// How a connector decides whether to trust an endpoint's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Verify the chain and name against the system's trusted roots (the default).
    Verify,
    /// Trust exactly the certificate with this SHA-256 thumbprint, whoever signed it.
    Pinned(Thumbprint),
    /// Trust any certificate. Only by explicit operator choice (`--insecure`).
    Insecure,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub tls: TlsPolicy,
    pub connect_timeout: Duration,
    /// Whole request, including reading the body.
    pub request_timeout: Duration,
    /// Largest body [`HttpClient::body`] or [`HttpClient::body_stream`] will deliver.
    pub max_body_bytes: usize,
    /// Keep cookies between requests (vCenter's SOAP session lives in one).
    pub cookies: bool,
    /// Follow up to this many redirects (0: none).
    pub max_redirects: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            tls: TlsPolicy::Verify,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_body_bytes: 64 * 1024 * 1024,
            cookies: false,
            max_redirects: 5,
        }
    }
}

/// Why a TLS handshake failed, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    #[error("{host} presented a certificate that is not trusted{}", presented_hint(presented))]
    Untrusted { host: String, presented: Option<Thumbprint>, reason: String },
    #[error(
        "{host} presented a certificate with SHA-256 {presented}, but {expected} is pinned; \
             if the certificate was replaced on purpose, pin the new thumbprint"
    )]
    PinMismatch { host: String, expected: Thumbprint, presented: Thumbprint },
    #[error(
        "{host} only speaks TLS 1.0/1.1, which EIO refuses (TLS 1.2+ only); update its firmware \
             (iDRAC7/8 2.x+ support TLS 1.2) or use the racadm driver"
    )]
    LegacyProtocol { host: String },
    /// A certificate no trust setting can make usable (an RSA key under 2048 bits).
    #[error("{host} presents a certificate EIO cannot use: {reason}")]
    Refused { host: String, reason: String },
    #[error("TLS with {host} failed: {reason}")]
    Other { host: String, reason: String },
}

fn presented_hint(p: &Option<Thumbprint>) -> String {
    match p {
        Some(t) => format!(" (SHA-256 {t}); if this is the right endpoint, pin it with --thumbprint {t}"),
        None => String::new(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host} did not answer within {seconds} s")]
    Timeout { host: String, seconds: u64 },
    #[error(transparent)]
    Tls(#[from] TlsFailure),
    #[error("the response from {host} is larger than {limit} bytes; refusing to read it")]
    TooLarge { host: String, limit: usize },
    #[error("{host} answered HTTP {status}{}", if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") })]
    Status { host: String, status: u16, excerpt: String },
    #[error("HTTP to {host} failed: {reason}")]
    Other { host: String, reason: String },
}

/// A client for one endpoint's policy. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
    presented: Arc<Mutex<Option<Presented>>>,
}

/// What the last server presented: its thumbprint, and why EIO can't use it, if so.
#[derive(Debug, Clone)]
struct Presented {
    thumbprint: Thumbprint,
    refused: Option<String>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").field("tls", &self.config.tls).finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(config: HttpConfig) -> Result<Self, HttpError> {
        let presented = Arc::new(Mutex::new(None));
        let tls = client_tls_config(config.tls, presented.clone())
            .map_err(|e| HttpError::Other { host: String::new(), reason: e })?;
        let redirect = same_origin_redirects(config.max_redirects);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(redirect)
            .cookie_store(config.cookies)
            .user_agent(concat!("EIO/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Other { host: String::new(), reason: e.to_string() })?;
        Ok(HttpClient { client, config: Arc::new(config), presented })
    }

    /// The underlying reqwest client, for building requests.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// The SHA-256 of the last certificate a server presented to this client.
    pub fn presented_thumbprint(&self) -> Option<Thumbprint> {
        self.presented.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|p| p.thumbprint)
    }

    fn presented_refusal(&self) -> Option<String> {
        self.presented.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|p| p.refused.clone())
    }

    /// Send a request; transport failures become [`HttpError`]s that say what to do.
    /// HTTP error statuses are returned as responses (callers decide what they mean).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, HttpError> {
        let request = request.build().map_err(|e| HttpError::Other { host: String::new(), reason: e.to_string() })?;
        let host = host_of(request.url());
        self.client.execute(request).await.map_err(|e| self.classify(&host, e))
    }

    /// The whole body, refusing more than `max_body_bytes`.
    pub async fn body(&self, response: reqwest::Response) -> Result<Bytes, HttpError> {
        let host = host_of(response.url());
        let limit = self.config.max_body_bytes;
        if response.content_length().is_some_and(|n| n as usize > limit) {
            return Err(HttpError::TooLarge { host, limit });
        }
        let mut out = Vec::new();
        let mut stream = self.body_stream(response);
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }

    /// The body as a stream of chunks, ending in [`HttpError::TooLarge`] past the cap:
    /// for parsers that must not hold a whole response in memory.
    pub fn body_stream(&self, response: reqwest::Response) -> impl Stream<Item = Result<Bytes, HttpError>> + Send {
        let host = host_of(response.url());
        let limit = self.config.max_body_bytes;
        let this = self.clone();
        let mut seen = 0usize;
        response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(|e| this.classify(&host, e))?;
            seen += chunk.len();
            if seen > limit {
                return Err(HttpError::TooLarge { host: host.clone(), limit });
            }
            Ok(chunk)
        })
    }

    /// Turn a reqwest error into one an operator can act on.
    pub fn classify(&self, host: &str, e: reqwest::Error) -> HttpError {
        let host = host.to_owned();
        if e.is_timeout() {
            return HttpError::Timeout { host, seconds: self.config.request_timeout.as_secs().max(1) };
        }
        if let Some(tls) = find_rustls_error(&e) {
            return HttpError::Tls(self.tls_failure(&host, tls));
        }
        if e.is_connect() {
            return HttpError::Connect { host, reason: root_cause(&e) };
        }
        HttpError::Other { host, reason: root_cause(&e) }
    }

    fn tls_failure(&self, host: &str, e: &rustls::Error) -> TlsFailure {
        use rustls::{AlertDescription, Error as E, PeerIncompatible};
        let host = host.to_owned();
        let presented = self.presented_thumbprint();
        match (e, self.config.tls, presented) {
            // A pin that doesn't match says so first, whatever else is wrong with what
            // was presented (it may not be the endpoint at all).
            (E::InvalidCertificate(_), TlsPolicy::Pinned(expected), Some(presented)) if presented != expected => {
                TlsFailure::PinMismatch { host, expected, presented }
            }
            (E::InvalidCertificate(c), _, _) => match self.presented_refusal() {
                Some(reason) => TlsFailure::Refused { host, reason },
                None => TlsFailure::Untrusted { host, presented, reason: format!("{c:?}") },
            },
            (E::AlertReceived(AlertDescription::ProtocolVersion), _, _)
            | (E::PeerIncompatible(PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig), _, _)
            | (E::PeerIncompatible(PeerIncompatible::Tls12NotOffered), _, _)
            | (E::PeerIncompatible(PeerIncompatible::SupportedVersionsExtensionRequired), _, _) => {
                TlsFailure::LegacyProtocol { host }
            }
            (other, _, _) => TlsFailure::Other { host, reason: other.to_string() },
        }
    }
}

/// Follow at most `max` redirects, and only within the same origin (scheme, host, port):
/// connectors send session tokens in custom headers (X-Auth-Token), which reqwest would
/// carry to another host. A redirect elsewhere is an error naming both ends.
fn same_origin_redirects(max: usize) -> reqwest::redirect::Policy {
    if max == 0 {
        return reqwest::redirect::Policy::none();
    }
    reqwest::redirect::Policy::custom(move |attempt| {
        let first = attempt.previous().first().cloned();
        if attempt.previous().len() > max {
            return attempt.error(format!("more than {max} redirects"));
        }
        match first {
            Some(origin)
                if origin.scheme() != attempt.url().scheme()
                    || origin.host_str() != attempt.url().host_str()
                    || origin.port_or_known_default() != attempt.url().port_or_known_default() =>
            {
                let (from, to) = (host_of(&origin), host_of(attempt.url()));
                attempt.error(format!("refusing to follow a redirect from {from} to another origin ({to})"))
            }
            _ => attempt.follow(),
        }
    })
}

/// `host:port` of a URL, for messages.
pub fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.as_str().to_owned(),
    }
}

fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // io::Error's source() skips the error it wraps; look inside it instead
        // (TLS failures arrive as io::Error(io::Error(rustls::Error))).
        cur = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_tls_config(
    policy: TlsPolicy,
    presented: Arc<Mutex<Option<Presented>>>,
) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let inner: Arc<dyn ServerCertVerifier> = match policy {
        TlsPolicy::Verify => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?
        }
        TlsPolicy::Pinned(pin) => Arc::new(AcceptIf { provider: provider.clone(), pin: Some(pin) }),
        TlsPolicy::Insecure => Arc::new(AcceptIf { provider: provider.clone(), pin: None }),
    };
    let verifier = Arc::new(Recording { inner, presented });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// Remembers the thumbprint of what the server presented, then lets `inner` decide.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    presented: Arc<Mutex<Option<Presented>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.presented.lock().unwrap_or_else(|p| p.into_inner()) = Some(Presented {
            thumbprint: Thumbprint::of_der(end_entity),
            refused: crate::probe::refused_key(end_entity),
        });
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts the certificate whose thumbprint is pinned (or any, when `pin` is None), and
/// still checks the handshake signatures, so the session is bound to that certificate.
#[derive(Debug)]
struct AcceptIf {
    provider: Arc<rustls::crypto::CryptoProvider>,
    pin: Option<Thumbprint>,
}

impl ServerCertVerifier for AcceptIf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if Thumbprint::of_der(end_entity) == pin => Ok(ServerCertVerified::assertion()),
            Some(_) => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure)),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Read a capped excerpt of an error body for a message (never more than 300 chars).
pub async fn error_excerpt(client: &HttpClient, response: reqwest::Response) -> String {
    match client.body(response).await {
        Ok(b) => {
            let text = String::from_utf8_lossy(&b);
            let t = text.trim();
            if t.chars().count() > 300 {
                format!("{}…", t.chars().take(300).collect::<String>())
            } else {
                t.to_owned()
            }
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_parse_in_every_common_spelling() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let a: Thumbprint = hex.parse().unwrap();
        let b: Thumbprint = hex.to_uppercase().parse().unwrap();
        let colon = a.to_string();
        assert!(colon.starts_with("9F:86:D0:81"), "{colon}");
        let c: Thumbprint = colon.parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_hex(), hex);
        assert!("9f86d0".parse::<Thumbprint>().unwrap_err().contains("32 bytes"));
        assert!("not hex at all".parse::<Thumbprint>().is_err());
    }
}
