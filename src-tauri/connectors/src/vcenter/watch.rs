//! The change stream: WaitForUpdatesEx over the same objects and paths as the full sync.
//!
//! Owns a private PropertyCollector with one filter, the version chain, `truncated`
//! batches, and turning raw property changes into whole, current records (so a folder
//! rename surfaces as a Modify of every VM whose `folder_path` changed). It must never
//! paper over a lost version: that is [`VcenterError::VersionLost`], and the caller
//! resyncs fully.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::{FaultKind, VcenterError};
use super::model::{self, Kind, State};
use super::records::{Inventory, InventoryRecord};
use super::soap::{esc, MoRef, Soap};
use super::xml::Node;
use super::Session;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    /// New to us (the first batch has every object as Enter: the baseline).
    Enter,
    Modify,
    /// Gone from the inventory: mark it removed.
    Leave,
}

/// One object's change, with its whole current record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectUpdate {
    pub kind: UpdateKind,
    pub moid: String,
    /// `Datacenter`, `ClusterComputeResource`, `HostSystem`, `VirtualMachine`, `Datastore`.
    pub object_type: String,
    /// Record fields that changed (Modify only), e.g. `["power_state"]`.
    pub changed: Vec<String>,
    /// The current record (None for Leave).
    pub record: Option<InventoryRecord>,
}

/// What one WaitForUpdatesEx call brought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateBatch {
    /// The version to resume from.
    pub version: String,
    /// vCenter has more right away: call [`Watcher::next`] again.
    pub truncated: bool,
    pub changes: Vec<ObjectUpdate>,
}

/// A live change stream. Close it with [`Watcher::close`] (dropping it leaves the
/// collector to end with the session).
pub struct Watcher {
    soap: Arc<Soap>,
    collector: MoRef,
    view: MoRef,
    version: String,
    page_size: u32,
    state: State,
    /// A call failed or was dropped while it held `state`: only a full resync can
    /// rebuild what it had.
    lost_state: bool,
    emitted: HashMap<String, InventoryRecord>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("host", &self.soap.host())
            .field("version", &self.version)
            .field("objects", &self.emitted.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Start a change stream. Its first batch(es) carry every object as Enter (the
    /// baseline, consistent with what follows); later ones carry changes only.
    pub async fn watch(&self) -> Result<Watcher, VcenterError> {
        let view = self.create_view().await?;
        let node =
            self.soap.call_required("CreatePropertyCollector", &self.services.property_collector.xml("_this")).await?;
        let collector = MoRef::from_node(&node)
            .ok_or_else(|| self.soap.unexpected("CreatePropertyCollector", "the collector reference"))?;
        let spec = model::filter_spec("spec", &view, self.services.custom_fields_manager.as_ref());
        let inner = format!("{}{spec}<partialUpdates>false</partialUpdates>", collector.xml("_this"));
        self.soap.call_required("CreateFilter", &inner).await?;
        Ok(Watcher {
            soap: self.soap.clone(),
            collector,
            view,
            version: String::new(),
            page_size: self.page_size,
            state: State::with_root(&self.services.root_folder),
            lost_state: false,
            emitted: HashMap::new(),
        })
    }
}

struct Touched {
    moid: String,
    object_type: String,
    left: bool,
}

/// What one WaitForUpdatesEx answer brought, applied to the watcher's objects while it
/// is read (on the parser's thread; see [`Soap::call`]).
#[derive(Default)]
struct Gathered {
    state: State,
    new_version: Option<String>,
    truncated: bool,
    answered: bool,
    touched: Vec<Touched>,
    topology_changed: bool,
}

impl Gathered {
    fn take(&mut self, path: &[String], node: Node) -> Result<(), VcenterError> {
        self.answered = true;
        match (path.len(), node.name.as_str()) {
            (1, "version") => self.new_version = Some(node.text.trim().to_owned()),
            (1, "truncated") => self.truncated = node.text.trim() == "true",
            (2, "objectSet") => {
                if let Some(t) = apply_object_update(&mut self.state, &node, &mut self.topology_changed) {
                    self.touched.push(t);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Watcher {
    /// The version the next call resumes from ("" before the baseline).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Everything the stream has shown so far, as a full inventory.
    pub fn snapshot(&self) -> Inventory {
        self.state.inventory()
    }

    /// Wait up to `max_wait_seconds` for changes (0: just look). `Ok(None)`: nothing
    /// changed in that time. [`VcenterError::VersionLost`]: resync fully, then watch anew.
    ///
    /// The watcher's objects are with the call while it runs: after any other error, or
    /// when the call was dropped unfinished, they are incomplete, and the next call says
    /// [`VcenterError::StreamInterrupted`] (which also asks for a full resync).
    pub async fn next(&mut self, max_wait_seconds: u32) -> Result<Option<UpdateBatch>, VcenterError> {
        if self.lost_state {
            return Err(VcenterError::StreamInterrupted { host: self.soap.host().to_owned() });
        }
        // The HTTP request must outlive the server-side wait.
        let limit = self.soap.http().config().request_timeout.as_secs().saturating_sub(5);
        let wait = u64::from(max_wait_seconds).min(limit);
        let version =
            if self.version.is_empty() { String::new() } else { format!("<version>{}</version>", esc(&self.version)) };
        let inner = format!(
            "{}{version}<options><maxWaitSeconds>{wait}</maxWaitSeconds><maxObjectUpdates>{}</maxObjectUpdates></options>",
            self.collector.xml("_this"),
            self.page_size
        );
        let descend = |p: &[String]| p == ["returnval"] || p == ["returnval", "filterSet"];
        let gathered = Gathered { state: std::mem::take(&mut self.state), ..Gathered::default() };
        self.lost_state = true;
        let result = self.soap.call("WaitForUpdatesEx", &inner, descend, model::unread, gathered, Gathered::take).await;
        let gathered = match result {
            Ok(gathered) => gathered,
            Err(VcenterError::Fault { fault, host, .. }) if fault.kind == FaultKind::InvalidCollectorVersion => {
                return Err(VcenterError::VersionLost { host, version: self.version.clone() });
            }
            Err(e) => return Err(e),
        };
        let Gathered { state, new_version, truncated, answered, touched, topology_changed } = gathered;
        self.state = state;
        self.lost_state = false;
        if !answered {
            return Ok(None);
        }
        let version = new_version.ok_or_else(|| self.soap.unexpected("WaitForUpdatesEx", "the new version"))?;
        self.version = version.clone();
        let changes = self.diff(&touched, topology_changed);
        Ok(Some(UpdateBatch { version, truncated, changes }))
    }

    /// Compare current records with what was last reported.
    fn diff(&mut self, touched: &[Touched], topology_changed: bool) -> Vec<ObjectUpdate> {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for t in touched {
            if !seen.insert(&t.moid) {
                continue;
            }
            if t.left {
                if self.emitted.remove(&t.moid).is_some() {
                    out.push(ObjectUpdate {
                        kind: UpdateKind::Leave,
                        moid: t.moid.clone(),
                        object_type: t.object_type.clone(),
                        changed: Vec::new(),
                        record: None,
                    });
                }
                continue;
            }
            out.extend(self.compare(&t.moid, &t.object_type));
        }
        if topology_changed {
            for id in self.state.record_ids() {
                if !seen.contains(id.as_str()) {
                    let object_type = object_type_of(self.emitted.get(&id), &self.state, &id);
                    out.extend(self.compare(&id, &object_type));
                }
            }
        }
        out
    }

    fn compare(&mut self, moid: &str, object_type: &str) -> Option<ObjectUpdate> {
        let record = self.state.record(moid)?;
        let (kind, changed) = match self.emitted.get(moid) {
            None => (UpdateKind::Enter, Vec::new()),
            Some(old) if *old == record => return None,
            Some(old) => (UpdateKind::Modify, changed_fields(old, &record)),
        };
        self.emitted.insert(moid.to_owned(), record.clone());
        Some(ObjectUpdate {
            kind,
            moid: moid.to_owned(),
            object_type: object_type.to_owned(),
            changed,
            record: Some(record),
        })
    }

    /// Destroy the collector (and its filter) and the view.
    pub async fn close(self) -> Result<(), VcenterError> {
        self.soap.call_returnval("DestroyPropertyCollector", &self.collector.xml("_this")).await?;
        self.soap.call_returnval("DestroyView", &self.view.xml("_this")).await?;
        Ok(())
    }
}

fn object_type_of(record: Option<&InventoryRecord>, state: &State, id: &str) -> String {
    let from_state = || {
        if state.vms.contains_key(id) {
            return "VirtualMachine";
        }
        if state.datastores.contains_key(id) {
            return "Datastore";
        }
        match state.places.get(id).map(|p| p.kind) {
            Some(Kind::Datacenter) => "Datacenter",
            Some(Kind::Cluster) => "ClusterComputeResource",
            _ => "HostSystem",
        }
    };
    match record {
        Some(InventoryRecord::Vm(_)) => "VirtualMachine",
        Some(InventoryRecord::Host(_)) => "HostSystem",
        Some(InventoryRecord::Cluster(_)) => "ClusterComputeResource",
        Some(InventoryRecord::Datacenter(_)) => "Datacenter",
        Some(InventoryRecord::Datastore(_)) => "Datastore",
        None => from_state(),
    }
    .to_owned()
}

/// Apply one `ObjectUpdate` element (`kind`, `obj`, `changeSet*`).
fn apply_object_update(state: &mut State, node: &Node, topology_changed: &mut bool) -> Option<Touched> {
    let obj = node.child("obj").and_then(MoRef::from_node)?;
    let kind = node.text_of("kind").unwrap_or_default().trim();
    let object_kind = Kind::of(&obj.kind);
    let left = kind == "leave";
    if left {
        state.leave(&obj);
        *topology_changed |= object_kind.is_topology();
    } else {
        if kind == "enter" {
            state.enter(&obj);
            *topology_changed |= object_kind.is_topology();
        }
        for change in node.children_named("changeSet") {
            let Some(name) = change.text_of("name").map(str::trim) else { continue };
            let op = change.text_of("op").unwrap_or("assign").trim();
            let val = if matches!(op, "remove" | "indirectRemove") { None } else { change.child("val") };
            state.set(&obj, name, val);
            if matches!(name, "name" | "parent" | "field") && object_kind.is_topology() {
                *topology_changed = true;
            }
        }
    }
    Some(Touched { moid: obj.value, object_type: obj.kind, left })
}

/// Names of the top-level record fields that differ.
fn changed_fields(old: &InventoryRecord, new: &InventoryRecord) -> Vec<String> {
    let (Ok(a), Ok(b)) = (serde_json::to_value(old), serde_json::to_value(new)) else { return Vec::new() };
    let (Some(a), Some(b)) = (a.get("record").and_then(|r| r.as_object()), b.get("record").and_then(|r| r.as_object()))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}
