//! A small, strict XML reader for SOAP responses: builds a tree of elements by *local* name
//! (WSMan namespaces vary between firmware versions; the element names do not), and refuses
//! what a BMC has no business sending — a DOCTYPE (and so any DTD or custom entity), entity
//! references other than XML's five, and documents nested or sized past sane limits.
use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest nesting accepted (a DCIM response is ~6 deep).
const MAX_DEPTH: usize = 64;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the XML declares a DOCTYPE; DTDs and entities are refused")]
    DocType,
    #[error("the XML uses the entity &{0}; which is not one of XML's predefined entities")]
    UnknownEntity(String),
    #[error("the XML nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("the XML is not well-formed: {0}")]
    Syntax(String),
    #[error("the XML has no root element")]
    Empty,
}

/// An element: local name, attributes (by local name), text, children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first direct child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every direct child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first descendant (depth first, self included) named `name`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `xsi:nil="true"`.
    pub fn is_nil(&self) -> bool {
        self.attribute("nil") == Some("true")
    }

    /// The trimmed text of a direct child; `None` when absent, nil or empty.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        let c = self.child(name)?;
        let t = c.text.trim();
        (!c.is_nil() && !t.is_empty()).then_some(t)
    }
}

/// Parse a whole document into its root element.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Start(start) | Event::Empty(start) if stack.len() >= MAX_DEPTH => {
                let _ = start;
                return Err(XmlError::TooDeep);
            }
            Event::Start(start) => stack.push(element_of(&start)?),
            Event::Empty(start) => {
                let el = element_of(&start)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| XmlError::Syntax("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = resolve_entity(&r)?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("the document ends inside an element".into()));
    }
    root.ok_or(XmlError::Empty)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err(XmlError::Syntax("more than one root element".into())),
    }
    Ok(())
}

fn resolve_entity(r: &quick_xml::events::BytesRef<'_>) -> Result<String, XmlError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(XmlError::Syntax(format!("invalid character reference &{};", &**r))),
        };
    }
    Ok(match &**r {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        other => return Err(XmlError::UnknownEntity(other.to_owned())),
    }
    .to_owned())
}

fn local(name: &str) -> String {
    name.to_owned()
}

fn element_of(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let mut el = Element { name: local(start.local_name().as_ref()), ..Default::default() };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Syntax(e.to_string()))?;
        let key = local(attr.key.local_name().as_ref());
        if key == "xmlns" || attr.key.as_ref().starts_with("xmlns:") {
            continue;
        }
        let raw: &str = &attr.value;
        el.attributes.push((key, unescape_attribute(raw)?));
    }
    Ok(el)
}

fn unescape_attribute(raw: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';').ok_or_else(|| XmlError::Syntax("unterminated entity in an attribute".into()))?;
        let name = &after[..end];
        out.push_str(&resolve_entity(&quick_xml::events::BytesRef::new(name))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escape text for an XML element or attribute.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_by_local_name_and_resolves_predefined_entities() {
        let doc = r#"<?xml version="1.0"?><s:Envelope xmlns:s="urn:s" xmlns:n1="urn:n"><s:Body>
            <n1:Item a="x &amp; y"><n1:Name>A &amp; B &#65;</n1:Name><n1:Nil xsi:nil="true"/></n1:Item>
            </s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let item = root.find("Item").unwrap();
        assert_eq!(item.attribute("a"), Some("x & y"));
        assert_eq!(item.text_of("Name"), Some("A & B A"));
        assert_eq!(item.text_of("Nil"), None);
    }

    #[test]
    fn refuses_dtds_and_custom_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe), Err(XmlError::DocType));
        assert!(matches!(parse("<r>&x;</r>"), Err(XmlError::UnknownEntity(e)) if e == "x"));
        assert!(matches!(parse("<r><a></r>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse(&"<a>".repeat(100)), Err(XmlError::TooDeep)));
    }
}
