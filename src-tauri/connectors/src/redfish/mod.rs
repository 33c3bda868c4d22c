//! # Redfish — a generic DMTF Redfish client, with vendor OEM extensions as plug-ins
//!
//! Owns: the session dance (POST `SessionService/Sessions` → 201 + `X-Auth-Token` +
//! `Location`, DELETE on logout) with a fall-back to Basic auth when a BMC has no sessions;
//! typed resources ([`resources`]); collection paging via `Members@odata.nextLink`; `$expand`
//! where the ServiceRoot advertises it; the inventory pass ([`inventory`]) that turns System,
//! Manager, FirmwareInventory and log entries into [`crate::idrac::records`]. Vendor quirks
//! live in OEM extensions ([`dell`]) that plug into the generic client — never in a fork of it
//! (sushy's design, with sushy-oem-idrac as the Dell plug-in).
//!
//! Must never: log or return a password or session token (they live in [`crate::Secret`] and
//! are marked sensitive on the wire), follow a link to another host with our credentials, or
//! talk HTTP except through [`crate::http::HttpClient`].
pub mod dell;
mod error;
pub mod inventory;
pub mod resources;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub use error::RedfishError;
pub use inventory::{read_inventory, InventoryOptions, RedfishInventory};
use resources::{Collection, ErrorBody, ServiceRoot};

use crate::http::{host_of, HttpClient};
use crate::{Credentials, Secret};

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthPreference {
    /// A session when the BMC offers one, else Basic (sushy's `SessionOrBasicAuth`).
    #[default]
    SessionOrBasic,
    /// Basic auth on every request.
    BasicOnly,
}

enum Auth {
    Session { token: Secret, location: Option<Url> },
    Basic,
}

/// The largest number of collection pages followed before we call the BMC broken.
const MAX_PAGES: usize = 1000;
/// Redirects followed per request.
const MAX_REDIRECTS: usize = 5;

/// A logged-in Redfish service. Cheap operations only hold `&self`; [`RedfishClient::logout`]
/// consumes it. Dropping without logout leaves the BMC session to time out.
pub struct RedfishClient {
    http: HttpClient,
    base: Url,
    host: String,
    credentials: Credentials,
    auth: Auth,
    root: ServiceRoot,
    api_calls: Arc<AtomicU32>,
    /// Why sessions were not used, when they were not.
    session_note: Option<String>,
}

impl std::fmt::Debug for RedfishClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedfishClient")
            .field("host", &self.host)
            .field("username", &self.credentials.username)
            .field("sessions", &self.uses_sessions())
            .finish_non_exhaustive()
    }
}

impl RedfishClient {
    /// Read the ServiceRoot of `base` (e.g. `https://bmc`), then log in.
    pub async fn connect(
        base: &Url,
        credentials: Credentials,
        http: HttpClient,
        preference: AuthPreference,
    ) -> Result<RedfishClient, RedfishError> {
        let mut base = base.clone();
        base.set_path("/");
        base.set_query(None);
        let host = host_of(&base);
        let mut client = RedfishClient {
            http,
            base,
            host,
            credentials,
            auth: Auth::Basic,
            root: placeholder_root(),
            api_calls: Arc::new(AtomicU32::new(0)),
            session_note: None,
        };
        client.root = client.read_root().await?;
        if preference == AuthPreference::SessionOrBasic {
            client.login().await?;
        } else {
            client.session_note = Some("Basic auth chosen by configuration".into());
        }
        Ok(client)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn root(&self) -> &ServiceRoot {
        &self.root
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Requests made so far (the ServiceRoot and login included).
    pub fn api_calls(&self) -> u32 {
        self.api_calls.load(Ordering::Relaxed)
    }

    pub fn uses_sessions(&self) -> bool {
        matches!(self.auth, Auth::Session { .. })
    }

    /// Why this client uses Basic auth, if it does.
    pub fn session_note(&self) -> Option<&str> {
        self.session_note.as_deref()
    }

    async fn read_root(&self) -> Result<ServiceRoot, RedfishError> {
        let path = "/redfish/v1/";
        // The ServiceRoot is readable without credentials on every BMC we know; some
        // (sushy-emulator with an htpasswd file) still want them.
        let mut resp = self.raw(Method::GET, path, false, None).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            resp = self.raw(Method::GET, path, true, None).await?;
        }
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RedfishError::NotRedfish {
                host: self.host.clone(),
                reason: "/redfish/v1 answers 404 (firmware without Redfish: iDRAC7/8 before 2.40)".into(),
            });
        }
        let body = self.check(path, resp).await?;
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            // Broken JSON is a broken Redfish service; anything else (an HTML page) is none.
            Err(e) if body.trim_ascii_start().starts_with(b"{") => return Err(self.malformed(path, e)),
            Err(e) => {
                return Err(RedfishError::NotRedfish {
                    host: self.host.clone(),
                    reason: format!("/redfish/v1 is not JSON ({e})"),
                })
            }
        };
        let looks_redfish = value.get("RedfishVersion").is_some()
            || value.get("Systems").is_some()
            || value.get("@odata.type").and_then(Value::as_str).is_some_and(|t| t.contains("ServiceRoot"));
        if !looks_redfish {
            return Err(RedfishError::NotRedfish {
                host: self.host.clone(),
                reason: "/redfish/v1 is JSON but not a Redfish ServiceRoot".into(),
            });
        }
        serde_json::from_value(value).map_err(|e| self.malformed(path, e))
    }

    async fn login(&mut self) -> Result<(), RedfishError> {
        let Some(path) = self.root.sessions_path() else {
            self.session_note = Some("the ServiceRoot advertises no SessionService; using Basic auth".into());
            return Ok(());
        };
        #[derive(serde::Serialize)]
        struct SessionRequest<'a> {
            #[serde(rename = "UserName")]
            user: &'a str,
            #[serde(rename = "Password")]
            password: &'a str,
        }
        let body = serde_json::to_vec(&SessionRequest {
            user: &self.credentials.username,
            password: self.credentials.password.expose(),
        })
        .map_err(|e| RedfishError::Protocol { host: self.host.clone(), reason: e.to_string() })?;
        let body = Secret::new(String::from_utf8_lossy(&body).into_owned());
        let resp = self.raw(Method::POST, &path, false, Some(&body)).await?;
        drop(body);
        match resp.status() {
            StatusCode::CREATED | StatusCode::OK => {
                let token =
                    resp.headers().get("x-auth-token").and_then(|v| v.to_str().ok()).map(|t| Secret::new(t.to_owned()));
                let location =
                    resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).and_then(|l| self.url(l).ok());
                let body = self.http.body(resp).await.unwrap_or_default();
                let Some(token) = token else {
                    return Err(RedfishError::Protocol {
                        host: self.host.clone(),
                        reason: "the session was created without an X-Auth-Token header".into(),
                    });
                };
                // No Location header: some BMCs only name the session in the body.
                let location = location.or_else(|| {
                    serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("@odata.id").and_then(Value::as_str).map(str::to_owned))
                        .and_then(|p| self.url(&p).ok())
                });
                self.auth = Auth::Session { token, location };
                Ok(())
            }
            StatusCode::UNAUTHORIZED => Err(RedfishError::Unauthorized { host: self.host.clone() }),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
                let retry = retry_after(&resp);
                Err(RedfishError::Unavailable {
                    host: self.host.clone(),
                    status: resp.status().as_u16(),
                    retry_after_seconds: retry,
                })
            }
            other => {
                self.session_note =
                    Some(format!("creating a session answered HTTP {}; using Basic auth", other.as_u16()));
                Ok(())
            }
        }
    }

    /// End the session (DELETE its Location). Basic auth has nothing to end.
    pub async fn logout(self) -> Result<(), RedfishError> {
        if let Auth::Session { location: Some(location), .. } = &self.auth {
            let path = location.path().to_owned();
            let resp = self.raw(Method::DELETE, &path, true, None).await?;
            let status = resp.status();
            if !(status.is_success() || status == StatusCode::NOT_FOUND) {
                self.check(&path, resp).await?;
            }
        }
        Ok(())
    }

    /// Resolve a path or same-host URL against the service; refuses other hosts.
    pub fn url(&self, path_or_url: &str) -> Result<Url, RedfishError> {
        let url = self.base.join(path_or_url).map_err(|e| RedfishError::Protocol {
            host: self.host.clone(),
            reason: format!("\"{path_or_url}\" is not a usable link ({e})"),
        })?;
        if url.host_str() != self.base.host_str() || url.port_or_known_default() != self.base.port_or_known_default() {
            return Err(RedfishError::Protocol {
                host: self.host.clone(),
                reason: format!(
                    "a link points to another host ({}); refusing to send credentials there",
                    host_of(&url)
                ),
            });
        }
        Ok(url)
    }

    /// Send a request, following same-host redirects here (not in reqwest), so that a redirect
    /// can never carry the session token or Basic credentials to another host. Clients built
    /// by [`crate::idrac`] disable reqwest's own redirects for that reason.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        authenticated: bool,
        json_body: Option<&Secret>,
    ) -> Result<reqwest::Response, RedfishError> {
        let (mut method, mut body) = (method, json_body);
        let mut current = path.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send_once(method.clone(), &current, authenticated, body).await?;
            let status = resp.status();
            let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            match (status.is_redirection(), location) {
                (true, Some(location)) => {
                    let next = self.url(&location)?;
                    current = next[url::Position::BeforePath..].to_owned();
                    if matches!(status.as_u16(), 301..=303) && method != Method::GET && method != Method::HEAD {
                        (method, body) = (Method::GET, None);
                    }
                }
                _ => return Ok(resp),
            }
        }
        Err(RedfishError::Protocol {
            host: self.host.clone(),
            reason: format!("{path} redirects more than {MAX_REDIRECTS} times"),
        })
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        authenticated: bool,
        json_body: Option<&Secret>,
    ) -> Result<reqwest::Response, RedfishError> {
        let url = self.url(path)?;
        let mut req = self.http.inner().request(method, url).header("Accept", "application/json");
        if authenticated {
            req = self.authorize(req)?;
        }
        if let Some(body) = json_body {
            req = req.header("Content-Type", "application/json").body(body.expose().to_owned());
        }
        self.api_calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.http.send(req).await?)
    }

    /// Add this client's credentials (session token or Basic) to a request, marked sensitive.
    fn authorize(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, RedfishError> {
        Ok(match &self.auth {
            Auth::Session { token, .. } => {
                let mut value = HeaderValue::from_str(token.expose()).map_err(|_| RedfishError::Protocol {
                    host: self.host.clone(),
                    reason: "the session token is not a valid header value".into(),
                })?;
                value.set_sensitive(true);
                req.header("X-Auth-Token", value)
            }
            Auth::Basic => req.basic_auth(&self.credentials.username, Some(self.credentials.password.expose())),
        })
    }

    /// POST a JSON body (an action's parameters; never a credential) to `path`. Any 2xx
    /// answer is returned with its Location and body; anything else is the error its status
    /// means (with the Redfish MessageId, e.g. Dell's `IDRAC.2.8.RAC0679`).
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<ActionResponse, RedfishError> {
        let body = Secret::new(body.to_string());
        let resp = self.raw(Method::POST, path, true, Some(&body)).await?;
        self.action_response(path, resp).await
    }

    /// POST a multipart form (a firmware image upload) to `path`, with `If-Match` when given.
    /// A redirect is not followed (an upload cannot be replayed): it is a protocol error.
    pub async fn post_form(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
        if_match: Option<&str>,
    ) -> Result<ActionResponse, RedfishError> {
        let url = self.url(path)?;
        let mut req = self.authorize(self.http.inner().post(url).header("Accept", "application/json"))?;
        if let Some(tag) = if_match {
            req = req.header("If-Match", tag);
        }
        self.api_calls.fetch_add(1, Ordering::Relaxed);
        let resp = self.http.send(req.multipart(form)).await?;
        if resp.status().is_redirection() {
            return Err(RedfishError::Protocol {
                host: self.host.clone(),
                reason: format!("{path} redirects an upload (HTTP {}); not following it", resp.status().as_u16()),
            });
        }
        self.action_response(path, resp).await
    }

    /// The `ETag` header of a resource (HttpPushUri uploads need it as `If-Match`).
    pub async fn etag(&self, path: &str) -> Result<Option<String>, RedfishError> {
        let resp = self.raw(Method::GET, path, true, None).await?;
        let tag = resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.check(path, resp).await?;
        Ok(tag)
    }

    async fn action_response(&self, path: &str, resp: reqwest::Response) -> Result<ActionResponse, RedfishError> {
        let status = resp.status().as_u16();
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = self.check(path, resp).await?;
        let body = if body.trim_ascii().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| self.malformed(path, e))?
        };
        Ok(ActionResponse { status, location, body })
    }

    /// The body of a successful response, or the error its status means.
    async fn check(&self, path: &str, resp: reqwest::Response) -> Result<Bytes, RedfishError> {
        let status = resp.status();
        let host = self.host.clone();
        let path = path.to_owned();
        match status {
            s if s.is_success() => Ok(self.http.body(resp).await?),
            StatusCode::UNAUTHORIZED => Err(RedfishError::Unauthorized { host }),
            StatusCode::FORBIDDEN => Err(RedfishError::Forbidden { host, path }),
            StatusCode::NOT_FOUND => Err(RedfishError::NotFound { host, path }),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
                Err(RedfishError::Unavailable {
                    host,
                    status: status.as_u16(),
                    retry_after_seconds: retry_after(&resp),
                })
            }
            _ => {
                let body = self.http.body(resp).await.unwrap_or_default();
                let (message, message_id) = match serde_json::from_slice::<ErrorBody>(&body) {
                    Ok(e) => e.summary(),
                    Err(_) => (String::new(), None),
                };
                let message: String = message.chars().take(300).collect();
                Err(RedfishError::Status { host, path, status: status.as_u16(), message, message_id })
            }
        }
    }

    fn malformed(&self, path: &str, e: impl std::fmt::Display) -> RedfishError {
        RedfishError::Malformed { host: self.host.clone(), path: path.to_owned(), reason: e.to_string() }
    }

    /// GET a resource as raw JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, RedfishError> {
        let resp = self.raw(Method::GET, path, true, None).await?;
        let body = self.check(path, resp).await?;
        serde_json::from_slice(&body).map_err(|e| self.malformed(path, e))
    }

    /// GET a resource as a typed struct.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RedfishError> {
        let value = self.get_json(path).await?;
        serde_json::from_value(value).map_err(|e| self.malformed(path, e))
    }

    /// GET a resource that a BMC may not have: 404 (and 405/501) mean `None`.
    pub async fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, RedfishError> {
        match self.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(RedfishError::NotFound { .. }) => Ok(None),
            Err(RedfishError::Status { status: 405 | 501, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every member of a collection, following `Members@odata.nextLink` to the end. Members
    /// are whatever the BMC sent: links, or whole resources when `path` asked for `$expand`.
    pub async fn collection(&self, path: &str) -> Result<Vec<Value>, RedfishError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(page) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RedfishError::Protocol {
                    host: self.host.clone(),
                    reason: format!("{path} has more than {MAX_PAGES} pages; the nextLink chain does not end"),
                });
            }
            let c: Collection = self.get(&page).await?;
            out.extend(c.members);
            next = c.next_link.filter(|n| !n.is_empty() && *n != page);
        }
        Ok(out)
    }

    /// The paths of a collection's members.
    pub async fn member_paths(&self, path: &str) -> Result<Vec<String>, RedfishError> {
        Ok(self.collection(path).await?.iter().filter_map(odata_id).map(str::to_owned).collect())
    }

    /// Every member of a collection as a whole resource: one `$expand` request where the
    /// service supports it, else one GET per member.
    pub async fn expanded_members(&self, path: &str) -> Result<Vec<Value>, RedfishError> {
        if self.root.supports_expand() {
            let sep = if path.contains('?') { '&' } else { '?' };
            let members = self.collection(&format!("{path}{sep}$expand=*($levels=1)")).await?;
            if members.iter().all(|m| m.as_object().is_some_and(|o| o.len() > 1)) {
                return Ok(members);
            }
        }
        let mut out = Vec::new();
        for member in self.collection(path).await? {
            match odata_id(&member) {
                Some(p) if member.as_object().is_some_and(|o| o.len() == 1) => out.push(self.get_json(p).await?),
                _ => out.push(member),
            }
        }
        Ok(out)
    }
}

/// What a BMC answered to an action (a POST): a 2xx status, its `Location` (a task or job
/// monitor, a created resource) and its body (`Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: Value,
}

/// The `@odata.id` of a member or link.
pub fn odata_id(v: &Value) -> Option<&str> {
    v.get("@odata.id").and_then(Value::as_str)
}

fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    resp.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

fn placeholder_root() -> ServiceRoot {
    ServiceRoot {
        odata_type: None,
        redfish_version: None,
        product: None,
        vendor: None,
        systems: None,
        managers: None,
        update_service: None,
        session_service: None,
        tasks: None,
        job_service: None,
        links: Default::default(),
        protocol_features: None,
        oem: Value::Null,
    }
}
