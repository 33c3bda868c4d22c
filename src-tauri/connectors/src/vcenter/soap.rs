//! The SOAP transport: one request envelope, one streamed response, counted.
//!
//! Owns the envelope, the SOAPAction version, the call and byte counters, and turning a
//! response into units ([`super::xml`]) or a typed fault. A response is received on a
//! task of its own and parsed on a blocking thread, where the caller's per-unit work runs
//! too (see [`Soap::call`]). It must never buffer a response body (the body streams from
//! [`HttpClient::body_stream`] into the XML reader, a few chunks ahead at most) and never
//! log a request: the Login request carries the password.
use std::borrow::Cow;
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Buf, Bytes};
use futures::StreamExt;

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

/// The response body as the parser's thread sees it: a blocking [`BufRead`] over the
/// chunks the receiving task sends. A transport failure arrives as an `io::Error`; the
/// end of the channel is the end of the body.
struct Chunks {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, n: usize) {
        self.current.advance(n.min(self.current.len()));
    }
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
    /// stream the response: each unit (see [`xml::read_envelope`]) goes to `on_unit`, with
    /// `acc`, as soon as it is complete. `acc` comes back when the answer is read whole.
    ///
    /// `on_unit` runs on the parser's thread, not on this task: a unit is handed over
    /// without crossing threads, and the parser's CPU doesn't stall the runtime. It must
    /// not block.
    pub(crate) async fn call<A, F>(
        &self,
        method: &'static str,
        inner: &str,
        descend: xml::Descend,
        ignore: xml::Ignore,
        acc: A,
        mut on_unit: F,
    ) -> Result<A, VcenterError>
    where
        A: Send + 'static,
        F: FnMut(&mut A, &[String], Node) -> Result<(), VcenterError> + Send + 'static,
    {
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
        let sent = Instant::now();
        let response = self.http.send(request).await?;
        let answered = Instant::now();
        let status = response.status();
        // vCenter answers faults with HTTP 500 and a SOAP body; anything else non-2xx is
        // a proxy, a load balancer or a wrong URL talking.
        if !status.is_success() && status.as_u16() != 500 {
            let excerpt = error_excerpt(&self.http, response).await;
            return Err(HttpError::Status { host: self.host.clone(), status: status.as_u16(), excerpt }.into());
        }

        // Two parts run at once: a task receives the body (TLS included) into a bounded
        // channel, and a blocking thread parses it with quick-xml's synchronous reader
        // (the async one costs nearly twice the CPU per event).
        let failed: Arc<Mutex<Option<HttpError>>> = Arc::new(Mutex::new(None));
        let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
        let receiving = tokio_util::sync::CancellationToken::new();
        // Dropping this future (a caller's timeout) stops the receiving task, which ends
        // the parser's input, which ends the parser.
        let _stop_receiving = receiving.clone().drop_guard();
        {
            let mut stream = Box::pin(self.http.body_stream(response));
            let counter = self.bytes.clone();
            let slot = failed.clone();
            tokio::spawn(async move {
                loop {
                    let chunk = tokio::select! {
                        _ = receiving.cancelled() => return,
                        chunk = stream.next() => chunk,
                    };
                    let item = match chunk {
                        None => return,
                        Some(Ok(bytes)) => {
                            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                            Ok(bytes)
                        }
                        Some(Err(e)) => {
                            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            Err(std::io::Error::other("transport failed"))
                        }
                    };
                    let last = item.is_err();
                    if chunk_tx.send(item).await.is_err() || last {
                        return;
                    }
                }
            });
        }
        let parser = tokio::task::spawn_blocking(move || {
            let mut acc = acc;
            let body = Chunks { rx: chunk_rx, current: Bytes::new() };
            let outcome = xml::read_envelope(body, descend, ignore, &mut |path, node| on_unit(&mut acc, path, node));
            (acc, outcome)
        });
        let (acc, outcome) = match parser.await {
            Ok(done) => {
                // vCenter (and vcsim) compute an answer before they send it: `waited` is
                // theirs, `read` (receiving and parsing) is ours.
                tracing::debug!(
                    host = %self.host,
                    method,
                    waited_ms = (answered - sent).as_millis() as u64,
                    read_ms = answered.elapsed().as_millis() as u64,
                    "SOAP answer read"
                );
                done
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                return Err(self.unexpected(method, "its parser, which was cancelled (the runtime is shutting down)"))
            }
        };
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
            Outcome::Response { .. } => Ok(acc),
        }
    }

    /// Call a method whose answer is small: the `returnval` element (None when absent).
    pub(crate) async fn call_returnval(&self, method: &'static str, inner: &str) -> Result<Option<Node>, VcenterError> {
        self.call(
            method,
            inner,
            |_| false,
            xml::keep_all,
            None,
            |out, _, node| {
                if node.name == "returnval" && out.is_none() {
                    *out = Some(node);
                }
                Ok(())
            },
        )
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>7</token>
<objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">café &amp; bar&#33;</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-2</obj><propSet><name>config.annotation</name><val xsi:type="xsd:string"><![CDATA[a <b>]]> ü</val></propSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    type Parsed = Result<(String, Vec<(Vec<String>, Node)>), XmlError>;

    fn read(body: impl BufRead) -> Parsed {
        let mut units = Vec::new();
        let outcome = xml::read_envelope::<_, ()>(body, |p| p == ["returnval"], xml::keep_all, &mut |p, n| {
            units.push((p.to_vec(), n));
            Ok(())
        })?;
        Ok((format!("{:?}", outcome.expect("the sink never fails")), units))
    }

    /// Feed `pieces` through the parser thread's reader, as the receiving task would.
    async fn through_chunks(pieces: Vec<std::io::Result<Bytes>>) -> Parsed {
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
        let parser = tokio::task::spawn_blocking(move || read(Chunks { rx, current: Bytes::new() }));
        for piece in pieces {
            tx.send(piece).await.expect("the parser is still reading");
        }
        drop(tx);
        parser.await.expect("the parser doesn't panic")
    }

    fn split(doc: &[u8], size: usize) -> Vec<std::io::Result<Bytes>> {
        doc.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect()
    }

    #[tokio::test]
    async fn a_body_split_anywhere_reads_as_the_whole() {
        let whole = read(PAGE.as_bytes()).unwrap();
        assert_eq!(whole.1.len(), 3, "a token and two objects");
        // Sizes 1 to 3 cut through every tag, entity, CDATA marker and multi-byte character.
        for size in [1, 2, 3, 7, 64, PAGE.len()] {
            assert_eq!(through_chunks(split(PAGE.as_bytes(), size)).await.unwrap(), whole, "chunks of {size} bytes");
        }
    }

    #[tokio::test]
    async fn a_transport_failure_or_an_early_end_is_an_error_not_a_short_answer() {
        let half = &PAGE.as_bytes()[..PAGE.len() / 2];
        let mut pieces = split(half, 5);
        pieces.push(Err(std::io::Error::other("transport failed")));
        let err = through_chunks(pieces).await.unwrap_err();
        assert!(matches!(&err, XmlError::Io(m) if m.contains("transport failed")), "{err:?}");

        let err = through_chunks(split(half, 5)).await.unwrap_err();
        assert_eq!(err, XmlError::Truncated);
    }
}
