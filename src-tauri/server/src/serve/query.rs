//! GET operations take their input from the query string. The convention, read off each
//! input type's JSON Schema so it can't disagree with the types:
//!
//! * one parameter per field of the input, named as the field (`?q=web&site=DC1`);
//! * numbers in decimal (`limit=200`), booleans as `true`/`false` (or `1`/`0`);
//! * arrays as the field repeated (`tag=a&tag=b`; `tag[]=a` is accepted too);
//! * an absent parameter is `null`/the default; an empty one is the empty string (and
//!   absent for numbers and booleans);
//! * GET inputs are flat: nested objects travel in POST bodies only (a test checks every
//!   GET operation's input against this);
//! * an unknown or repeated (non-array) parameter is refused (400), naming it.
use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The JSON type a query parameter becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Array(Box<Kind>),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub kind: Kind,
    pub required: bool,
    /// The field's schema, `null` removed (an absent parameter is the null), for OpenAPI.
    pub schema: Value,
    pub description: Option<String>,
}

/// The parameters of one GET operation, by name.
#[derive(Debug, Clone, Default)]
pub struct QueryShape {
    pub params: BTreeMap<String, Param>,
}

/// Follow `$ref`s (`#/components/schemas/X`) into `defs`.
pub fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut cur = schema;
    for _ in 0..16 {
        match cur.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()).and_then(|n| defs.get(n)) {
            Some(next) => cur = next,
            None => break,
        }
    }
    cur
}

/// The schema with `null` taken out of its type (or of its `anyOf`/`oneOf` branches).
pub fn without_null(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(Value::Array(types)) = s.get("type") {
        let rest: Vec<Value> = types.iter().filter(|t| t.as_str() != Some("null")).cloned().collect();
        if let Some(obj) = s.as_object_mut() {
            obj.insert("type".into(), if rest.len() == 1 { rest[0].clone() } else { Value::Array(rest) });
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            let rest: Vec<Value> =
                branches.iter().filter(|b| b.get("type").and_then(Value::as_str) != Some("null")).cloned().collect();
            if rest.len() == 1 {
                let mut only = rest[0].clone();
                if let (Some(o), Some(desc)) = (only.as_object_mut(), s.get("description").cloned()) {
                    o.entry("description").or_insert(desc);
                }
                return only;
            }
            if let Some(obj) = s.as_object_mut() {
                obj.insert(key.into(), Value::Array(rest));
            }
        }
    }
    s
}

fn kind_of(schema: &Value, defs: &Map<String, Value>) -> Option<Kind> {
    let s = resolve(&without_null(schema), defs).clone();
    let s = without_null(&s);
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            let kinds: Vec<Kind> = branches.iter().filter_map(|b| kind_of(b, defs)).collect();
            return match kinds.first() {
                Some(k) if kinds.iter().all(|x| x == k) => Some(k.clone()),
                _ => None,
            };
        }
    }
    match s.get("type").and_then(Value::as_str) {
        Some("string") => Some(Kind::String),
        Some("integer") => Some(Kind::Integer),
        Some("number") => Some(Kind::Number),
        Some("boolean") => Some(Kind::Boolean),
        Some("array") => match kind_of(s.get("items")?, defs)? {
            Kind::Array(_) => None,
            item => Some(Kind::Array(Box::new(item))),
        },
        Some(_) => None,
        None if s.get("enum").is_some() || s.get("const").and_then(Value::as_str).is_some() => Some(Kind::String),
        None => None,
    }
}

/// The query parameters an input schema allows. Fails, naming the field, when the input
/// isn't flat (a field that is an object).
pub fn shape(input: &Value, defs: &Map<String, Value>) -> Result<QueryShape, String> {
    let s = resolve(input, defs);
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut params = BTreeMap::new();
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let kind =
                kind_of(prop, defs).ok_or_else(|| format!("field \"{name}\" is not a scalar or a list of scalars"))?;
            params.insert(
                name.clone(),
                Param {
                    kind,
                    required: required.contains(&name.as_str()),
                    schema: without_null(prop),
                    description: prop.get("description").and_then(Value::as_str).map(str::to_owned),
                },
            );
        }
    }
    Ok(QueryShape { params })
}

fn scalar(kind: &Kind, name: &str, raw: &str) -> Result<Option<Value>, String> {
    let bad = |what: &str| {
        format!("query parameter \"{name}\" must be {what} (got \"{}\")", raw.chars().take(40).collect::<String>())
    };
    Ok(match kind {
        Kind::String => Some(Value::String(raw.to_owned())),
        _ if raw.is_empty() => None,
        Kind::Integer => Some(match raw.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(raw.parse::<u64>().map_err(|_| bad("a whole number"))?),
        }),
        Kind::Number => {
            let n: f64 = raw.parse().map_err(|_| bad("a number"))?;
            Some(Value::from(serde_json::Number::from_f64(n).ok_or_else(|| bad("a finite number"))?))
        }
        Kind::Boolean => Some(Value::Bool(match raw {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad("true or false")),
        })),
        Kind::Array(_) => return Err(format!("query parameter \"{name}\" is a list")),
    })
}

/// The JSON input of a GET operation from its query string.
pub fn parse(query: Option<&str>, shape: &QueryShape) -> Result<Value, String> {
    let mut out = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let name = key.strip_suffix("[]").unwrap_or(&key);
        let Some(param) = shape.params.get(name) else {
            let known: Vec<&str> = shape.params.keys().map(String::as_str).collect();
            return Err(if known.is_empty() {
                format!("this operation takes no query parameters (got \"{name}\")")
            } else {
                format!("unknown query parameter \"{name}\" (known: {})", known.join(", "))
            });
        };
        match &param.kind {
            Kind::Array(item) => {
                let list = out.entry(name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
                if let (Value::Array(items), Some(v)) = (list, scalar(item, name, &value)?) {
                    items.push(v);
                }
            }
            kind => {
                if out.contains_key(name) {
                    return Err(format!("query parameter \"{name}\" is given twice"));
                }
                if let Some(v) = scalar(kind, name, &value)? {
                    out.insert(name.to_owned(), v);
                }
            }
        }
    }
    for (name, p) in &shape.params {
        if p.required && !out.contains_key(name) {
            return Err(format!("query parameter \"{name}\" is required"));
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Map<String, Value> {
        json!({
            "Kind": {"type": "string", "enum": ["vms", "hosts"]},
            "Q": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string", "format": "uuid"},
                "q": {"type": ["string", "null"], "description": "search"},
                "limit": {"type": ["integer", "null"], "format": "int64"},
                "ratio": {"type": "number"},
                "dry": {"type": "boolean"},
                "tag": {"type": "array", "items": {"type": "string"}},
                "kind": {"anyOf": [{"$ref": "#/components/schemas/Kind"}, {"type": "null"}]}
            }},
            "Nested": {"type": "object", "properties": {"spec": {"type": "object"}}}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn q_shape() -> QueryShape {
        shape(&json!({"$ref": "#/components/schemas/Q"}), &defs()).unwrap()
    }

    #[test]
    fn the_convention_types_each_parameter_from_the_schema() {
        let v = parse(Some("id=7&q=web+01&limit=200&ratio=0.5&dry=true&tag=a&tag[]=b&kind=hosts"), &q_shape()).unwrap();
        assert_eq!(
            v,
            json!({"id": "7", "q": "web 01", "limit": 200, "ratio": 0.5, "dry": true, "tag": ["a", "b"], "kind": "hosts"})
        );
        // Empty numbers are absent; empty strings stay strings.
        assert_eq!(parse(Some("id=7&limit=&q="), &q_shape()).unwrap(), json!({"id": "7", "q": ""}));
        assert_eq!(q_shape().params["kind"].kind, Kind::String);
        assert_eq!(q_shape().params["q"].schema, json!({"type": "string", "description": "search"}));
        assert!(q_shape().params["id"].required);
    }

    #[test]
    fn bad_parameters_are_named() {
        let s = q_shape();
        assert!(parse(Some("id=1&limit=ten"), &s).unwrap_err().contains("\"limit\" must be a whole number"));
        assert!(parse(Some("id=1&dry=yes"), &s).unwrap_err().contains("true or false"));
        assert!(parse(Some("id=1&id=2"), &s).unwrap_err().contains("given twice"));
        assert!(parse(Some("id=1&nope=2"), &s).unwrap_err().contains("unknown query parameter \"nope\""));
        assert!(parse(None, &s).unwrap_err().contains("\"id\" is required"));
        assert!(parse(Some("id=1&ratio=NaN"), &s).is_err());
        assert!(parse(Some("x=1"), &QueryShape::default()).unwrap_err().contains("takes no query parameters"));
    }

    #[test]
    fn nested_inputs_are_not_for_query_strings() {
        let err = shape(&json!({"$ref": "#/components/schemas/Nested"}), &defs()).unwrap_err();
        assert!(err.contains("\"spec\""), "{err}");
    }
}
