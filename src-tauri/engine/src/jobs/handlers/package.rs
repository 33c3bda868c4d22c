//! A firmware package on the worker's disk, served to one iDRAC that can only pull it.
//!
//! Over Redfish the worker pushes the package it holds; over WS-Management (iDRAC7 without
//! Redfish) there is no upload, only `InstallFromURI`: the iDRAC downloads the package. The
//! honest equivalent of the push is that the worker hands over the same bytes the other way:
//! it listens, for as long as the update step runs, on the local address its route to that
//! iDRAC leaves from (or `EIO_PACKAGE_ADDRESS`), and answers exactly one path — an
//! unguessable token plus the file name — with the package. Plain HTTP: a Dell Update
//! Package is signed and the iDRAC checks the signature before it installs anything; the
//! package is not a secret, and nothing else is ever served.
//!
//! Must never: serve anything but the one package, listen after the update step ends (the
//! server stops when [`ServedPackage`] is dropped), or put a credential in the URL.
use std::net::{IpAddr, SocketAddr};

use eio_connectors::idrac::FirmwareImage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The package being served; stops serving when dropped.
pub struct ServedPackage {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ServedPackage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The local address this machine's route to `bmc` (host, port) leaves from: what the BMC
/// reaches us at, unless NAT is in the way (then set `EIO_PACKAGE_ADDRESS`).
async fn local_address_toward(bmc_host: &str, port: u16) -> std::io::Result<IpAddr> {
    if let Some(ip) = std::env::var("EIO_PACKAGE_ADDRESS").ok().and_then(|v| v.trim().parse::<IpAddr>().ok()) {
        return Ok(ip);
    }
    let target = tokio::net::lookup_host((bmc_host.trim_matches(['[', ']']), port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "the iDRAC's name resolves to nothing"))?;
    let any: SocketAddr = if target.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // A connected UDP socket sends nothing; it only asks the kernel for the route.
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(target)?;
    Ok(probe.local_addr()?.ip())
}

/// Serve `image` to the iDRAC at `bmc` until the returned value is dropped.
pub async fn serve(image: &FirmwareImage, bmc: &url::Url) -> Result<ServedPackage, String> {
    let host = bmc.host_str().ok_or_else(|| format!("the iDRAC URL {bmc} has no host"))?;
    let ip = local_address_toward(host, bmc.port_or_known_default().unwrap_or(443))
        .await
        .map_err(|e| format!("no local address reaches the iDRAC at {host} to serve the package from: {e}"))?;
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("cannot listen on {ip} to serve the package: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut url = url::Url::parse(&format!("http://{addr}/")).map_err(|e| e.to_string())?;
    url.path_segments_mut().map_err(|_| "the package URL cannot have a path".to_owned())?.extend([
        "eio-packages",
        &token,
        &image.file_name,
    ]);
    let path = url.path().to_owned();
    let bytes = image.bytes.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            let (path, bytes) = (path.clone(), bytes.clone());
            tokio::spawn(async move {
                let mut head = Vec::with_capacity(1024);
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head);
                let mut words = line.split_whitespace();
                let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
                let found = target == path && (method == "GET" || method == "HEAD");
                let status = if found { "200 OK" } else { "404 Not Found" };
                let len = if found { bytes.len() } else { 0 };
                let header = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\
                     Connection: close\r\n\r\n"
                );
                if conn.write_all(header.as_bytes()).await.is_err() {
                    return;
                }
                if found && method == "GET" {
                    let _ = conn.write_all(&bytes).await;
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    Ok(ServedPackage { url: url.to_string(), task })
}
