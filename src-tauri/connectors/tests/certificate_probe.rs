//! Reading what an endpoint presents before trusting it, against govmomi's vCenter
//! simulator: the details an operator decides on, and a key no trust setting can rescue
//! named as such (by the probe, and by every client whatever its TLS policy).
use std::time::Duration;

use eio_connectors::http::{HttpClient, HttpConfig, HttpError, TlsFailure, TlsPolicy};
use eio_connectors::probe;
use eio_lab::vcsim::Vcsim;

#[tokio::test]
async fn the_probe_shows_what_vcsim_presents_and_that_the_system_does_not_trust_it() {
    let sim = Vcsim::start(&["-cluster", "1", "-host", "1", "-vm", "1"]);
    let info = probe::inspect(&sim.sdk_url, Duration::from_secs(10)).await.expect("probe");
    assert_eq!(info.sha256, sim.thumbprint.to_string(), "the thumbprint to pin is the one vcsim printed");
    assert_eq!(info.key, "EC P-256");
    assert_eq!(info.subject, "CN=vcsim.eio.test");
    assert!(info.self_signed);
    assert!(info.names.contains(&"127.0.0.1".to_owned()), "{:?}", info.names);
    assert!(info.names.contains(&"localhost".to_owned()), "{:?}", info.names);
    assert!(info.not_before < chrono::Utc::now() && chrono::Utc::now() < info.not_after, "{info:?}");
    assert!(!info.trusted_by_system);
    assert_eq!(
        info.system_trust_error.as_deref(),
        Some("it is not signed by a certificate authority this system trusts (self-signed or a private CA)")
    );
    assert_eq!(info.refused, None);
}

#[tokio::test]
async fn a_1024_bit_rsa_key_is_named_as_the_reason_whatever_the_trust_setting() {
    let sim = Vcsim::start(&["-cluster", "1", "-host", "1", "-vm", "1", "-rsa-bits", "1024"]);
    let info = probe::inspect(&sim.sdk_url, Duration::from_secs(10)).await.expect("probe");
    assert_eq!(info.key, "RSA 1024 bits");
    assert_eq!(info.sha256, sim.thumbprint.to_string());
    let refused = info.refused.expect("a 1024-bit key is refused");
    assert!(refused.starts_with("its RSA key has 1024 bits"), "{refused}");

    // Pinning its exact thumbprint, turning verification off, or verifying: the same answer,
    // never "pin it with --thumbprint" (which could not help).
    for policy in [TlsPolicy::Pinned(sim.thumbprint), TlsPolicy::Insecure, TlsPolicy::Verify] {
        let client = HttpClient::new(HttpConfig { tls: policy, ..Default::default() }).unwrap();
        let err = client.send(client.inner().get(sim.sdk_url.as_str())).await.expect_err("refused");
        match &err {
            HttpError::Tls(TlsFailure::Refused { reason, .. }) => assert_eq!(reason, &refused, "{policy:?}"),
            other => panic!("{policy:?}: expected the weak key to be named, got {other:?}"),
        }
        assert!(!err.to_string().contains("--thumbprint"), "{err}");
    }

    // Pinned to another certificate: that it is not the pinned one comes first (it may
    // not be the endpoint at all), whatever its key.
    let other: eio_connectors::http::Thumbprint = "aa".repeat(32).parse().unwrap();
    let client = HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(other), ..Default::default() }).unwrap();
    match client.send(client.inner().get(sim.sdk_url.as_str())).await.expect_err("refused") {
        HttpError::Tls(TlsFailure::PinMismatch { expected, presented, .. }) => {
            assert_eq!((expected, presented), (other, sim.thumbprint))
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn the_probe_refuses_plain_http_and_names_an_endpoint_that_does_not_answer() {
    let err = probe::inspect(&"http://127.0.0.1:9/sdk".parse().unwrap(), Duration::from_secs(5)).await.unwrap_err();
    assert!(err.to_string().contains("is not https: there is no certificate to show"), "{err}");

    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("https://127.0.0.1:{port}/sdk").parse().unwrap();
    match probe::inspect(&url, Duration::from_secs(5)).await.unwrap_err() {
        HttpError::Connect { host, .. } => assert_eq!(host, format!("127.0.0.1:{port}")),
        other => panic!("expected a connection error, got {other:?}"),
    }
}
