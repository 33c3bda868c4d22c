//! # vcenter — a vSphere SOAP endpoint for what vcsim lacks
//!
//! Owns a small vCenter over real HTTPS ([`crate::tls`]): RetrieveServiceContent, Login,
//! Logout, CreateContainerView, DestroyView, RetrievePropertiesEx with real `maxObjects`
//! paging and ContinueRetrievePropertiesEx (vcsim ignores `maxObjects`), a minimal
//! change stream (CreatePropertyCollector, CreateFilter, WaitForUpdatesEx baseline and
//! version checks), and injected faults ([`LabFault`]): a slow answer, a truncated page, a
//! SOAP fault on a Continue call, an entity bomb, an oversized answer, a forgotten change
//! version. A bad password is simply a wrong password ([`LabVcenter::username`] /
//! [`LabVcenter::password`]); a wrong certificate is a client pinning another thumbprint.
//!
//! It speaks vCenter's own spelling (`xsi:type`, `<obj type="…">`, faults in
//! `<detail><XFault xsi:type="X">`), and `lab/tests/vcenter_lab.rs` compares its pages with
//! vcsim's so it cannot drift into a dialect. It must never be used by production code,
//! and never pretends to more than it implements: any other method is a `NotSupported`
//! fault.
pub mod model;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use eio_connectors::http::Thumbprint;
use eio_connectors::vcenter::xml::{parse_document, Node};

use crate::tls::{serve_https, HttpsServer};
pub use model::{LabModel, LabObject};

/// A fault the lab injects into its answers until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabFault {
    /// Wait this long before answering RetrievePropertiesEx.
    SlowRetrieve(Duration),
    /// Answer RetrievePropertiesEx with the first half of the page (well-formed HTTP,
    /// truncated XML).
    TruncatedPage,
    /// Answer every ContinueRetrievePropertiesEx with a SOAP fault (SystemError).
    FaultOnContinue,
    /// Answer RetrievePropertiesEx with a "billion laughs" DTD and entity references.
    EntityBomb,
    /// Answer RetrievePropertiesEx with a valid-looking page of this many bytes, streamed.
    Oversized(usize),
    /// Treat every WaitForUpdatesEx version as unknown (InvalidCollectorVersion).
    ForgetVersions,
}

const ENVELOPE_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope \
    xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
    xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n<soapenv:Body>";
const ENVELOPE_CLOSE: &str = "</soapenv:Body>\n</soapenv:Envelope>";
const COOKIE: &str = "vmware_soap_session";

/// What one RetrievePropertiesEx asked for: per type, the paths.
type PropSpecs = Vec<(String, Vec<String>)>;

struct Pending {
    rest: Vec<usize>,
    specs: PropSpecs,
    page: usize,
}

#[derive(Default)]
struct Live {
    sessions: HashSet<String>,
    /// view moid → (container moid, types)
    views: HashMap<String, (String, Vec<String>)>,
    pages: HashMap<String, Pending>,
    /// collector moid → its filter's request (the `spec` element)
    collectors: HashMap<String, Option<Node>>,
    fault: Option<LabFault>,
    calls: Vec<String>,
    next_id: u64,
}

struct Shared {
    objects: Vec<LabObject>,
    username: String,
    password: String,
    live: Mutex<Live>,
}

/// A running lab vCenter. Stops when dropped.
pub struct LabVcenter {
    pub server: HttpsServer,
    /// `https://127.0.0.1:PORT/sdk`
    pub sdk_url: String,
    pub thumbprint: Thumbprint,
    pub model: LabModel,
    shared: Arc<Shared>,
}

impl LabVcenter {
    /// Serve `model` on a free loopback port with a fresh certificate.
    pub async fn start(model: LabModel) -> std::io::Result<LabVcenter> {
        let shared = Arc::new(Shared {
            objects: model::build(&model),
            username: "administrator@vsphere.local".into(),
            password: "Lab-vCenter-1!".into(),
            live: Mutex::new(Live::default()),
        });
        // The tagging REST API as a vCenter with no tags answers it (sessions, empty lists).
        let rest = axum::Router::new()
            .route(
                "/rest/com/vmware/cis/session",
                axum::routing::post(|| async { axum::Json(serde_json::json!({"value": "lab-rest-session"})) })
                    .delete(|| async { axum::Json(serde_json::json!({})) }),
            )
            .route("/rest/com/vmware/cis/tagging/category", axum::routing::get(empty_list))
            .route("/rest/com/vmware/cis/tagging/tag", axum::routing::get(empty_list));
        let router = axum::Router::new().route("/sdk", axum::routing::post(sdk)).with_state(shared.clone()).merge(rest);
        let server = serve_https(router).await?;
        Ok(LabVcenter {
            sdk_url: format!("{}/sdk", server.base_url),
            thumbprint: server.thumbprint,
            server,
            model,
            shared,
        })
    }

    pub fn username(&self) -> &str {
        &self.shared.username
    }

    pub fn password(&self) -> &str {
        &self.shared.password
    }

    /// Every object the lab serves (to compare a client's inventory with).
    pub fn objects(&self) -> &[LabObject] {
        &self.shared.objects
    }

    /// Inject `fault` into later answers (None: behave).
    pub fn inject(&self, fault: Option<LabFault>) {
        self.live().fault = fault;
    }

    /// The SOAP methods called so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.live().calls.clone()
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.shared.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn ok(body: String) -> Response {
    xml_response(StatusCode::OK, format!("{ENVELOPE_OPEN}{body}{ENVELOPE_CLOSE}"))
}

fn xml_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/xml; charset=utf-8"));
    r
}

/// A SOAP fault as vCenter writes it (HTTP 500).
fn fault(type_name: &str, message: &str, detail: &str) -> Response {
    let message = quick_xml::escape::escape(message);
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "{ENVELOPE_OPEN}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>{message}</faultstring>\
             <detail><{type_name}Fault xmlns=\"urn:vim25\" xsi:type=\"{type_name}\">{detail}</{type_name}Fault></detail>\
             </soapenv:Fault>{ENVELOPE_CLOSE}"
        ),
    )
}

fn response(method: &str, inner: &str) -> Response {
    ok(format!("<{method}Response xmlns=\"urn:vim25\">{inner}</{method}Response>"))
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.trim_matches('"').to_owned())
    })
}

fn moref_of(n: Option<&Node>) -> Option<(String, String)> {
    let n = n?;
    Some((n.mo_type.clone()?, n.text.trim().to_owned()))
}

/// Is an object of type `kind` an instance of `of` (subtypes included)?
fn is_a(kind: &str, of: &str) -> bool {
    kind == of
        || of == "ManagedEntity"
        || (of == "ComputeResource" && kind == "ClusterComputeResource")
        || (of == "Network" && matches!(kind, "DistributedVirtualPortgroup" | "OpaqueNetwork"))
}

async fn sdk(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(doc) = parse_document(&body) else {
        return fault("InvalidRequest", "the request is not a SOAP envelope", "");
    };
    let Some(call) = doc.child("Body").and_then(|b| b.children.first()).cloned() else {
        return fault("InvalidRequest", "empty SOAP body", "");
    };
    let method = call.name.clone();
    let session = session_of(&headers);
    let injected = {
        let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
        live.calls.push(method.clone());
        live.fault.clone()
    };
    let authenticated = {
        let live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
        session.as_ref().is_some_and(|s| live.sessions.contains(s))
    };
    if let (true, Some(LabFault::SlowRetrieve(d))) = (method == "RetrievePropertiesEx", &injected) {
        tokio::time::sleep(*d).await;
    }
    answer(&shared, &call, session, authenticated, injected)
}

/// Everything after the request is read and any injected delay is over.
fn answer(
    shared: &Shared,
    call: &Node,
    session: Option<String>,
    authenticated: bool,
    injected: Option<LabFault>,
) -> Response {
    let method = call.name.clone();
    match method.as_str() {
        "RetrieveServiceContent" => return response(&method, SERVICE_CONTENT),
        "Login" => return login(shared, call),
        _ if !authenticated => {
            return fault(
                "NotAuthenticated",
                "The session is not authenticated.",
                "<object type=\"Folder\">group-d1</object><privilegeId>System.View</privilegeId>",
            )
        }
        _ => {}
    }
    let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
    match method.as_str() {
        "Logout" => {
            if let Some(s) = session {
                live.sessions.remove(&s);
            }
            response(&method, "")
        }
        "CreateContainerView" => {
            let container = moref_of(call.child("container")).map(|(_, v)| v).unwrap_or_default();
            let types = call.children_named("type").map(|t| t.text.trim().to_owned()).collect();
            live.next_id += 1;
            let id = format!("session[{}]{:08x}", session.unwrap_or_default(), live.next_id);
            live.views.insert(id.clone(), (container, types));
            response(&method, &format!("<returnval type=\"ContainerView\">{id}</returnval>"))
        }
        "DestroyView" => {
            if let Some((_, v)) = moref_of(call.child("_this")) {
                live.views.remove(&v);
            }
            response(&method, "")
        }
        "RetrievePropertiesEx" => {
            let Some(spec) = call.child("specSet") else {
                return fault("InvalidArgument", "", "<invalidProperty>specSet</invalidProperty>");
            };
            let (indices, specs) = select(&shared.objects, &live, spec);
            let max = call.at(&["options", "maxObjects"]).and_then(|m| m.text.trim().parse::<usize>().ok());
            let page = max.unwrap_or(usize::MAX).max(1);
            match injected {
                Some(LabFault::EntityBomb) => return xml_response(StatusCode::OK, ENTITY_BOMB),
                Some(LabFault::Oversized(bytes)) => return oversized(&shared.objects, &specs, bytes),
                _ => {}
            }
            let answer = page_answer(&shared.objects, &mut live, indices, specs, page);
            if injected == Some(LabFault::TruncatedPage) {
                let full = format!("{ENVELOPE_OPEN}<RetrievePropertiesExResponse xmlns=\"urn:vim25\">{answer}</RetrievePropertiesExResponse>{ENVELOPE_CLOSE}");
                let mut cut = full.len() / 2;
                while !full.is_char_boundary(cut) {
                    cut -= 1;
                }
                return xml_response(StatusCode::OK, full[..cut].to_owned());
            }
            response(&method, &answer)
        }
        "ContinueRetrievePropertiesEx" => {
            if injected == Some(LabFault::FaultOnContinue) {
                return fault(
                    "SystemError",
                    "A general system error occurred: collector failed mid-result",
                    "<reason>lab fault</reason>",
                );
            }
            let token = call.text_of("token").unwrap_or_default().trim().to_owned();
            let Some(pending) = live.pages.remove(&token) else {
                return fault(
                    "InvalidArgument",
                    "A specified parameter was not correct: token",
                    "<invalidProperty>token</invalidProperty>",
                );
            };
            let answer = page_answer(&shared.objects, &mut live, pending.rest, pending.specs, pending.page);
            response(&method, &answer)
        }
        "CreatePropertyCollector" => {
            live.next_id += 1;
            let id = format!("session[{}]pc-{}", session.unwrap_or_default(), live.next_id);
            live.collectors.insert(id.clone(), None);
            response(&method, &format!("<returnval type=\"PropertyCollector\">{id}</returnval>"))
        }
        "CreateFilter" => {
            let Some((_, pc)) = moref_of(call.child("_this")) else { return fault("InvalidArgument", "", "") };
            live.collectors.insert(pc.clone(), call.child("spec").cloned());
            response(&method, &format!("<returnval type=\"PropertyFilter\">{pc}-filter</returnval>"))
        }
        "DestroyPropertyCollector" => {
            if let Some((_, pc)) = moref_of(call.child("_this")) {
                live.collectors.remove(&pc);
            }
            response(&method, "")
        }
        "WaitForUpdatesEx" => wait_for_updates(&shared.objects, &live, call, injected),
        other => fault("NotSupported", &format!("the lab vCenter does not implement {other}"), ""),
    }
}

fn login(shared: &Shared, call: &Node) -> Response {
    let user = call.text_of("userName").unwrap_or_default();
    let pass = call.text_of("password").unwrap_or_default();
    if user != shared.username || pass != shared.password {
        return fault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.", "");
    }
    let key = uuid::Uuid::new_v4().to_string();
    shared.live.lock().unwrap_or_else(|p| p.into_inner()).sessions.insert(key.clone());
    let mut r = response(
        "Login",
        &format!(
            "<returnval><key>{key}</key><userName>{user}</userName><fullName>Administrator</fullName>\
             <loginTime>2024-01-01T00:00:00Z</loginTime><lastActiveTime>2024-01-01T00:00:00Z</lastActiveTime>\
             <locale>en</locale><messageLocale>en</messageLocale><extensionSession>false</extensionSession>\
             <ipAddress>127.0.0.1</ipAddress><userAgent>lab</userAgent><callCount>0</callCount></returnval>",
            user = quick_xml::escape::escape(user)
        ),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("{COOKIE}=\"{key}\"; Path=/; HttpOnly; Secure;")) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The objects a PropertyFilterSpec selects (indices into `objects`) and its prop specs.
fn select(objects: &[LabObject], live: &Live, spec: &Node) -> (Vec<usize>, PropSpecs) {
    let specs: PropSpecs = spec
        .children_named("propSet")
        .map(|p| {
            let kind = p.text_of("type").unwrap_or_default().trim().to_owned();
            (kind, p.children_named("pathSet").map(|s| s.text.trim().to_owned()).collect())
        })
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    for os in spec.children_named("objectSet") {
        let Some((kind, id)) = moref_of(os.child("obj")) else { continue };
        let skip = os.text_of("skip").map(str::trim) == Some("true");
        if kind == "ContainerView" {
            let Some((container, types)) = live.views.get(&id) else { continue };
            for (i, o) in objects.iter().enumerate() {
                if o.moid != *container && o.kind != "CustomFieldsManager" && types.iter().any(|t| is_a(o.kind, t)) {
                    chosen.push(i);
                }
            }
        } else if !skip {
            chosen.extend(objects.iter().position(|o| o.moid == id && o.kind == kind));
        }
    }
    let mut seen = HashSet::new();
    chosen.retain(|i| seen.insert(*i) && specs.iter().any(|(t, _)| is_a(objects[*i].kind, t)));
    (chosen, specs)
}

/// The requested properties `o` has, in request order: (path, `<val…>` XML).
fn requested<'a>(o: &'a LabObject, specs: &'a PropSpecs) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (_, paths) in specs.iter().filter(|(t, _)| is_a(o.kind, t)) {
        for p in paths {
            if !out.iter().any(|(q, _)| q == p) {
                if let Some(val) = o.prop(p) {
                    out.push((p, val));
                }
            }
        }
    }
    out
}

fn render_object(o: &LabObject, specs: &PropSpecs, out: &mut String) {
    out.push_str(&format!("<objects><obj type=\"{}\">{}</obj>", o.kind, o.moid));
    for (p, val) in requested(o, specs) {
        out.push_str(&format!("<propSet><name>{p}</name>{val}</propSet>"));
    }
    out.push_str("</objects>");
}

/// One page (`returnval` content) and, if more remain, a token for the rest.
fn page_answer(
    objects: &[LabObject],
    live: &mut Live,
    mut indices: Vec<usize>,
    specs: PropSpecs,
    page: usize,
) -> String {
    let rest = if indices.len() > page { indices.split_off(page) } else { Vec::new() };
    let mut out = String::from("<returnval>");
    if !rest.is_empty() {
        live.next_id += 1;
        let token = live.next_id.to_string();
        out.push_str(&format!("<token>{token}</token>"));
        live.pages.insert(token, Pending { rest, specs: specs.clone(), page });
    }
    for i in indices {
        render_object(&objects[i], &specs, &mut out);
    }
    out.push_str("</returnval>");
    out
}

fn oversized(objects: &[LabObject], specs: &PropSpecs, bytes: usize) -> Response {
    let mut one = String::new();
    if let Some(o) = objects.iter().find(|o| o.kind == "VirtualMachine") {
        render_object(o, specs, &mut one);
    }
    if one.is_empty() {
        one.push_str("<objects><obj type=\"VirtualMachine\">vm-0</obj></objects>");
    }
    let head = format!("{ENVELOPE_OPEN}<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>");
    let repeats = bytes / one.len() + 1;
    let chunks = std::iter::once(head)
        .chain(std::iter::repeat_n(one, repeats))
        .chain(std::iter::once(format!("</returnval></RetrievePropertiesExResponse>{ENVELOPE_CLOSE}")))
        .map(|s| Ok::<_, std::io::Error>(Bytes::from(s)));
    xml_response(StatusCode::OK, Body::from_stream(futures::stream::iter(chunks)))
}

fn wait_for_updates(objects: &[LabObject], live: &Live, call: &Node, injected: Option<LabFault>) -> Response {
    let Some((_, pc)) = moref_of(call.child("_this")) else { return fault("InvalidArgument", "", "") };
    let Some(Some(spec)) = live.collectors.get(&pc) else {
        return fault(
            "ManagedObjectNotFound",
            "The object has already been deleted or has not been completely created",
            "",
        );
    };
    let version = call.text_of("version").unwrap_or_default().trim();
    if !version.is_empty() {
        if injected == Some(LabFault::ForgetVersions) || version != "1" {
            return fault("InvalidCollectorVersion", "The collector version is not valid.", "");
        }
        // Nothing ever changes in the lab: "no updates" at once instead of waiting.
        return response("WaitForUpdatesEx", "");
    }
    let (indices, specs) = select(objects, live, spec);
    let mut out =
        format!("<returnval><version>1</version><filterSet><filter type=\"PropertyFilter\">{pc}-filter</filter>");
    for i in indices {
        let o = &objects[i];
        out.push_str(&format!("<objectSet><kind>enter</kind><obj type=\"{}\">{}</obj>", o.kind, o.moid));
        for (p, val) in requested(o, &specs) {
            out.push_str(&format!("<changeSet><name>{p}</name><op>assign</op>{val}</changeSet>"));
        }
        out.push_str("</objectSet>");
    }
    out.push_str("</filterSet><truncated>false</truncated></returnval>");
    response("WaitForUpdatesEx", &out)
}

const SERVICE_CONTENT: &str = "<returnval><rootFolder type=\"Folder\">group-d1</rootFolder>\
<propertyCollector type=\"PropertyCollector\">propertyCollector</propertyCollector>\
<viewManager type=\"ViewManager\">ViewManager</viewManager>\
<about><name>VMware vCenter Server</name><fullName>VMware vCenter Server 7.0.3 build-21958406 (EIO lab)</fullName>\
<vendor>VMware, Inc.</vendor><version>7.0.3</version><build>21958406</build><localeVersion>INTL</localeVersion>\
<localeBuild>000</localeBuild><osType>linux-x64</osType><productLineId>vpx</productLineId><apiType>VirtualCenter</apiType>\
<apiVersion>7.0.3.0</apiVersion><instanceUuid>5e0b5b9a-1ab1-4c1e-9c7e-000000e10ab0</instanceUuid>\
<licenseProductName>VMware VirtualCenter Server</licenseProductName><licenseProductVersion>7.0</licenseProductVersion></about>\
<setting type=\"OptionManager\">VpxSettings</setting><userDirectory type=\"UserDirectory\">UserDirectory</userDirectory>\
<sessionManager type=\"SessionManager\">SessionManager</sessionManager>\
<customFieldsManager type=\"CustomFieldsManager\">CustomFieldsManager</customFieldsManager>\
<taskManager type=\"TaskManager\">TaskManager</taskManager></returnval>";

/// The "billion laughs": ten levels of ten references each, never to be expanded.
const ENTITY_BOMB: &str = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n\
<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n\
<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n\
<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n\
<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n\
<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n\
<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n\
<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n\
<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n\
<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n]>\n\
<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>\
<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects><obj type=\"VirtualMachine\">vm-1</obj>\
<propSet><name>name</name><val>&lol9;</val></propSet></objects></returnval></RetrievePropertiesExResponse>\
</soapenv:Body></soapenv:Envelope>";

async fn empty_list() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"value": []}))
}
