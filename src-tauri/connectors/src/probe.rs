//! Reading an endpoint's TLS certificate before anyone trusts it.
//!
//! An operator adding a vCenter or an iDRAC decides whether to trust what it presents. This
//! module shows them what that is: subject, issuer, validity, names, key, the SHA-256 they
//! would pin, whether the system's roots already trust it, and whether EIO would refuse it
//! *whatever they choose* (a key too weak for rustls to verify a signature with: pinning or
//! `insecure` cannot help there, only a new certificate can).
//!
//! It completes one TLS handshake and closes the connection: it sends no request, no
//! header and no credential, so accepting any certificate for the handshake is safe. It
//! never decides trust for a later connection; [`crate::http`] does.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};

use crate::http::{host_of, HttpError, Thumbprint, TlsFailure};

/// What an endpoint presented, for an operator to trust or refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// `host:port` that presented it.
    pub endpoint: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// DNS names and addresses it is valid for (subjectAltName).
    pub names: Vec<String>,
    /// "RSA 2048 bits", "EC P-256", …
    pub key: String,
    /// SHA-256 of the certificate, as vSphere and iDRAC show it (`AB:CD:…`).
    pub sha256: String,
    pub self_signed: bool,
    /// Whether the system's trusted roots accept it for this host, today.
    pub trusted_by_system: bool,
    /// Why they don't, when they don't.
    pub system_trust_error: Option<String>,
    /// Set when EIO refuses this certificate whatever the trust setting, and why.
    pub refused: Option<String>,
}

/// Why a certificate is refused whatever the operator chooses, if it is: RSA keys under
/// 2048 bits (rustls' verifiers reject their signatures, so the handshake fails even when
/// the certificate is pinned or verification is off).
pub fn refused_key(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    match key_of(&cert) {
        (_, Some(bits)) if bits < 2048 => Some(format!(
            "its RSA key has {bits} bits, and EIO refuses RSA keys under 2048 bits whatever the trust setting \
             (pinning or insecure cannot help): give the endpoint a new certificate with a 2048-bit or larger key"
        )),
        _ => None,
    }
}

/// Describe the key and, for RSA, its size in bits.
fn key_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> (String, Option<usize>) {
    use x509_parser::public_key::PublicKey;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            (format!("RSA {bits} bits"), Some(bits))
        }
        Ok(PublicKey::EC(point)) => {
            let curve = cert
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_owned(),
                    "1.3.132.0.34" => "P-384".to_owned(),
                    "1.3.132.0.35" => "P-521".to_owned(),
                    other => other.to_owned(),
                })
                .unwrap_or_else(|| format!("{} bits", point.key_size()));
            (format!("EC {curve}"), None)
        }
        Ok(PublicKey::DSA(_)) => ("DSA".into(), None),
        Ok(_) => (cert.public_key().algorithm.algorithm.to_id_string(), None),
        Err(_) => ("unreadable key".into(), None),
    }
}

/// Connect to `url`'s host and port, complete a TLS handshake accepting anything, and
/// describe what it presented. Fails when nothing answers, when it speaks no TLS, or when
/// the URL is plain http (there is no certificate to show).
pub async fn inspect(url: &url::Url, timeout: Duration) -> Result<CertificateInfo, HttpError> {
    let endpoint = host_of(url);
    if url.scheme() != "https" {
        return Err(HttpError::Other {
            host: endpoint,
            reason: format!("{} is not https: there is no certificate to show", url.scheme()),
        });
    }
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let server_name = ServerName::try_from(host.clone())
        .map_err(|e| HttpError::Other { host: endpoint.clone(), reason: format!("{host} is not a host name: {e}") })?;

    let chain: Arc<Mutex<Vec<CertificateDer<'static>>>> = Arc::default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| HttpError::Other { host: endpoint.clone(), reason: e.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Capture { chain: chain.clone(), provider }))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| HttpError::Connect { host: endpoint.clone(), reason: e.to_string() })?;
        connector.connect(server_name.clone(), tcp).await.map_err(|e| {
            let legacy = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| matches!(r, rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)));
            if legacy {
                HttpError::Tls(TlsFailure::LegacyProtocol { host: endpoint.clone() })
            } else {
                HttpError::Tls(TlsFailure::Other { host: endpoint.clone(), reason: e.to_string() })
            }
        })
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| HttpError::Timeout { host: endpoint.clone(), seconds: timeout.as_secs().max(1) })??;
    drop(stream);

    let chain = chain.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(HttpError::Other { host: endpoint, reason: "the server presented no certificate".into() });
    };
    describe(&endpoint, &server_name, leaf, intermediates)
}

fn describe(
    endpoint: &str,
    server_name: &ServerName<'_>,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Result<CertificateInfo, HttpError> {
    use x509_parser::extensions::GeneralName;
    let bad = |reason: String| HttpError::Other { host: endpoint.to_owned(), reason };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| bad(format!("the certificate it presented cannot be read: {e}")))?;
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default()).to_string()),
                    16 => {
                        names.push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default()).to_string())
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let (key, _) = key_of(&cert);
    let (trusted_by_system, system_trust_error) = match system_verifier() {
        Ok(v) => match v.verify_server_cert(leaf, intermediates, server_name, &[], UnixTime::now()) {
            Ok(_) => (true, None),
            Err(e) => (false, Some(trust_error(&e))),
        },
        Err(e) => (false, Some(e)),
    };
    Ok(CertificateInfo {
        endpoint: endpoint.to_owned(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        names,
        key,
        sha256: Thumbprint::of_der(leaf).to_string(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        trusted_by_system,
        system_trust_error,
        refused: refused_key(leaf),
    })
}

/// rustls' reasons, in an operator's words.
fn trust_error(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "it is not signed by a certificate authority this system trusts (self-signed or a private CA)".into()
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "it has expired".into(),
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "it is not valid yet (check both clocks)".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "it is not issued for this host name".into()
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "it has been revoked".into(),
        other => other.to_string(),
    }
}

fn system_verifier() -> Result<Arc<rustls::client::WebPkiServerVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))
}

/// Accepts whatever is presented and keeps the chain: the connection carries nothing.
#[derive(Debug)]
struct Capture {
    chain: Arc<Mutex<Vec<CertificateDer<'static>>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }
    // Signatures are not checked: nothing is sent over this connection, and a weak key
    // must still be shown (and named as the reason EIO refuses it).
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
