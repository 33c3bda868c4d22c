//! The streaming SOAP reader: turns a vSphere response, while it arrives, into a sequence
//! of small trees — one per unit of work (an `objects` element of a RetrievePropertiesEx
//! page, an `objectSet` of an update, a whole `returnval` of a small answer).
//!
//! The reader is synchronous (any [`BufRead`]): quick-xml's async reader costs nearly twice
//! the CPU per event, so [`super::soap`] feeds it on a blocking thread instead.
//!
//! Owns: the envelope walk, SOAP faults, entity/character references, and the limits that
//! keep a hostile document harmless (depth, no DTD). It must never hold a whole response:
//! only the tree of the unit being read exists at any time, so an 18 MB page costs one
//! object's worth of memory. It must never expand an entity: a `<!DOCTYPE` (and with it
//! any `<!ENTITY`) is refused outright, and a reference to anything but the five XML
//! built-ins or a character reference is an error.
//!
//! Namespaces are matched by local name. The one attribute that needs its namespace is
//! `xsi:type`; vCenter spells it `xsi:type`, vcsim `XMLSchema-instance:type`, so any
//! *prefixed* `type` attribute is taken as the xsi type and the unprefixed `type` is the
//! managed object type of a `ManagedObjectReference`.
use std::fmt;
use std::io::BufRead;

use compact_str::CompactString;
use quick_xml::events::{BytesStart, Event};

/// Deepest element nesting accepted (a deep snapshot tree needs ~100; more is an attack).
pub const MAX_DEPTH: usize = 256;

/// One element and everything inside it.
///
/// Names and texts are [`CompactString`]s: up to 24 bytes (every vSphere element name,
/// most values: moids, numbers, states) live inline, so a 10k-VM page is read without the
/// two heap allocations per element a `String` costs (about a fifth of the parse's CPU).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Local name (no prefix).
    pub name: CompactString,
    /// The `xsi:type` attribute, without its prefix's namespace (e.g. `ArrayOfGuestNicInfo`).
    pub xsi_type: Option<CompactString>,
    /// The unprefixed `type` attribute: the type of a ManagedObjectReference.
    pub mo_type: Option<CompactString>,
    /// Text content (entity and character references resolved).
    pub text: CompactString,
    pub children: Vec<Node>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Node");
        d.field("name", &self.name);
        if let Some(t) = &self.xsi_type {
            d.field("xsi_type", t);
        }
        if let Some(t) = &self.mo_type {
            d.field("mo_type", t);
        }
        if !self.text.is_empty() {
            d.field("text", &self.text);
        }
        if !self.children.is_empty() {
            d.field("children", &self.children);
        }
        d.finish()
    }
}

impl Node {
    pub fn new(name: impl Into<CompactString>) -> Self {
        Node { name: name.into(), ..Default::default() }
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child called `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Follow a path of child names (`["deviceInfo", "label"]`).
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut cur = self;
        for p in path {
            cur = cur.child(p)?;
        }
        Some(cur)
    }

    /// Number of elements in this tree (for limits and tests).
    pub fn size(&self) -> usize {
        1 + self.children.iter().map(Node::size).sum::<usize>()
    }

    /// The element structure (names and type attributes, no text), one line per element,
    /// indented by depth: what the lab's responses are compared on against vcsim's.
    pub fn shape(&self) -> String {
        let mut out = String::new();
        self.shape_into(0, &mut out);
        out
    }

    fn shape_into(&self, depth: usize, out: &mut String) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&self.name);
        if let Some(t) = &self.xsi_type {
            out.push_str(&format!(" xsi:type={t}"));
        }
        if let Some(t) = &self.mo_type {
            out.push_str(&format!(" type={t}"));
        }
        out.push('\n');
        for c in &self.children {
            c.shape_into(depth + 1, out);
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("it declares a DTD (<!DOCTYPE …>); DTDs and entity declarations are refused, never expanded")]
    Dtd,
    #[error("it references the entity &{0}; which is not one of XML's five built-ins; entities are never expanded")]
    Entity(String),
    #[error("its elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("it ended before the document was complete (truncated)")]
    Truncated,
    #[error("it is not a SOAP envelope (found <{0}>)")]
    NotSoap(String),
    #[error("it is not well-formed XML: {0}")]
    Syntax(String),
    #[error("reading it failed: {0}")]
    Io(String),
}

/// What the body of an envelope turned out to be.
#[derive(Debug)]
pub enum Outcome {
    /// A normal response; its units were handed to the sink. `name` is the response
    /// element (e.g. `RetrievePropertiesExResponse`).
    Response { name: String },
    /// A `soapenv:Fault`, as a tree (`faultcode`, `faultstring`, `detail`).
    Fault(Node),
}

/// Decides which elements of a response are walked into rather than handed over as a
/// whole. `path` is relative to the response element (`["returnval"]`,
/// `["returnval", "filterSet"]`).
pub type Descend = fn(&[String]) -> bool;

/// Elements (by local name) that are dropped with everything inside them while a unit is
/// built: what no reader looks at, so a page's bulk (device details) costs no memory.
pub type Ignore = fn(&str) -> bool;

/// Keep every element.
pub fn keep_all(_: &str) -> bool {
    false
}

/// Receives each complete unit with the path of its parent (relative to the response).
pub type Sink<'a, E> = &'a mut dyn FnMut(&[String], Node) -> Result<(), E>;

/// Read a SOAP envelope from `reader`, handing each unit to `sink` with the path of its
/// parent (relative to the response element) as soon as the unit is complete.
pub fn read_envelope<R, E>(
    reader: R,
    descend: Descend,
    ignore: Ignore,
    sink: Sink<'_, E>,
) -> Result<Result<Outcome, E>, XmlError>
where
    R: BufRead,
{
    let mut xml = quick_xml::Reader::from_reader(reader);
    {
        let c = xml.config_mut();
        c.check_end_names = true;
        c.trim_text(false);
        c.expand_empty_elements = false;
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    // Elements walked into: Envelope, Body, the response element, then `descend` ones.
    let mut path: Vec<String> = Vec::new();
    // The unit being built, innermost last.
    let mut stack: Vec<Node> = Vec::new();
    let mut response: Option<String> = None;
    let mut fault: Option<Node> = None;
    let mut finished = false;
    // Depth inside an ignored element (0: not ignoring).
    let mut ignoring = 0usize;

    loop {
        buf.clear();
        let event = xml.read_event_into(&mut buf).map_err(map_err)?;
        if ignoring > 0 {
            match &event {
                Event::Start(_) => {
                    if path.len() + stack.len() + ignoring >= MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                    ignoring += 1;
                }
                Event::End(_) => ignoring -= 1,
                Event::GeneralRef(r) if !r.is_char_ref() && !is_builtin(r) => {
                    return Err(XmlError::Entity(truncate(r, 40)))
                }
                Event::DocType(_) => return Err(XmlError::Dtd),
                Event::Eof => return Err(XmlError::Truncated),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(start) | Event::Empty(start) if finished => {
                return Err(XmlError::Syntax(format!("unexpected <{}> after the envelope", local(&start))));
            }
            Event::Start(start) => {
                if path.len() + stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                if !stack.is_empty() && ignore(start.local_name().as_ref()) {
                    ignoring = 1;
                    continue;
                }
                let node = open(&start)?;
                if !stack.is_empty() {
                    stack.push(node);
                    continue;
                }
                match path.len() {
                    0 if node.name == "Envelope" => path.push(node.name.into()),
                    0 => return Err(XmlError::NotSoap(node.name.into())),
                    1 if node.name == "Header" => {
                        // Nothing in a header matters to us; read it as a unit and drop it.
                        stack.push(node);
                    }
                    1 if node.name == "Body" => path.push(node.name.into()),
                    1 => return Err(XmlError::NotSoap(node.name.into())),
                    2 if node.name == "Fault" => stack.push(node),
                    2 => {
                        response = Some(node.name.to_string());
                        path.push(node.name.into());
                    }
                    _ => {
                        let mut rel: Vec<String> = path[3..].to_vec();
                        rel.push(node.name.to_string());
                        if descend(&rel) {
                            path.push(node.name.into());
                        } else {
                            stack.push(node);
                        }
                    }
                }
            }
            Event::Empty(start) => {
                if !stack.is_empty() && ignore(start.local_name().as_ref()) {
                    continue;
                }
                let node = open(&start)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                    continue;
                }
                match path.len() {
                    0 => return Err(XmlError::NotSoap(node.name.into())),
                    1 if node.name == "Header" || node.name == "Body" => {}
                    1 => return Err(XmlError::NotSoap(node.name.into())),
                    2 if node.name == "Fault" => fault = Some(node),
                    2 => response = Some(node.name.into()),
                    _ => {
                        if let Err(e) = sink(&path[3..], node) {
                            return Ok(Err(e));
                        }
                    }
                }
            }
            Event::End(_) => {
                if let Some(done) = stack.pop() {
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(done);
                    } else if path.len() == 2 && done.name == "Fault" {
                        fault = Some(done);
                    } else if path.len() >= 3 {
                        if let Err(e) = sink(&path[3..], done) {
                            return Ok(Err(e));
                        }
                    }
                    // else: a Header, dropped.
                } else if path.pop().is_some() && path.is_empty() {
                    finished = true;
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t);
                }
            }
            Event::CData(c) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => return Err(XmlError::Syntax(format!("invalid character reference &{};", &*r))),
                    }
                } else {
                    match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError::Entity(truncate(other, 40))),
                    }
                };
                if let Some(n) = stack.last_mut() {
                    n.text.push(ch);
                }
            }
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !finished {
                    return Err(XmlError::Truncated);
                }
                break;
            }
        }
    }
    if let Some(f) = fault {
        return Ok(Ok(Outcome::Fault(f)));
    }
    match response {
        Some(name) => Ok(Ok(Outcome::Response { name })),
        None => Err(XmlError::NotSoap("an empty Body".into())),
    }
}

/// Read a whole (small) document into one tree: for requests the lab receives, faults in
/// tests, and the fuzzer. The same reader and limits as [`read_envelope`].
pub fn parse_document(bytes: &[u8]) -> Result<Node, XmlError> {
    let mut xml = quick_xml::Reader::from_reader(bytes);
    xml.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut stack: Vec<Node> = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).map_err(map_err)? {
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(open(&s)?);
            }
            Event::Empty(s) => {
                let node = open(&s)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(p) => p.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t);
                }
            }
            Event::CData(c) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        _ => return Err(XmlError::Syntax(format!("invalid character reference &{};", &*r))),
                    }
                } else {
                    match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError::Entity(truncate(other, 40))),
                    }
                };
                if let Some(n) = stack.last_mut() {
                    n.text.push(ch);
                }
            }
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return Err(XmlError::Truncated),
        }
    }
}

fn is_builtin(r: &str) -> bool {
    matches!(r, "lt" | "gt" | "amp" | "apos" | "quot")
}

fn local(start: &BytesStart<'_>) -> CompactString {
    CompactString::from(start.local_name().as_ref())
}

fn open(start: &BytesStart<'_>) -> Result<Node, XmlError> {
    let mut node = Node::new(local(start));
    // No duplicate check: a repeated attribute is harmless here (the last `type` wins).
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|e| XmlError::Syntax(e.to_string()))?;
        if attr.key.local_name().as_ref() != "type" {
            continue;
        }
        let value = match attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
            Ok(v) => CompactString::from(v.as_ref()),
            Err(quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name))) => {
                return Err(XmlError::Entity(truncate(&name, 40)))
            }
            Err(e) => return Err(XmlError::Syntax(e.to_string())),
        };
        if attr.key.prefix().is_some() {
            // `xsd:string` → keep as is; `vim25:HostSystem` style prefixes are not used by
            // vSphere for xsi types of its own classes.
            node.xsi_type = Some(value);
        } else {
            node.mo_type = Some(value);
        }
    }
    Ok(node)
}

fn map_err(e: quick_xml::Error) -> XmlError {
    match e {
        quick_xml::Error::Io(io) => XmlError::Io(io.to_string()),
        quick_xml::Error::Syntax(s) => {
            let text = s.to_string();
            if text.contains("unexpected end") || text.contains("not closed") {
                XmlError::Truncated
            } else {
                XmlError::Syntax(text)
            }
        }
        quick_xml::Error::IllFormed(quick_xml::errors::IllFormedError::MissingEndTag(_)) => XmlError::Truncated,
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            XmlError::Entity(truncate(&name, 40))
        }
        other => XmlError::Syntax(other.to_string()),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Units = Vec<(Vec<String>, Node)>;

    fn units(doc: &str, descend: Descend) -> Result<(Outcome, Units), XmlError> {
        let mut got = Vec::new();
        let out = read_envelope::<_, ()>(doc.as_bytes(), descend, keep_all, &mut |p, n| {
            got.push((p.to_vec(), n));
            Ok(())
        })?;
        Ok((out.unwrap(), got))
    }

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>7</token>
<objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">a &amp; b&#33;</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-2</obj></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn hands_over_one_object_at_a_time() {
        let (out, got) = units(PAGE, |p| p == ["returnval"]).unwrap();
        assert!(matches!(out, Outcome::Response { name } if name == "RetrievePropertiesExResponse"));
        let names: Vec<&str> = got.iter().map(|(_, n)| n.name.as_str()).collect();
        assert_eq!(names, ["token", "objects", "objects"]);
        assert_eq!(got[0].0, ["returnval"]);
        let obj = &got[1].1;
        assert_eq!(obj.child("obj").unwrap().mo_type.as_deref(), Some("VirtualMachine"));
        let val = obj.at(&["propSet", "val"]).unwrap();
        assert_eq!(val.text, "a & b!");
        assert_eq!(val.xsi_type.as_deref(), Some("xsd:string"));
    }

    #[test]
    fn faults_truncation_and_dtds() {
        let fault = r#"<soapenv:Envelope xmlns:soapenv="x" xmlns:xsi="y"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let (out, _) = units(fault, |_| false).unwrap();
        let Outcome::Fault(f) = out else { panic!("not a fault") };
        assert_eq!(f.text_of("faultstring"), Some("Login failure"));

        let cut = &PAGE[..PAGE.len() / 2];
        assert_eq!(units(cut, |p| p == ["returnval"]).unwrap_err(), XmlError::Truncated);

        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><R>&lol2;</R></soapenv:Body></soapenv:Envelope>"#;
        assert_eq!(units(bomb, |_| false).unwrap_err(), XmlError::Dtd);
        let undeclared = r#"<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><R><a>&lol;</a></R></soapenv:Body></soapenv:Envelope>"#;
        assert_eq!(units(undeclared, |_| false).unwrap_err(), XmlError::Entity("lol".into()));
        let deep = format!(
            "<soapenv:Envelope xmlns:soapenv=\"x\"><soapenv:Body><R>{}{}</R></soapenv:Body></soapenv:Envelope>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert_eq!(units(&deep, |_| false).unwrap_err(), XmlError::TooDeep);
        assert!(matches!(units("<html><body>502</body></html>", |_| false), Err(XmlError::NotSoap(_))));
    }

    #[test]
    fn ignored_elements_cost_nothing_but_are_still_checked() {
        let doc = r#"<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><R><returnval><a><summary>long <b>text</b></summary><key>1</key></a></returnval></R></soapenv:Body></soapenv:Envelope>"#;
        let mut got = Vec::new();
        let out = read_envelope::<_, ()>(doc.as_bytes(), |_| false, |n| n == "summary", &mut |_, n| {
            got.push(n);
            Ok(())
        });
        assert!(out.is_ok());
        assert_eq!(got[0].child("a").unwrap().children.len(), 1, "{:?}", got[0]);
        let bad = doc.replace("long", "&lol;");
        let out = read_envelope::<_, ()>(bad.as_bytes(), |_| false, |n| n == "summary", &mut |_, _| Ok(()));
        assert_eq!(out.unwrap_err(), XmlError::Entity("lol".into()));
    }

    #[test]
    fn vcsim_spelling_of_xsi_type() {
        let doc = r#"<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><R><returnval><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ManagedObjectReference" type="Folder">group-d1</val></returnval></R></soapenv:Body></soapenv:Envelope>"#;
        let (_, got) = units(doc, |_| false).unwrap();
        let val = got[0].1.child("val").unwrap();
        assert_eq!(val.xsi_type.as_deref(), Some("ManagedObjectReference"));
        assert_eq!(val.mo_type.as_deref(), Some("Folder"));
        assert_eq!(val.text, "group-d1");
    }
}
