//! The shared HTTP transport against a real TLS server on loopback: verification,
//! pinning, the explicit insecure mode, body caps, timeouts and refused connections.
use std::sync::Arc;
use std::time::Duration;

use eio_connectors::http::{HttpClient, HttpConfig, HttpError, Thumbprint, TlsFailure, TlsPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Server {
    url: String,
    thumbprint: Thumbprint,
}

/// A TLS server with a fresh self-signed certificate that answers every request with
/// `body_len` bytes after `delay`.
async fn server(body_len: usize, delay: Duration) -> Server {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let der = cert.cert.der().clone();
    let thumbprint = Thumbprint::of_der(&der);
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n");
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&vec![b'x'; body_len]).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server { url: format!("https://127.0.0.1:{port}/sdk"), thumbprint }
}

fn client(tls: TlsPolicy) -> HttpClient {
    HttpClient::new(HttpConfig { tls, ..Default::default() }).unwrap()
}

async fn get(c: &HttpClient, url: &str) -> Result<usize, HttpError> {
    let resp = c.send(c.inner().get(url)).await?;
    Ok(c.body(resp).await?.len())
}

#[tokio::test]
async fn verification_refuses_a_self_signed_certificate_and_says_what_to_pin() {
    let s = server(10, Duration::ZERO).await;
    let err = get(&client(TlsPolicy::Verify), &s.url).await.unwrap_err();
    match &err {
        HttpError::Tls(TlsFailure::Untrusted { presented, .. }) => assert_eq!(*presented, Some(s.thumbprint)),
        other => panic!("expected an untrusted certificate, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&format!("--thumbprint {}", s.thumbprint)), "{message}");
}

#[tokio::test]
async fn a_pinned_thumbprint_is_trusted_exactly() {
    let s = server(10, Duration::ZERO).await;
    assert_eq!(get(&client(TlsPolicy::Pinned(s.thumbprint)), &s.url).await.unwrap(), 10);

    let wrong: Thumbprint = "00".repeat(32).parse().unwrap();
    let err = get(&client(TlsPolicy::Pinned(wrong)), &s.url).await.unwrap_err();
    match &err {
        HttpError::Tls(TlsFailure::PinMismatch { expected, presented, .. }) => {
            assert_eq!(*expected, wrong);
            assert_eq!(*presented, s.thumbprint);
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains(&s.thumbprint.to_string()));
}

#[tokio::test]
async fn insecure_is_an_explicit_choice_that_works() {
    let s = server(10, Duration::ZERO).await;
    assert_eq!(get(&client(TlsPolicy::Insecure), &s.url).await.unwrap(), 10);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let s = server(2 * 1024 * 1024, Duration::ZERO).await;
    let c = HttpClient::new(HttpConfig { tls: TlsPolicy::Insecure, max_body_bytes: 1024 * 1024, ..Default::default() })
        .unwrap();
    match get(&c, &s.url).await {
        Err(HttpError::TooLarge { limit, .. }) => assert_eq!(limit, 1024 * 1024),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_endpoint_times_out_instead_of_hanging() {
    let s = server(10, Duration::from_secs(3600)).await;
    let c = HttpClient::new(HttpConfig {
        tls: TlsPolicy::Insecure,
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(get(&c, &s.url).await, Err(HttpError::Timeout { .. })));
}

/// A plain-HTTP server answering every request with `response` (raw HTTP/1.1).
async fn http_server(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else { return };
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(response.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn redirects_stay_on_the_same_origin() {
    let target = http_server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".into()).await;
    // Another port is another origin: a session token must not follow it there.
    let elsewhere = http_server(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ))
    .await;
    let c = client(TlsPolicy::Verify);
    let err = c.send(c.inner().get(format!("{elsewhere}/redfish/v1")).header("x-auth-token", "tok")).await.unwrap_err();
    assert!(err.to_string().contains("another origin"), "{err}");

    let same = http_server(
        "HTTP/1.1 308 Permanent Redirect\r\nlocation: /final\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    // Same origin: followed (here the server redirects forever, so the limit stops it).
    let err = c.send(c.inner().get(format!("{same}/start"))).await.unwrap_err();
    assert!(err.to_string().contains("redirects"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_names_the_endpoint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = get(&client(TlsPolicy::Verify), &format!("https://127.0.0.1:{port}/")).await.unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}
