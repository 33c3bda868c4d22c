//! # vcenter — a vSphere SOAP endpoint for what vcsim lacks
//!
//! Owns a small vCenter over real HTTPS ([`crate::tls`]): RetrieveServiceContent, Login,
//! Logout, CreateContainerView, DestroyView, RetrievePropertiesEx with real `maxObjects`
//! paging, ContinueRetrievePropertiesEx (vcsim ignores `maxObjects`) and TraversalSpecs, a
//! change stream (CreatePropertyCollector, CreateFilter, WaitForUpdatesEx with versions that
//! report every property the lab's actions change), and injected faults ([`LabFault`]): a
//! slow answer, a truncated page, a SOAP fault on a Continue call, an entity bomb, an
//! oversized answer, a forgotten change version. A bad password is simply a wrong password
//! ([`LabVcenter::username`] / [`LabVcenter::password`]); a wrong certificate is a client
//! pinning another thumbprint.
//!
//! The actions orchestration needs behave as vCenter's do ([`world`]): EnterMaintenanceMode_Task
//! with DRS evacuation that a blocked VM ([`LabVcenter::block_vm`]) holds up — the task stays
//! running and the cluster's `drsFault` says why — ExitMaintenanceMode_Task, RebootHost_Task
//! (the host goes `notResponding`, then reconnects), ShutdownGuest, power and suspend tasks,
//! RelocateVM_Task/MigrateVM_Task, CancelTask, tasks with rising progress and timeouts, and
//! injected failures per method and object ([`LabFailure`]). Every state-changing call is in
//! the ledger ([`LabVcenter::actions`]) so a test can prove nothing was done twice, and a test
//! can hold the answer to one it chose after the lab acted on it ([`LabVcenter::set_tap`]).
//! Time moves by ticks ([`Pace`]): by default one per read, so polling clients see progress
//! without any test sleeping.
//!
//! It speaks vCenter's own spelling (`xsi:type`, `<obj type="…">`, faults in
//! `<detail><XFault xsi:type="X">`), and `lab/tests/vcenter_lab.rs` compares its pages with
//! vcsim's so it cannot drift into a dialect. It must never be used by production code,
//! and never pretends to more than it implements: any other method is a `NotSupported`
//! fault.
//!
//! This file is the endpoint: the [`LabVcenter`] handle tests drive, SOAP parsing, sessions
//! and the dispatch of every method. `collector` selects objects and renders
//! RetrievePropertiesEx pages, `updates` answers WaitForUpdatesEx, [`world`] is the
//! simulation the actions change and [`model`] the inventory it starts from.
mod collector;
pub mod model;
mod updates;
pub mod world;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use eio_connectors::http::Thumbprint;
use eio_connectors::vcenter::xml::{parse_document, Node};

use crate::tap::{CallTap, TapCell};
use crate::tls::HttpsServer;
use collector::{oversized, page_answer, select};
pub use model::{LabModel, LabObject};
use updates::wait_for_updates;
use world::World;
pub use world::{Downtime, LabAction, LabBlock, LabFailure, LabHostView, LabTaskState, LabTaskView, Pace};

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

struct Live {
    world: World,
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
    username: String,
    password: String,
    live: Mutex<Live>,
    /// Woken whenever the world may have changed (WaitForUpdatesEx waits on it).
    changed: tokio::sync::Notify,
    /// Calls whose answer a test holds ([`LabVcenter::set_tap`]).
    tap: TapCell,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running lab vCenter. Stops when dropped.
pub struct LabVcenter {
    pub server: HttpsServer,
    /// `https://127.0.0.1:PORT/sdk`
    pub sdk_url: String,
    pub thumbprint: Thumbprint,
    pub model: LabModel,
    shared: Arc<Shared>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for LabVcenter {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

impl LabVcenter {
    /// Serve `model` on a free loopback port with a fresh certificate.
    pub async fn start(model: LabModel) -> std::io::Result<LabVcenter> {
        let (objects, topology) = model::build_with_topology(&model);
        LabVcenter::start_built(model, objects, topology, 0, None).await
    }

    /// Serve an inventory built (and reshaped, e.g. by [`crate::estate`]) from `model` on
    /// loopback `port` (0: any free) with `cert` (None: a fresh one).
    pub(crate) async fn start_built(
        model: LabModel,
        objects: Vec<LabObject>,
        topology: model::Topology,
        port: u16,
        cert: Option<&crate::tls::LabCert>,
    ) -> std::io::Result<LabVcenter> {
        let shared = Arc::new(Shared {
            username: "administrator@vsphere.local".into(),
            password: "Lab-vCenter-1!".into(),
            live: Mutex::new(Live {
                world: World::new(objects, topology),
                sessions: HashSet::new(),
                views: HashMap::new(),
                pages: HashMap::new(),
                collectors: HashMap::new(),
                fault: None,
                calls: Vec::new(),
                next_id: 0,
            }),
            changed: tokio::sync::Notify::new(),
            tap: TapCell::default(),
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
        let server = crate::tls::serve_https_at(router, port, cert).await?;
        Ok(LabVcenter {
            sdk_url: format!("{}/sdk", server.base_url),
            thumbprint: server.thumbprint,
            server,
            model,
            shared,
            ticker: Mutex::new(None),
        })
    }

    pub fn username(&self) -> &str {
        &self.shared.username
    }

    pub fn password(&self) -> &str {
        &self.shared.password
    }

    /// Every inventory object the lab serves (folders, datacenters, compute resources,
    /// hosts, VMs, networks, custom fields, datastores; not tasks), as they are now: to
    /// compare a client's inventory with.
    pub fn objects(&self) -> Vec<LabObject> {
        self.live().world.inventory_objects()
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
        self.shared.lock()
    }

    /// Change the world, then wake change-stream waiters.
    fn change<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let out = f(&mut self.live().world);
        self.shared.changed.notify_waiters();
        out
    }

    // ----- time ----------------------------------------------------------------------

    /// How the lab's clock advances (default: one tick per RetrievePropertiesEx or
    /// WaitForUpdatesEx). `Pace::Every` ticks on a background task until the pace changes
    /// or the lab is dropped.
    pub fn set_pace(&self, pace: Pace) {
        let mut ticker = self.ticker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = ticker.take() {
            t.abort();
        }
        self.live().world.pace = pace;
        if let Pace::Every(every) = pace {
            let weak: Weak<Shared> = Arc::downgrade(&self.shared);
            *ticker = Some(tokio::spawn(async move {
                let mut interval = tokio::time::interval(every.max(Duration::from_millis(1)));
                interval.tick().await;
                loop {
                    interval.tick().await;
                    let Some(shared) = weak.upgrade() else { return };
                    shared.lock().world.tick();
                    shared.changed.notify_waiters();
                }
            }));
        }
    }

    /// Move time `ticks` steps now.
    pub fn advance(&self, ticks: u32) {
        self.change(|w| {
            for _ in 0..ticks {
                w.tick();
            }
        });
    }

    /// Ticks so far.
    pub fn ticks(&self) -> u64 {
        self.live().world.ticks
    }

    // ----- knobs ---------------------------------------------------------------------

    /// Steps (ticks) a task of `method` takes (`PowerOffVM_Task`, `RebootHost_Task`, …;
    /// default 1; 0: done before the call is answered, as vcsim does). Evacuations take one
    /// step per VM moved plus one.
    pub fn set_task_steps(&self, method: &str, steps: u32) {
        self.change(|w| w.set_task_steps(method, steps));
    }

    /// How long a rebooted host stays `notResponding` (default 3 ticks).
    pub fn set_reboot_downtime(&self, downtime: Downtime) {
        self.change(|w| w.set_reboot_downtime(downtime));
    }

    /// How long a guest takes to power off after ShutdownGuest (default 2 ticks).
    pub fn set_guest_shutdown_delay(&self, delay: Downtime) {
        self.change(|w| w.set_guest_shutdown(delay));
    }

    /// A guest that accepts ShutdownGuest and never powers off (false: behaves again).
    pub fn hang_guest(&self, vm: &str, hung: bool) -> bool {
        self.change(|w| w.set_hung_guest(vm, hung))
    }

    /// VMware Tools running or not in a VM (ShutdownGuest needs them).
    pub fn set_tools_running(&self, vm: &str, running: bool) -> bool {
        self.change(|w| w.set_tools_running(vm, running))
    }

    /// Make DRS unable (or unwilling) to move `vm`, for `reason` (the message vCenter
    /// reports; empty: vCenter's stock text). The VM's configuration changes to match
    /// (local datastore, passthrough device, VM/Host rule, DRS override…), so a client's
    /// pre-checks see it too. False when the VM does not exist.
    pub fn block_vm(&self, vm: &str, block: LabBlock, reason: &str) -> bool {
        self.change(|w| w.block_vm(vm, Some((block, reason.to_owned()))))
    }

    /// Undo [`LabVcenter::block_vm`].
    pub fn unblock_vm(&self, vm: &str) -> bool {
        self.change(|w| w.block_vm(vm, None))
    }

    /// A cluster's DRS: enabled or not, and its default automation level (`fullyAutomated`,
    /// `partiallyAutomated`, `manual`).
    pub fn set_cluster_drs(&self, cluster: &str, enabled: bool, behavior: &str) -> bool {
        self.change(|w| w.set_cluster_drs(cluster, enabled, behavior))
    }

    /// Hold the answer to every call `tap` wants until the test lets it go: the lab acts on
    /// the call (it is in the ledger and has taken effect), then waits (None: answer at once
    /// again). See [`crate::tap`].
    pub fn set_tap(&self, tap: Option<CallTap>) {
        self.shared.tap.set(tap);
    }

    /// Fail matching state-changing calls (see [`LabFailure`]).
    pub fn fail(&self, failure: LabFailure) {
        self.change(|w| w.add_failure(failure));
    }

    pub fn clear_failures(&self) {
        self.change(|w| w.clear_failures());
    }

    /// Purge a task, as vCenter does some time after it ended: it becomes unknown
    /// (ManagedObjectNotFound).
    pub fn forget_task(&self, task: &str) -> bool {
        self.change(|w| w.forget_task(task))
    }

    // ----- what happened -------------------------------------------------------------

    /// Every state-changing call so far (accepted or refused), in order.
    pub fn actions(&self) -> Vec<LabAction> {
        self.live().world.actions()
    }

    /// Accepted calls of `method` on `target`.
    pub fn action_count(&self, method: &str, target: &str) -> usize {
        self.actions().iter().filter(|a| a.method == method && a.target == target && a.refused.is_none()).count()
    }

    /// Every call of `method` on `target` the simulator received, refused or not: a duplicate
    /// it turned away is still a duplicate (what the crash harness counts).
    pub fn call_count(&self, method: &str, target: &str) -> usize {
        self.actions().iter().filter(|a| a.method == method && a.target == target).count()
    }

    pub fn task(&self, task: &str) -> Option<LabTaskView> {
        self.live().world.task_view(task)
    }

    pub fn host(&self, host: &str) -> Option<LabHostView> {
        self.live().world.host_view(host)
    }

    /// The host a VM is registered on.
    pub fn vm_host(&self, vm: &str) -> Option<String> {
        self.live().world.vm_host(vm)
    }

    /// `poweredOn`, `poweredOff` or `suspended`.
    pub fn vm_power(&self, vm: &str) -> Option<&'static str> {
        self.live().world.vm_power(vm)
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
    Some((n.mo_type.as_deref()?.to_owned(), n.text.trim().to_owned()))
}

/// Is an object of type `kind` an instance of `of` (subtypes included)?
pub(crate) fn is_a(kind: &str, of: &str) -> bool {
    kind == of
        || (of == "ManagedEntity" && kind != "Task")
        || (of == "ComputeResource" && kind == "ClusterComputeResource")
        || (of == "Network" && matches!(kind, "DistributedVirtualPortgroup" | "OpaqueNetwork"))
}

/// Methods that change the world: answered by [`World::act`] and written to the ledger.
const ACTIONS: &[&str] = &[
    "EnterMaintenanceMode_Task",
    "ExitMaintenanceMode_Task",
    "RebootHost_Task",
    "ShutdownGuest",
    "PowerOffVM_Task",
    "PowerOnVM_Task",
    "SuspendVM_Task",
    "RelocateVM_Task",
    "MigrateVM_Task",
    "CancelTask",
];

async fn sdk(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(doc) = parse_document(&body) else {
        return fault("InvalidRequest", "the request is not a SOAP envelope", "");
    };
    let Some(call) = doc.child("Body").and_then(|b| b.children.first()).cloned() else {
        return fault("InvalidRequest", "empty SOAP body", "");
    };
    let method = call.name.clone();
    let session = session_of(&headers);
    let (injected, authenticated) = {
        let mut live = shared.lock();
        live.calls.push(method.to_string());
        let authenticated = session.as_ref().is_some_and(|s| live.sessions.contains(s));
        (live.fault.clone(), authenticated)
    };
    if let (true, Some(LabFault::SlowRetrieve(d))) = (method == "RetrievePropertiesEx", &injected) {
        tokio::time::sleep(*d).await;
    }
    if method == "WaitForUpdatesEx" && authenticated {
        return wait_for_updates(&shared, &call, injected).await;
    }
    // With a tap armed for this method: where the ledger stood before the call acted.
    let tapped = shared.tap.get().filter(|t| t.wants(&method)).map(|t| (t, shared.lock().world.ledger_len()));
    let response = answer(&shared, &call, session, authenticated, injected);
    shared.changed.notify_waiters();
    if let Some((tap, before)) = tapped {
        // The call is in the ledger and has taken effect; its answer waits for the test.
        let acted = shared.lock().world.actions_since(before).into_iter().find(|a| a.method == method);
        if let Some(a) = acted {
            tap.hold("vcenter".into(), a.method, a.target, a.task, a.refused).await;
        }
    }
    response
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
    let mut live = shared.lock();
    live.world.check_deadlines();
    if ACTIONS.contains(&method.as_str()) {
        return match live.world.act(&method, call) {
            Ok(Some(task)) => response(&method, &format!("<returnval type=\"Task\">{task}</returnval>")),
            Ok(None) => response(&method, ""),
            Err((type_name, message)) => fault(&type_name, &message, ""),
        };
    }
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
            if let Pace::PerRead(n) = live.world.pace {
                for _ in 0..n {
                    live.world.tick();
                }
            }
            let Some(spec) = call.child("specSet") else {
                return fault("InvalidArgument", "", "<invalidProperty>specSet</invalidProperty>");
            };
            let (indices, specs) = match select(&live, spec) {
                Ok(s) => s,
                Err(missing) => return not_found(&missing),
            };
            let max = call.at(&["options", "maxObjects"]).and_then(|m| m.text.trim().parse::<usize>().ok());
            let page = max.unwrap_or(usize::MAX).max(1);
            match injected {
                Some(LabFault::EntityBomb) => return xml_response(StatusCode::OK, ENTITY_BOMB),
                Some(LabFault::Oversized(bytes)) => return oversized(&live.world.objects, &specs, bytes),
                _ => {}
            }
            let answer = page_answer(&mut live, indices, specs, page);
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
            let answer = page_answer(&mut live, pending.rest, pending.specs, pending.page);
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
        other => fault("NotSupported", &format!("the lab vCenter does not implement {other}"), ""),
    }
}

fn not_found(what: &str) -> Response {
    fault(
        "ManagedObjectNotFound",
        "The object has already been deleted or has not been completely created",
        &format!(
            "<obj type=\"{}\">{}</obj>",
            what.split(':').next().unwrap_or_default(),
            what.split(':').nth(1).unwrap_or_default()
        ),
    )
}

fn login(shared: &Shared, call: &Node) -> Response {
    let user = call.text_of("userName").unwrap_or_default();
    let pass = call.text_of("password").unwrap_or_default();
    if user != shared.username || pass != shared.password {
        return fault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.", "");
    }
    let key = uuid::Uuid::new_v4().to_string();
    shared.lock().sessions.insert(key.clone());
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
