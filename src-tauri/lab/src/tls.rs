//! Serving a simulator over real HTTPS on loopback, with a fresh self-signed certificate
//! whose SHA-256 thumbprint the test pins (exactly what an operator does with a
//! self-signed vCenter or iDRAC).
use std::net::SocketAddr;
use std::sync::Arc;

use eio_connectors::http::Thumbprint;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::Service;

/// A running HTTPS simulator. Stops when dropped (or on [`HttpsServer::shutdown`]).
pub struct HttpsServer {
    pub addr: SocketAddr,
    /// `https://127.0.0.1:<port>`
    pub base_url: String,
    pub thumbprint: Thumbprint,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl HttpsServer {
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and its thumbprint.
#[derive(Clone)]
pub struct LabCert {
    pub config: Arc<rustls::ServerConfig>,
    pub thumbprint: Thumbprint,
}

impl LabCert {
    pub fn generate() -> std::io::Result<LabCert> {
        Ok(LabCert::generate_keepable()?.0)
    }

    /// A fresh certificate, with its DER and its private key's DER to keep (so a lab
    /// started again later presents the same certificate, and pinned thumbprints hold).
    pub fn generate_keepable() -> std::io::Result<(LabCert, Vec<u8>, Vec<u8>)> {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .map_err(std::io::Error::other)?;
        let (cert_der, key_der) = (cert.cert.der().to_vec(), cert.signing_key.serialize_der());
        Ok((LabCert::from_der(&cert_der, &key_der)?, cert_der, key_der))
    }

    /// The certificate kept by [`LabCert::generate_keepable`].
    pub fn from_der(cert_der: &[u8], key_der: &[u8]) -> std::io::Result<LabCert> {
        let der = rustls::pki_types::CertificateDer::from(cert_der.to_vec());
        let thumbprint = Thumbprint::of_der(&der);
        let key = rustls::pki_types::PrivateKeyDer::try_from(key_der.to_vec()).map_err(std::io::Error::other)?;
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(std::io::Error::other)?
                .with_no_client_auth()
                .with_single_cert(vec![der], key)
                .map_err(std::io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(LabCert { config: Arc::new(config), thumbprint })
    }
}

/// Serve `router` over HTTPS on a free loopback port with a fresh certificate.
pub async fn serve_https(router: axum::Router) -> std::io::Result<HttpsServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    serve_https_on(listener, router, LabCert::generate()?).await
}

/// Serve `router` over HTTPS on loopback `port` (0: any free port) with `cert` (None: a
/// fresh one): for a lab that must come back on the same address and certificate.
pub async fn serve_https_at(router: axum::Router, port: u16, cert: Option<&LabCert>) -> std::io::Result<HttpsServer> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let cert = match cert {
        Some(c) => c.clone(),
        None => LabCert::generate()?,
    };
    serve_https_on(listener, router, cert).await
}

/// Serve `router` over HTTPS on `listener` with `cert`.
pub async fn serve_https_on(
    listener: TcpListener,
    router: axum::Router,
    cert: LabCert,
) -> std::io::Result<HttpsServer> {
    let addr = listener.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(cert.config.clone());
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                _ = stopped.changed() => return,
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            let mut stop_conn = stopped.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| router.clone().call(req));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                tokio::select! {
                    _ = conn => {}
                    _ = stop_conn.changed() => {}
                }
            });
        }
    });
    Ok(HttpsServer {
        addr,
        base_url: format!("https://127.0.0.1:{}", addr.port()),
        thumbprint: cert.thumbprint,
        stop,
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eio_connectors::http::{HttpClient, HttpConfig, TlsPolicy};

    #[tokio::test]
    async fn serves_https_that_a_pinned_client_trusts() {
        let router = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let server = serve_https(router).await.unwrap();
        let client =
            HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(server.thumbprint), ..Default::default() }).unwrap();
        let resp = client.send(client.inner().get(format!("{}/ping", server.base_url))).await.unwrap();
        assert_eq!(client.body(resp).await.unwrap().as_ref(), b"pong");
        server.shutdown().await;
    }
}
