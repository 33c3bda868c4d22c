//! # WSMan — WS-Management (SOAP over HTTPS) for iDRAC7/8
//!
//! Owns: Enumerate + Pull with an `EnumerationContext`, paging until `EndOfSequence`
//! (`OptimizeEnumeration` + `MaxElements`, as python-dracclient does), SOAP faults turned
//! into [`WsmanError`]s, and a strict XML reader ([`xml`]) that refuses DTDs and entities.
//! [`dcim`] maps `DCIM_SystemView`, `DCIM_SoftwareIdentity`, `DCIM_iDRACCardView` and
//! `DCIM_LifecycleJob` into the same [`crate::idrac::records`] the Redfish driver produces,
//! and invokes the DCIM methods a firmware update needs ([`WsmanClient::invoke`]: a
//! `<Method>_INPUT` body addressed by a SelectorSet, its `ReturnValue` checked).
//!
//! Must never: put a credential in a SOAP body, a log line or an error (Basic auth travels
//! only in the sensitive Authorization header), or talk HTTP except through
//! [`crate::http::HttpClient`].
pub mod dcim;
pub mod xml;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use url::Url;

use crate::http::{host_of, HttpClient, HttpError};
use crate::Credentials;
use xml::{Element, XmlError};

pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
pub const NS_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
pub const NS_ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
pub const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
pub const ACTION_ENUMERATE: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate";
pub const ACTION_PULL: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull";
/// Dell's DCIM classes live under this resource URI prefix.
pub const DCIM_URI: &str = "http://schemas.dell.com/wbem/wscim/1/cim-schema/2/";

/// Pulls followed before the enumeration is called endless.
const MAX_PULLS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum WsmanError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{host} refused the credentials (HTTP 401)")]
    Unauthorized { host: String },
    #[error("{host} is temporarily unavailable (HTTP {status}); retry later")]
    Unavailable { host: String, status: u16 },
    #[error("{host} does not offer WS-Management at /wsman: {reason}")]
    NotWsman { host: String, reason: String },
    #[error("{host} returned a WS-Management fault for {class}: {reason}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Fault { host: String, class: String, code: Option<String>, reason: String },
    #[error("{host} answered HTTP {status} for {class}")]
    Status { host: String, class: String, status: u16 },
    #[error("{host} sent a WS-Management response for {class} that cannot be read: {source}")]
    Malformed {
        host: String,
        class: String,
        #[source]
        source: XmlError,
    },
    #[error("{host} broke the WS-Management protocol for {class}: {reason}")]
    Protocol { host: String, class: String, reason: String },
    /// A method answered `ReturnValue` 2 (or another failure) with Dell's message.
    #[error("{host} refused {class}.{method}: {reason}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused { host: String, class: String, method: String, code: Option<String>, reason: String },
}

/// What a DCIM method's `ReturnValue` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// 0: done.
    Done,
    /// 4096: a job was created (its reference is in the output).
    JobCreated,
}

/// A WS-Management endpoint (`https://bmc/wsman`).
pub struct WsmanClient {
    http: HttpClient,
    endpoint: Url,
    host: String,
    credentials: Credentials,
    max_elements: u32,
    api_calls: Arc<AtomicU32>,
}

impl std::fmt::Debug for WsmanClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsmanClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("username", &self.credentials.username)
            .finish_non_exhaustive()
    }
}

impl WsmanClient {
    /// A client for `base`'s `/wsman`. Nothing is sent until the first enumeration.
    pub fn new(base: &Url, credentials: Credentials, http: HttpClient) -> WsmanClient {
        let mut endpoint = base.clone();
        endpoint.set_path("/wsman");
        endpoint.set_query(None);
        WsmanClient {
            http,
            host: host_of(&endpoint),
            endpoint,
            credentials,
            max_elements: 50,
            api_calls: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Items per Enumerate/Pull response (python-dracclient uses 100; iDRACs cap it).
    pub fn with_max_elements(mut self, n: u32) -> Self {
        self.max_elements = n.max(1);
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn api_calls(&self) -> u32 {
        self.api_calls.load(Ordering::Relaxed)
    }

    /// Every instance of a DCIM class (e.g. "DCIM_SystemView"), paging with Pull until the
    /// service says `EndOfSequence`.
    pub async fn enumerate(&self, class: &str) -> Result<Vec<Element>, WsmanError> {
        let resource_uri = if class.contains("://") { class.to_owned() } else { format!("{DCIM_URI}{class}") };
        let class_name = resource_uri.rsplit('/').next().unwrap_or(class).to_owned();
        let body = format!(
            "<wsen:Enumerate><wsman:OptimizeEnumeration/><wsman:MaxElements>{}</wsman:MaxElements></wsen:Enumerate>",
            self.max_elements
        );
        let mut response = self.call(&class_name, &resource_uri, ACTION_ENUMERATE, &body).await?;
        let mut items = Vec::new();
        let mut pulls = 0;
        loop {
            let body = response.child("Body").ok_or_else(|| self.protocol(&class_name, "no SOAP Body"))?;
            let reply = body
                .child("EnumerateResponse")
                .or_else(|| body.child("PullResponse"))
                .ok_or_else(|| self.protocol(&class_name, "neither EnumerateResponse nor PullResponse"))?;
            if let Some(list) = reply.child("Items") {
                items.extend(list.children.iter().cloned());
            }
            let context = reply.text_of("EnumerationContext").map(str::to_owned);
            let end = reply.child("EndOfSequence").is_some();
            match context {
                Some(ctx) if !end => {
                    pulls += 1;
                    if pulls > MAX_PULLS {
                        return Err(self.protocol(&class_name, "the enumeration never reaches EndOfSequence"));
                    }
                    let pull = format!(
                        "<wsen:Pull><wsen:EnumerationContext>{}</wsen:EnumerationContext>\
                         <wsen:MaxElements>{}</wsen:MaxElements></wsen:Pull>",
                        xml::escape(&ctx),
                        self.max_elements
                    );
                    response = self.call(&class_name, &resource_uri, ACTION_PULL, &pull).await?;
                }
                _ => break,
            }
        }
        Ok(items)
    }

    /// Invoke `method` of the DCIM service `class` on the instance `selectors` name, with
    /// `input` (the `<p:Name>value</p:Name>` parameters, already escaped) as its
    /// `<method>_INPUT`. Returns the `<method>_OUTPUT` element and what its ReturnValue said;
    /// a failure ReturnValue is [`WsmanError::Refused`] with Dell's Message and MessageID.
    /// Never retried here: the caller decides whether repeating the method is safe.
    pub async fn invoke(
        &self,
        class: &str,
        method: &str,
        selectors: &[(&str, &str)],
        input: &str,
    ) -> Result<(Element, Returned), WsmanError> {
        let resource_uri = format!("{DCIM_URI}{class}");
        let action = format!("{resource_uri}/{method}");
        let selector_set: String = selectors
            .iter()
            .map(|(k, v)| format!("<wsman:Selector Name=\"{}\">{}</wsman:Selector>", xml::escape(k), xml::escape(v)))
            .collect();
        let body =
            format!("<p:{method}_INPUT xmlns:p=\"{uri}\">{input}</p:{method}_INPUT>", uri = xml::escape(&resource_uri));
        let doc = self.call_with(class, &resource_uri, &action, &selector_set, &body).await?;
        let output_name = format!("{method}_OUTPUT");
        let output = doc
            .child("Body")
            .and_then(|b| b.child(&output_name))
            .cloned()
            .ok_or_else(|| self.protocol(class, &format!("no {output_name} in the answer to {method}")))?;
        // Some firmware sends no ReturnValue on success (as the Dell ASM scripts note).
        match output.text_of("ReturnValue") {
            None | Some("0") => Ok((output, Returned::Done)),
            Some("4096") => Ok((output, Returned::JobCreated)),
            Some(other) => Err(WsmanError::Refused {
                host: self.host.clone(),
                class: class.to_owned(),
                method: method.to_owned(),
                code: output.text_of("MessageID").map(str::to_owned),
                reason: output.text_of("Message").map(str::to_owned).unwrap_or_else(|| format!("ReturnValue {other}")),
            }),
        }
    }

    fn protocol(&self, class: &str, reason: &str) -> WsmanError {
        WsmanError::Protocol { host: self.host.clone(), class: class.to_owned(), reason: reason.to_owned() }
    }

    async fn call(&self, class: &str, resource_uri: &str, action: &str, body: &str) -> Result<Element, WsmanError> {
        self.call_with(class, resource_uri, action, "", body).await
    }

    async fn call_with(
        &self,
        class: &str,
        resource_uri: &str,
        action: &str,
        selector_set: &str,
        body: &str,
    ) -> Result<Element, WsmanError> {
        let envelope = envelope_with(
            self.endpoint.as_str(),
            resource_uri,
            action,
            &uuid::Uuid::new_v4().to_string(),
            selector_set,
            body,
        );
        let req = self
            .http
            .inner()
            .post(self.endpoint.clone())
            .header("Content-Type", "application/soap+xml;charset=UTF-8")
            .basic_auth(&self.credentials.username, Some(self.credentials.password.expose()))
            .body(envelope);
        self.api_calls.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.send(req).await?;
        let status = resp.status();
        let host = self.host.clone();
        match status {
            StatusCode::UNAUTHORIZED => return Err(WsmanError::Unauthorized { host }),
            StatusCode::NOT_FOUND => {
                return Err(WsmanError::NotWsman { host, reason: "/wsman answers 404".into() });
            }
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
                return Err(WsmanError::Unavailable { host, status: status.as_u16() });
            }
            _ => {}
        }
        let bytes = self.http.body(resp).await?;
        let text = String::from_utf8_lossy(&bytes);
        let parsed = xml::parse(&text);
        // A SOAP fault arrives with HTTP 400/500 and an XML body.
        if let Ok(doc) = &parsed {
            if let Some(fault) = doc.find("Fault") {
                let reason = fault
                    .find("Reason")
                    .and_then(|r| r.find("Text"))
                    .map(|t| t.text.trim().to_owned())
                    .unwrap_or_else(|| "no reason given".into());
                let code = fault.find("Subcode").and_then(|s| s.find("Value")).map(|v| v.text.trim().to_owned());
                return Err(WsmanError::Fault { host, class: class.to_owned(), code, reason });
            }
        }
        if !status.is_success() {
            return Err(WsmanError::Status { host, class: class.to_owned(), status: status.as_u16() });
        }
        parsed.map_err(|source| WsmanError::Malformed { host, class: class.to_owned(), source })
    }
}

/// A WS-Management request envelope (header as python-dracclient sends it).
pub fn envelope(to: &str, resource_uri: &str, action: &str, message_id: &str, body: &str) -> String {
    envelope_with(to, resource_uri, action, message_id, "", body)
}

/// An envelope whose header also carries `selector_set` (`<wsman:Selector …>` elements) in a
/// `wsman:SelectorSet`, as a method invocation on one instance needs.
pub fn envelope_with(
    to: &str,
    resource_uri: &str,
    action: &str,
    message_id: &str,
    selector_set: &str,
    body: &str,
) -> String {
    let selectors = if selector_set.is_empty() {
        String::new()
    } else {
        format!("<wsman:SelectorSet>{selector_set}</wsman:SelectorSet>")
    };
    format!(
        "<s:Envelope xmlns:s=\"{NS_SOAP}\" xmlns:wsa=\"{NS_ADDRESSING}\" xmlns:wsman=\"{NS_WSMAN}\" \
         xmlns:wsen=\"{NS_ENUMERATION}\"><s:Header>\
         <wsa:To s:mustUnderstand=\"true\">{to}</wsa:To>\
         <wsman:ResourceURI s:mustUnderstand=\"true\">{uri}</wsman:ResourceURI>\
         <wsa:MessageID s:mustUnderstand=\"true\">uuid:{message_id}</wsa:MessageID>\
         <wsa:ReplyTo><wsa:Address>{ANONYMOUS}</wsa:Address></wsa:ReplyTo>\
         <wsa:Action s:mustUnderstand=\"true\">{action}</wsa:Action>{selectors}\
         </s:Header><s:Body>{body}</s:Body></s:Envelope>",
        to = xml::escape(to),
        uri = xml::escape(resource_uri),
        action = xml::escape(action),
    )
}
