//! The full sync: every datacenter, cluster, host, VM and datastore in one paged bulk read.
//!
//! Owns the paging loop (RetrievePropertiesEx, then ContinueRetrievePropertiesEx while
//! vCenter hands back a token — never trusting one unpaged answer to be complete) and the
//! warnings about properties vCenter could not give. It must never ask per object: one
//! filter over one container view covers the whole inventory.
use std::collections::BTreeSet;

use super::error::{SoapFault, VcenterError};
use super::model::{self, State};
use super::records::Inventory;
use super::soap::{esc, MoRef};
use super::xml::Node;
use super::Session;

/// At most this many distinct warnings are kept per sync.
const MAX_WARNINGS: usize = 50;

/// Distinct "property could not be read" notes.
#[derive(Debug, Default)]
pub(crate) struct Warnings(BTreeSet<String>);

impl Warnings {
    fn add(&mut self, line: String) {
        if self.0.len() < MAX_WARNINGS {
            self.0.insert(line);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0.into_iter().collect()
    }
}

/// Apply one `ObjectContent` (`obj`, `propSet*`, `missingSet*`) to the state.
pub(crate) fn apply_object_content(state: &mut State, warnings: &mut Warnings, node: &Node) {
    let Some(obj) = node.child("obj").and_then(MoRef::from_node) else { return };
    state.enter(&obj);
    for prop in node.children_named("propSet") {
        if let Some(name) = prop.text_of("name") {
            state.set(&obj, name.trim(), prop.child("val"));
        }
    }
    for missing in node.children_named("missingSet") {
        let path = missing.text_of("path").unwrap_or_default().trim();
        let why = missing.child("fault").map(SoapFault::from_localized);
        let why = why.map(|f| f.type_name).unwrap_or_else(|| "unknown reason".into());
        warnings.add(format!("{}.{path}: {why}", obj.kind));
    }
}

impl Session {
    /// A full snapshot of the inventory: datacenters, clusters, hosts (clustered and
    /// standalone), VMs and datastores, with every seed field except `tags` (see
    /// [`Session::tags`]).
    pub async fn inventory(&self) -> Result<Inventory, VcenterError> {
        let calls_before = self.soap.calls();
        let bytes_before = self.soap.bytes();
        let view = self.create_view().await?;
        let mut page = Page { state: State::with_root(&self.services.root_folder), ..Page::default() };
        let this = self.services.property_collector.xml("_this");
        let spec = model::filter_spec("specSet", &view, self.services.custom_fields_manager.as_ref());
        let first = format!("{this}{spec}<options><maxObjects>{}</maxObjects></options>", self.page_size);
        page = self.read_page("RetrievePropertiesEx", &first, page).await?;
        while let Some(t) = page.token.take() {
            let next = format!("{this}<token>{}</token>", esc(&t));
            page = self.read_page("ContinueRetrievePropertiesEx", &next, page).await?;
        }
        self.destroy_view(&view).await?;
        let mut inventory = page.state.inventory();
        inventory.soap_calls = self.soap.calls() - calls_before;
        inventory.bytes = self.soap.bytes() - bytes_before;
        inventory.warnings = page.warnings.into_vec();
        Ok(inventory)
    }

    /// Read one page into `page.state`, with the token of the next page, if any.
    async fn read_page(&self, method: &'static str, inner: &str, page: Page) -> Result<Page, VcenterError> {
        self.soap.call(method, inner, |path| path == ["returnval"], model::unread, page, Page::take).await
    }
}

/// What a full sync's pages have brought so far.
#[derive(Default)]
struct Page {
    state: State,
    warnings: Warnings,
    /// The token of the next page.
    token: Option<String>,
}

impl Page {
    fn take(&mut self, _: &[String], node: Node) -> Result<(), VcenterError> {
        match node.name.as_str() {
            "token" => self.token = Some(node.text.trim().to_owned()).filter(|t| !t.is_empty()),
            "objects" => apply_object_content(&mut self.state, &mut self.warnings, &node),
            _ => {}
        }
        Ok(())
    }
}

/// Records from one saved RetrievePropertiesEx (or Continue) answer, read by the same
/// streaming reader and property parser as a live sync: for replaying captured pages and
/// for the fuzzer. Objects are resolved among themselves only.
pub fn inventory_from_page(xml: &[u8]) -> Result<Inventory, VcenterError> {
    let mut page = Page::default();
    let method = "RetrievePropertiesEx";
    let outcome = super::xml::read_envelope(xml, |path| path == ["returnval"], model::unread, &mut |path, node| {
        page.take(path, node)
    });
    let host = "(saved page)".to_owned();
    match outcome {
        Err(reason) => return Err(VcenterError::Malformed { host, method, reason }),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(super::xml::Outcome::Fault(f))) => {
            return Err(VcenterError::Fault { host, method, fault: Box::new(SoapFault::from_envelope_fault(&f)) })
        }
        Ok(Ok(_)) => {}
    }
    let mut inventory = page.state.inventory();
    inventory.warnings = page.warnings.into_vec();
    Ok(inventory)
}
