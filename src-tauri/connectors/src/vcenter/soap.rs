//! The SOAP transport: one request envelope, one streamed response, counted.
//!
//! Owns the envelope, the SOAPAction version, the call and byte counters, and turning a
//! response into units ([`super::xml`]) or a typed fault. It must never buffer a response
//! body (the body streams from [`HttpClient::body_stream`] into the XML reader) and never
//! log a request: the Login request carries the password.
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio_util::io::StreamReader;

use super::error::{SoapFault, VcenterError};
use super::xml::{self, Node, Outcome, XmlError};
use crate::http::{error_excerpt, host_of, HttpClient, HttpError};

/// A managed object reference: `<obj type="VirtualMachine">vm-42</obj>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MoRef {
    /// The managed object type (`VirtualMachine`, `HostSystem`, `Task`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The managed object id (`vm-42`).
    pub value: String,
}

impl MoRef {
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> MoRef {
        MoRef { kind: kind.into(), value: value.into() }
    }

    /// From an element whose unprefixed `type` attribute names the type.
    pub(crate) fn from_node(n: &Node) -> Option<MoRef> {
        let kind = n.mo_type.as_deref()?;
        let value = n.text.trim();
        if kind.is_empty() || value.is_empty() {
            return None;
        }
        Some(MoRef::new(kind, value))
    }

    /// `<tag type="Kind">value</tag>`
    pub(crate) fn xml(&self, tag: &str) -> String {
        format!("<{tag} type=\"{}\">{}</{tag}>", esc(&self.kind), esc(&self.value))
    }
}

/// Chunks received but not yet parsed, at most: lets the socket drain while the
/// parser works, without ever holding more than this of a response.
const READ_AHEAD_CHUNKS: usize = 16;

/// Read `stream` on its own task into a bounded buffer, so receiving and parsing overlap.
/// Dropping the returned stream stops the reader (and with it the response).
fn read_ahead<S, T>(stream: S) -> impl futures::Stream<Item = T> + Send + 'static
where
    S: futures::Stream<Item = T> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
    tokio::spawn(async move {
        let mut stream = Box::pin(stream);
        while let Some(item) = stream.next().await {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// Escape text for an element or attribute value.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

/// The SOAPAction sent before we know the server's API version: every vCenter from 6.0
/// to 8.x serves it.
pub(crate) const BOOTSTRAP_VERSION: &str = "6.0";

pub(crate) struct Soap {
    http: HttpClient,
    url: url::Url,
    host: String,
    action: Mutex<String>,
    calls: AtomicU64,
    bytes: Arc<AtomicU64>,
}

impl Soap {
    pub(crate) fn new(http: HttpClient, url: url::Url) -> Soap {
        let host = host_of(&url);
        Soap {
            http,
            url,
            host,
            action: Mutex::new(format!("urn:vim25/{BOOTSTRAP_VERSION}")),
            calls: AtomicU64::new(0),
            bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// Speak the server's own API version from now on.
    pub(crate) fn set_api_version(&self, version: &str) {
        let clean: String = version.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
        if !clean.is_empty() {
            *self.action.lock().unwrap_or_else(|p| p.into_inner()) = format!("urn:vim25/{clean}");
        }
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Call `method` with `inner` (the request element's content, already escaped) and
    /// stream the response: each unit (see [`xml::read_envelope`]) goes to `sink` as soon
    /// as it is complete.
    pub(crate) async fn call(
        &self,
        method: &'static str,
        inner: &str,
        descend: xml::Descend<'_>,
        ignore: xml::Ignore<'_>,
        sink: xml::Sink<'_, VcenterError>,
    ) -> Result<(), VcenterError> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <soapenv:Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></soapenv:Body></soapenv:Envelope>"
        );
        let action = self.action.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let request = self
            .http
            .inner()
            .post(self.url.clone())
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", action)
            .body(body);
        self.calls.fetch_add(1, Ordering::Relaxed);
        let response = self.http.send(request).await?;
        let status = response.status();
        // vCenter answers faults with HTTP 500 and a SOAP body; anything else non-2xx is
        // a proxy, a load balancer or a wrong URL talking.
        if !status.is_success() && status.as_u16() != 500 {
            let excerpt = error_excerpt(&self.http, response).await;
            return Err(HttpError::Status { host: self.host.clone(), status: status.as_u16(), excerpt }.into());
        }

        let failed: Arc<Mutex<Option<HttpError>>> = Arc::new(Mutex::new(None));
        let slot = failed.clone();
        let counter = self.bytes.clone();
        let stream = self.http.body_stream(response).map(move |chunk| match chunk {
            Ok(bytes) => {
                counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                Ok(bytes)
            }
            Err(e) => {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(std::io::Error::other("transport failed"))
            }
        });
        let reader = StreamReader::new(Box::pin(read_ahead(stream)));
        let outcome = xml::read_envelope(reader, descend, ignore, sink).await;
        let outcome = match outcome {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                if let Some(http) = failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    return Err(http.into());
                }
                return Err(self.malformed(method, e));
            }
        };
        match outcome {
            Outcome::Fault(node) => Err(VcenterError::Fault {
                host: self.host.clone(),
                method,
                fault: Box::new(SoapFault::from_envelope_fault(&node)),
            }),
            Outcome::Response { .. } if status.as_u16() == 500 => {
                Err(self.unexpected(method, "a SOAP fault (HTTP 500)"))
            }
            Outcome::Response { .. } => Ok(()),
        }
    }

    /// Call a method whose answer is small: the `returnval` element (None when absent).
    pub(crate) async fn call_returnval(&self, method: &'static str, inner: &str) -> Result<Option<Node>, VcenterError> {
        let mut out = None;
        self.call(method, inner, &|_| false, &xml::keep_all, &mut |_, node| {
            if node.name == "returnval" && out.is_none() {
                out = Some(node);
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Like [`Soap::call_returnval`] for methods that must return a value.
    pub(crate) async fn call_required(&self, method: &'static str, inner: &str) -> Result<Node, VcenterError> {
        self.call_returnval(method, inner).await?.ok_or_else(|| self.unexpected(method, "its returnval"))
    }

    pub(crate) fn malformed(&self, method: &'static str, reason: XmlError) -> VcenterError {
        VcenterError::Malformed { host: self.host.clone(), method, reason }
    }

    pub(crate) fn unexpected(&self, method: &'static str, what: &str) -> VcenterError {
        VcenterError::Unexpected { host: self.host.clone(), method, what: what.to_owned() }
    }
}
