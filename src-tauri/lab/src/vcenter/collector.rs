//! The property collector's reading side: which objects a PropertyFilterSpec selects
//! (ContainerViews, TraversalSpecs and SelectionSpecs followed through the lab's
//! references), which of their properties were asked for, and RetrievePropertiesEx pages
//! with `maxObjects` and a token for ContinueRetrievePropertiesEx (plus the oversized
//! answer [`super::LabFault::Oversized`] streams).
use std::collections::{HashMap, HashSet};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use eio_connectors::vcenter::xml::{parse_document, Node};

use super::world::World;
use super::{is_a, moref_of, xml_response, LabObject, Live, Pending, PropSpecs, ENVELOPE_CLOSE, ENVELOPE_OPEN};

/// The managed object references in a property value (itself, or an array's elements).
fn refs_in(val: &str) -> Vec<(String, String)> {
    let Ok(node) = parse_document(val.as_bytes()) else { return Vec::new() };
    let one = |n: &Node| n.mo_type.as_deref().map(|t| (t.to_owned(), n.text.trim().to_owned()));
    match one(&node) {
        Some(r) => vec![r],
        None => node.children.iter().filter_map(one).collect(),
    }
}

/// A TraversalSpec (or a SelectionSpec naming one) of an objectSet.
struct Traversal<'a> {
    name: Option<&'a str>,
    kind: Option<&'a str>,
    path: Option<&'a str>,
    skip: bool,
    next: Vec<&'a Node>,
}

impl<'a> Traversal<'a> {
    fn of(n: &'a Node) -> Traversal<'a> {
        Traversal {
            name: n.text_of("name").map(str::trim),
            kind: n.text_of("type").map(str::trim),
            path: n.text_of("path").map(str::trim),
            skip: n.text_of("skip").map(str::trim) == Some("true"),
            next: n.children_named("selectSet").collect(),
        }
    }
}

/// Every TraversalSpec with a name in an objectSet's tree, by name.
fn named_specs<'a>(nodes: &[&'a Node], out: &mut HashMap<&'a str, &'a Node>, depth: usize) {
    if depth > 16 {
        return;
    }
    for n in nodes {
        let t = Traversal::of(n);
        if let (Some(name), Some(_)) = (t.name, t.path) {
            out.entry(name).or_insert(n);
        }
        named_specs(&t.next, out, depth + 1);
    }
}

/// Follow `specs` from object `from`, adding what they reach (unless skipped).
fn traverse(
    world: &World,
    from: usize,
    specs: &[&Node],
    named: &HashMap<&str, &Node>,
    chosen: &mut Vec<usize>,
    seen: &mut HashSet<(usize, String)>,
) {
    for n in specs {
        let mut t = Traversal::of(n);
        if t.path.is_none() {
            // A SelectionSpec: the named TraversalSpec.
            let Some(spec) = t.name.and_then(|name| named.get(name)) else { continue };
            t = Traversal::of(spec);
        }
        let (Some(kind), Some(path)) = (t.kind, t.path) else { continue };
        let o = &world.objects[from];
        if !is_a(o.kind, kind) || !seen.insert((from, format!("{kind}.{path}"))) {
            continue;
        }
        for (ty, id) in o.prop(path).map(refs_in).unwrap_or_default() {
            let Some(i) = world.find(&ty, &id) else { continue };
            if !t.skip {
                chosen.push(i);
            }
            traverse(world, i, &t.next, named, chosen, seen);
        }
    }
}

/// The objects a PropertyFilterSpec selects (indices into the world's objects) and its
/// prop specs; `Err("Type:moid")` for an object that does not exist.
pub(super) fn select(live: &Live, spec: &Node) -> Result<(Vec<usize>, PropSpecs), String> {
    let world = &live.world;
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
            for (i, o) in world.objects.iter().enumerate() {
                if o.moid != *container
                    && !matches!(o.kind, "CustomFieldsManager" | "Task")
                    && world.find(o.kind, &o.moid) == Some(i)
                    && types.iter().any(|t| is_a(o.kind, t))
                {
                    chosen.push(i);
                }
            }
            continue;
        }
        let Some(i) = world.find(&kind, &id) else { return Err(format!("{kind}:{id}")) };
        if !skip {
            chosen.push(i);
        }
        let next: Vec<&Node> = os.children_named("selectSet").collect();
        let mut named = HashMap::new();
        named_specs(&next, &mut named, 0);
        traverse(world, i, &next, &named, &mut chosen, &mut HashSet::new());
    }
    let mut seen = HashSet::new();
    chosen.retain(|i| seen.insert(*i) && specs.iter().any(|(t, _)| is_a(world.objects[*i].kind, t)));
    Ok((chosen, specs))
}

/// The requested properties `o` has, in request order: (path, `<val…>` XML).
pub(super) fn requested<'a>(o: &'a LabObject, specs: &'a PropSpecs) -> Vec<(&'a str, &'a str)> {
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
pub(super) fn page_answer(live: &mut Live, mut indices: Vec<usize>, specs: PropSpecs, page: usize) -> String {
    let rest = if indices.len() > page { indices.split_off(page) } else { Vec::new() };
    let mut out = String::from("<returnval>");
    if !rest.is_empty() {
        live.next_id += 1;
        let token = live.next_id.to_string();
        out.push_str(&format!("<token>{token}</token>"));
        live.pages.insert(token, Pending { rest, specs: specs.clone(), page });
    }
    for i in indices {
        render_object(&live.world.objects[i], &specs, &mut out);
    }
    out.push_str("</returnval>");
    out
}

pub(super) fn oversized(objects: &[LabObject], specs: &PropSpecs, bytes: usize) -> Response {
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
