//! Faults at one endpoint become that endpoint's typed error — never a panic, never a hang,
//! never a stalled neighbour — and no password ever shows in an error or Debug output.
#[path = "common/dell.rs"]
mod dell;

use std::time::Duration;

use eio_connectors::http::{HttpConfig, HttpError, TlsFailure, TlsPolicy};
use eio_connectors::idrac::{self, ErrorKind, IdracEndpoint, IdracError, SyncOptions};
use eio_connectors::ome::{OmeClient, OmeError};
use eio_connectors::racadm::Racadm;
use eio_connectors::redfish::RedfishError;
use eio_connectors::{Credentials, Secret};
use eio_lab::dell::{DellLab, Fault};

/// A password no output could contain by accident.
const PASSWORD: &str = "Pw-7c1e0b9a-unique-d3adb33f";

fn endpoint_with(lab: &DellLab, i: usize, password: &str, timeout: Duration) -> IdracEndpoint {
    let mut e = lab.endpoint(i);
    e.credentials = Credentials::new("root", password);
    e.http = HttpConfig { request_timeout: timeout, connect_timeout: timeout, ..lab.http_config(i) };
    // No racadm on these endpoints: the HTTPS failures must stand as they are.
    e.racadm = Some(Racadm::at("/nonexistent/racadm"));
    e
}

#[tokio::test]
async fn each_fault_is_that_endpoints_typed_error_and_the_others_still_sync() {
    let lab = DellLab::builder()
        .bmcs(9)
        .credentials("root", PASSWORD)
        .fault(1, Fault::Unauthorized)
        .fault(2, Fault::Unavailable)
        .fault(3, Fault::Slow(Duration::from_secs(30)))
        .fault(4, Fault::MalformedJson)
        .fault(5, Fault::TlsFailure)
        .fault(6, Fault::ConnectionReset)
        .fault(7, Fault::LegacyTls)
        .build()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..9 {
        let e = endpoint_with(&lab, i, PASSWORD, Duration::from_millis(1500));
        tasks.push(tokio::spawn(async move { idrac::inventory(&e, None, &SyncOptions::default()).await }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("no panic"));
    }
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(results[8].is_ok(), "{:?}", results[8]);
    let kind = |i: usize| results[i].as_ref().err().map(IdracError::kind);
    assert_eq!(kind(1), Some(ErrorKind::Unauthorized));
    assert_eq!(kind(2), Some(ErrorKind::Unavailable));
    assert_eq!(kind(3), Some(ErrorKind::Timeout));
    assert_eq!(kind(4), Some(ErrorKind::Malformed));
    assert_eq!(kind(5), Some(ErrorKind::Tls));
    assert!(matches!(kind(6), Some(ErrorKind::Connect | ErrorKind::Other)), "{:?}", results[6]);
    assert_eq!(kind(7), Some(ErrorKind::LegacyTls));

    match &results[2] {
        Err(IdracError::Redfish(RedfishError::Unavailable { status: 503, retry_after_seconds: Some(30), .. })) => {}
        other => panic!("503 with Retry-After expected, got {other:?}"),
    }
    let legacy = results[7].as_ref().unwrap_err().to_string();
    assert!(legacy.contains("TLS 1.0/1.1") && legacy.contains("racadm"), "{legacy}");

    for (i, r) in results.iter().enumerate() {
        if let Err(e) = r {
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(!shown.contains(PASSWORD), "endpoint {i} leaked the password: {shown}");
            }
        }
    }
    // A failed pass leaves no session behind.
    assert_eq!(lab.bmc(4).open_sessions(), 0);
}

#[tokio::test]
async fn failing_logins_never_show_the_password() {
    let lab = DellLab::builder()
        .bmcs(3)
        .with_ome()
        .fault(1, Fault::Unavailable)
        .fault(2, Fault::TlsFailure)
        .build()
        .await
        .unwrap();
    let wrong = "Wrong-9f8e7d6c-unique-pass";
    let mut outputs = Vec::new();
    for i in 0..3 {
        let e = endpoint_with(&lab, i, wrong, Duration::from_secs(5));
        outputs.push(format!("{e:?}"));
        let err = idrac::inventory(&e, None, &SyncOptions::default()).await.unwrap_err();
        outputs.push(err.to_string());
        outputs.push(format!("{err:?}"));
        outputs.push(format!("{:?}", idrac::probe(&e).await));
    }
    let e = endpoint_with(&lab, 0, wrong, Duration::from_secs(5));
    assert_eq!(idrac::inventory(&e, None, &SyncOptions::default()).await.unwrap_err().kind(), ErrorKind::Unauthorized);

    let ome = lab.ome.as_ref().unwrap();
    let err = OmeClient::connect(
        &ome.url,
        &Credentials::new("root", wrong),
        eio_connectors::http::HttpClient::new(ome.http_config()).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OmeError::Unauthorized { .. }));
    outputs.push(format!("{err} {err:?}"));
    outputs.push(format!("{:?}", Secret::new(wrong)));

    for shown in &outputs {
        assert!(!shown.contains(wrong), "leaked: {shown}");
    }
}

#[tokio::test]
async fn an_untrusted_or_replaced_certificate_names_the_thumbprint_to_pin() {
    let lab = DellLab::builder().bmcs(1).build().await.unwrap();
    let mut e = lab.endpoint(0);
    e.http.tls = TlsPolicy::Verify;
    let err = idrac::inventory(&e, None, &SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert!(err.to_string().contains(&lab.bmc(0).thumbprint.unwrap().to_string()), "{err}");

    e.http.tls = TlsPolicy::Pinned("11".repeat(32).parse().unwrap());
    match idrac::inventory(&e, None, &SyncOptions::default()).await.unwrap_err() {
        IdracError::Redfish(RedfishError::Http(HttpError::Tls(TlsFailure::PinMismatch { presented, .. }))) => {
            assert_eq!(Some(presented), lab.bmc(0).thumbprint)
        }
        other => panic!("pin mismatch expected, got {other:?}"),
    }
}

/// A real TLS-1.0-only server (python's ssl, `@SECLEVEL=0`): a clear explanation, no hang.
#[tokio::test]
async fn a_tls10_only_endpoint_gets_a_clear_explanation() {
    let (cert, key, _) = dell::self_signed();
    let server = dell::start_tls10_server(&cert, &key);
    let url = url::Url::parse(&format!("https://127.0.0.1:{}", server.port)).unwrap();
    let http = HttpConfig { tls: TlsPolicy::Insecure, request_timeout: Duration::from_secs(20), ..Default::default() };
    let mut e = IdracEndpoint::new(url, Credentials::new("root", PASSWORD), http);
    e.racadm = Some(Racadm::at("/nonexistent/racadm"));
    let err = idrac::inventory(&e, None, &SyncOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LegacyTls, "{err:?}");
    let text = err.to_string();
    assert!(text.contains("only speaks TLS 1.0/1.1") && text.contains("racadm"), "{text}");
    assert!(!text.contains(PASSWORD));
    let probe = idrac::probe(&e).await.unwrap_err();
    assert_eq!(probe.kind(), ErrorKind::LegacyTls);
}
