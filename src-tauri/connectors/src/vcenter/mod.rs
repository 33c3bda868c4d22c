//! # vcenter — the vSphere client: one session, bulk inventory, change stream, tasks
//!
//! Owns every conversation EIO has with a vCenter: SOAP (Login/Logout,
//! RetrieveServiceContent, ContainerView, RetrievePropertiesEx with `maxObjects` paging and
//! ContinueRetrievePropertiesEx, WaitForUpdatesEx, task polling, the host and VM actions
//! orchestration jobs take with the facts their maintenance-mode gate needs (`actions.rs`))
//! and the tagging REST API. It returns plain records ([`records`]); it never touches the
//! database, never logs a request or response body, and never holds a response in memory:
//! pages are parsed while they arrive ([`xml`]), one object at a time, so an 18 MB page
//! costs one object's worth of memory. A DTD or entity declaration in a response is an
//! error, never expanded. TLS, timeouts and the response size cap come from the
//! [`HttpConfig`] in [`VcenterConfig`] (see [`crate::http`]); passwords live only in
//! [`eio_secret::Secret`] and appear in no error or Debug output.
//!
//! A full sync ([`Session::inventory`]) is: CreateContainerView over the root folder,
//! one RetrievePropertiesEx over the view (plus the custom field definitions) with
//! `maxObjects`, ContinueRetrievePropertiesEx until vCenter stops returning a token
//! (vCenter silently caps unpaged answers at ~100 objects, so we always loop), and
//! DestroyView. With login that is 4 + pages calls; 10,000 VMs at the default page size
//! of 2,000 objects fit in the benchmark's budget of 12.
//!
//! Fuzzing: the SOAP reader and the property parser are fuzzed with proptest in
//! `connectors/tests/vcenter_fuzz.rs` (a modest number of cases in CI). A long run:
//!
//! ```text
//! EIO_FUZZ_SECONDS=600 CARGO_TARGET_DIR=/tmp/fuzz cargo test --release -p eio-connectors \
//!     --test vcenter_fuzz -- --nocapture long_fuzz_run
//! ```
//!
//! runs random, mutated, truncated, deeply nested and huge-attribute documents through the
//! reader for the given number of seconds and prints how many it tried.
mod actions;
mod blockers;
pub mod error;
mod inventory;
pub mod mobility;
pub mod model;
pub mod records;
pub mod soap;
mod tags;
mod tasks;
mod watch;
pub mod xml;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use actions::{HostState, HostVm};
pub use blockers::{BlockReason, BlockerSource, BlockingVm};
pub use error::{FaultKind, SoapFault, VcenterError};
pub use inventory::inventory_from_page;
pub use records::*;
pub use soap::MoRef;
pub use tasks::{TaskInfo, TaskState};
pub use watch::{ObjectUpdate, UpdateBatch, UpdateKind, Watcher};

use crate::http::{HttpClient, HttpConfig};
use eio_secret::Credentials;
use soap::{esc, Soap};
use xml::Node;

/// Objects per RetrievePropertiesEx page unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 2000;

/// How to reach one vCenter.
#[derive(Clone)]
pub struct VcenterConfig {
    /// `https://vcenter.example.com/sdk`
    pub sdk_url: url::Url,
    pub credentials: Credentials,
    /// TLS policy, timeouts, response cap. Cookies are always on (the SOAP session is one).
    pub http: HttpConfig,
    /// `maxObjects` per page (vCenter may return fewer; we follow the token either way).
    pub page_size: u32,
}

impl VcenterConfig {
    /// Verified TLS, [`DEFAULT_PAGE_SIZE`], and a response cap of 512 MiB: responses are
    /// streamed, never held, so the cap only stops a runaway answer (a vCenter that does
    /// not page — vcsim — sends 10,000 VMs in one ~130 MB answer).
    pub fn new(sdk_url: url::Url, credentials: Credentials) -> Self {
        VcenterConfig {
            sdk_url,
            credentials,
            http: HttpConfig { cookies: true, max_body_bytes: 512 * 1024 * 1024, ..HttpConfig::default() },
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl fmt::Debug for VcenterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VcenterConfig")
            .field("sdk_url", &self.sdk_url.as_str())
            .field("credentials", &self.credentials)
            .field("http", &self.http)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// What the vCenter says it is (`ServiceContent.about`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// Stable identity of this vCenter; the engine keys sources by it.
    pub instance_uuid: Option<String>,
    pub api_version: String,
    /// "VMware vCenter Server 8.0.2 build-22617221"
    pub full_name: String,
    pub version: Option<String>,
    pub build: Option<String>,
    /// `VirtualCenter` or `HostAgent` (a standalone ESXi).
    pub api_type: Option<String>,
}

/// The managed objects the session needs from the ServiceContent.
#[derive(Debug, Clone)]
pub(crate) struct Services {
    pub root_folder: MoRef,
    pub property_collector: MoRef,
    pub view_manager: MoRef,
    pub session_manager: MoRef,
    pub custom_fields_manager: Option<MoRef>,
}

/// A logged-in vCenter session. Dropping it without [`Session::logout`] leaves the server
/// session to expire on its own.
pub struct Session {
    soap: Arc<Soap>,
    services: Services,
    about: About,
    credentials: Credentials,
    page_size: u32,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.soap.host())
            .field("user", &self.credentials.username)
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connect, read the ServiceContent and log in.
    pub async fn login(cfg: &VcenterConfig) -> Result<Session, VcenterError> {
        if cfg.sdk_url.host_str().is_none() {
            return Err(VcenterError::Config(format!("{} has no host", cfg.sdk_url)));
        }
        let mut http = cfg.http.clone();
        http.cookies = true;
        let soap = Arc::new(Soap::new(HttpClient::new(http)?, cfg.sdk_url.clone()));

        let content = soap
            .call_required("RetrieveServiceContent", "<_this type=\"ServiceInstance\">ServiceInstance</_this>")
            .await?;
        let moref = |name: &str| content.child(name).and_then(MoRef::from_node);
        let required = |name: &'static str| moref(name).ok_or_else(|| soap.unexpected("RetrieveServiceContent", name));
        let services = Services {
            root_folder: required("rootFolder")?,
            property_collector: required("propertyCollector")?,
            view_manager: required("viewManager")?,
            session_manager: required("sessionManager")?,
            custom_fields_manager: moref("customFieldsManager"),
        };
        let about_node = content.child("about").cloned().unwrap_or_default();
        let get = |n: &str| about_node.text_of(n).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let about = About {
            instance_uuid: get("instanceUuid"),
            api_version: get("apiVersion").unwrap_or_else(|| soap::BOOTSTRAP_VERSION.to_owned()),
            full_name: get("fullName").unwrap_or_default(),
            version: get("version"),
            build: get("build"),
            api_type: get("apiType"),
        };
        soap.set_api_version(&about.api_version);

        let login = format!(
            "{}<userName>{}</userName><password>{}</password>",
            services.session_manager.xml("_this"),
            esc(&cfg.credentials.username),
            esc(cfg.credentials.password.expose()),
        );
        soap.call_required("Login", &login).await?;
        Ok(Session { soap, services, about, credentials: cfg.credentials.clone(), page_size: cfg.page_size.max(1) })
    }

    pub fn about(&self) -> &About {
        &self.about
    }

    /// SOAP calls made by this session so far (login included).
    pub fn soap_calls(&self) -> u64 {
        self.soap.calls()
    }

    /// Response bytes read by this session so far.
    pub fn bytes_read(&self) -> u64 {
        self.soap.bytes()
    }

    /// The SHA-256 thumbprint of the certificate the vCenter presented.
    pub fn presented_thumbprint(&self) -> Option<crate::http::Thumbprint> {
        self.soap.http().presented_thumbprint()
    }

    /// End the server session.
    pub async fn logout(self) -> Result<(), VcenterError> {
        self.soap.call_returnval("Logout", &self.services.session_manager.xml("_this")).await?;
        Ok(())
    }

    /// CreateContainerView over the whole inventory.
    async fn create_view(&self) -> Result<MoRef, VcenterError> {
        let inner = format!(
            "{}{}{}<recursive>true</recursive>",
            self.services.view_manager.xml("_this"),
            self.services.root_folder.xml("container"),
            model::view_types_xml()
        );
        let node = self.soap.call_required("CreateContainerView", &inner).await?;
        MoRef::from_node(&node).ok_or_else(|| self.soap.unexpected("CreateContainerView", "the view reference"))
    }

    async fn destroy_view(&self, view: &MoRef) -> Result<(), VcenterError> {
        self.soap.call_returnval("DestroyView", &view.xml("_this")).await?;
        Ok(())
    }

    /// RetrievePropertiesEx and ContinueRetrievePropertiesEx over the whole inventory,
    /// draining every page without parsing it: the baseline the benchmark compares
    /// [`Session::inventory`] with. Returns the response bytes read.
    pub async fn raw_inventory_exchange(&self) -> Result<u64, VcenterError> {
        let view = self.create_view().await?;
        let spec = model::filter_spec("specSet", &view, self.services.custom_fields_manager.as_ref());
        let this = self.services.property_collector.xml("_this");
        let first = format!("{this}{spec}<options><maxObjects>{}</maxObjects></options>", self.page_size);
        let (mut bytes, mut token) = self.drain("RetrievePropertiesEx", &first).await?;
        while let Some(t) = token {
            let (b, next) =
                self.drain("ContinueRetrievePropertiesEx", &format!("{this}<token>{}</token>", esc(&t))).await?;
            bytes += b;
            token = next;
        }
        self.destroy_view(&view).await?;
        Ok(bytes)
    }

    /// Send a SOAP request and read the body without parsing it, except for spotting a
    /// paging token near its start (vCenter puts `<token>` before the objects).
    async fn drain(&self, method: &str, inner: &str) -> Result<(u64, Option<String>), VcenterError> {
        use futures::StreamExt;
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <soapenv:Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></soapenv:Body></soapenv:Envelope>"
        );
        let http = self.soap.http();
        let response = http
            .send(
                http.inner()
                    .post(self.soap.url().clone())
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .header("SOAPAction", format!("urn:vim25/{}", self.about.api_version))
                    .body(body),
            )
            .await?;
        let mut bytes = 0u64;
        let mut head: Vec<u8> = Vec::new();
        let mut stream = Box::pin(http.body_stream(response));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as u64;
            if head.len() < 4096 {
                head.extend_from_slice(&chunk[..chunk.len().min(4096 - head.len())]);
            }
        }
        let head = String::from_utf8_lossy(&head);
        let token =
            head.split_once("<token>").and_then(|(_, rest)| rest.split_once("</token>")).map(|(t, _)| t.to_owned());
        Ok((bytes, token))
    }
}

/// Text of a child, trimmed, if not empty.
pub(crate) fn child_text(n: &Node, name: &str) -> Option<String> {
    n.text_of(name).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
