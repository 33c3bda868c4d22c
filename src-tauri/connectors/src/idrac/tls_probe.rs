//! Which TLS versions an endpoint accepts, for `tls_constraints.min_tls_version`.
//!
//! A bare handshake restricted to TLS 1.2: it learns the protocol version and nothing else —
//! no request is sent, and whether the certificate is *trusted* is decided by
//! [`crate::http::HttpClient`] (which this does not replace; http.rs does not expose the
//! negotiated version, so this is the one place that asks).
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use url::Url;

/// "1.2" when a TLS-1.2-only handshake completes, else "1.3" (the connection that already
/// worked must then have used 1.3).
pub(crate) async fn lowest_version(url: &Url, timeout: Duration) -> String {
    match handshake_tls12(url, timeout).await {
        Some(true) | None => "1.2".to_owned(),
        Some(false) => "1.3".to_owned(),
    }
}

/// `Some(true)`: TLS 1.2 works; `Some(false)`: refused; `None`: could not tell.
async fn handshake_tls12(url: &Url, timeout: Duration) -> Option<bool> {
    let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
    let port = url.port_or_known_default()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(VersionOnly(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.ok()?;
        Some(connector.connect(name, tcp).await.is_ok())
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten()
}

/// Accepts any certificate: this handshake only learns the protocol version.
#[derive(Debug)]
struct VersionOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for VersionOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
