//! `/api/openapi.json`: the OpenAPI 3.1 document of the HTTP API, generated at startup
//! from the operation registry (`eio_core::api::OPERATIONS`) and the types' JSON Schemas —
//! the same source the routes and the TypeScript client come from, so none can drift.
//! The query-string shapes of the GET operations are read off the same schemas.
use std::collections::{BTreeMap, HashMap};

use eio_core::api::{self, HttpMethod, OPERATIONS};
use eio_core::error::ApiError;
use eio_core::pages::live::LiveEvent;
use eio_core::pages::session::{WebSession, WebSignIn};
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use super::query::{self, QueryShape};

/// The document, and what the router needs from it.
pub struct ApiDoc {
    pub document: Value,
    /// Query parameters of each GET operation, by operation name.
    pub query_shapes: HashMap<&'static str, QueryShape>,
}

/// Error statuses every operation may answer, with what they mean.
const ERRORS: &[(&str, &str)] = &[
    ("400", "The request is malformed: a query parameter or the JSON body can't be read."),
    ("401", "Not signed in: POST /api/session first."),
    ("403", "The database refused: the login lacks the role, capability or row rights."),
    ("404", "No such object."),
    ("409", "A uniqueness rule or the object's current state forbids it."),
    ("422", "The input is well-formed but not acceptable."),
    ("500", "Something went wrong; the details are in the server's log."),
    ("503", "The database can't be reached, or its schema doesn't match this server."),
];

fn error_responses(post: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (status, what) in ERRORS {
        out.insert((*status).into(), error_response(what));
    }
    if post {
        out.insert(
            "415".into(),
            error_response("The body must be JSON (Content-Type: application/json), even when it is empty."),
        );
    }
    out
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The area an operation belongs to, for grouping: the first path segment after /api/.
fn tag(path: &str) -> String {
    path.trim_start_matches("/api/").split('/').next().unwrap_or("api").to_owned()
}

pub fn build() -> Result<ApiDoc, String> {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    let schemas = api::operation_schemas(&mut generator);
    let session = generator.subschema_for::<WebSession>();
    let sign_in = generator.subschema_for::<WebSignIn>();
    let live = generator.subschema_for::<LiveEvent>();
    let api_error = generator.subschema_for::<ApiError>();
    let mut defs = generator.take_definitions(true);
    defs.insert(
        "ErrorBody".into(),
        json!({
            "type": "object",
            "description": "Every error: a code a script can act on and a sentence a human can read.",
            "required": ["error"],
            "properties": {"error": api_error.to_value()}
        }),
    );

    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut query_shapes = HashMap::new();
    for (op, (input, output)) in OPERATIONS.iter().zip(schemas) {
        let doc = op.doc.trim();
        let summary = doc.lines().next().unwrap_or(op.name).to_owned();
        let mut o = Map::new();
        o.insert("operationId".into(), json!(op.name));
        o.insert("summary".into(), json!(summary));
        if doc.lines().count() > 1 {
            o.insert("description".into(), json!(doc));
        }
        o.insert("tags".into(), json!([tag(op.path)]));
        // The least role the database lets through (a hint: the database decides).
        o.insert("x-eio-role".into(), json!(op.role.as_str()));
        let mut responses = error_responses(op.method == HttpMethod::Post);
        responses.insert("200".into(), ok(&summary, output.to_value()));
        o.insert("responses".into(), Value::Object(responses));
        let method = match op.method {
            HttpMethod::Get => {
                let shape = query::shape(&input.to_value(), &defs).map_err(|e| {
                    format!("GET {} ({}): {e}; GET inputs must be flat — make it a POST", op.path, op.name)
                })?;
                let params: Vec<Value> = shape
                    .params
                    .iter()
                    .map(|(name, p)| {
                        let mut v = json!({"name": name, "in": "query", "required": p.required, "schema": p.schema});
                        if let Some(d) = &p.description {
                            v["description"] = json!(d);
                        }
                        if matches!(p.kind, query::Kind::Array(_)) {
                            v["style"] = json!("form");
                            v["explode"] = json!(true);
                        }
                        v
                    })
                    .collect();
                if !params.is_empty() {
                    o.insert("parameters".into(), Value::Array(params));
                }
                query_shapes.insert(op.name, shape);
                "get"
            }
            HttpMethod::Post => {
                o.insert(
                    "requestBody".into(),
                    json!({"required": true, "content": {"application/json": {"schema": input.to_value()}}}),
                );
                "post"
            }
        };
        paths.entry(op.path.to_owned()).or_default().insert(method.into(), Value::Object(o));
    }

    let session_ok = ok("Who this browser's requests act as.", session.to_value());
    let mut sign_in_responses = error_responses(true);
    sign_in_responses.insert("200".into(), session_ok.clone());
    sign_in_responses.insert(
        "401".into(),
        error_response("Refused: the login or password is not right, or the login is not an enabled EIO user."),
    );
    sign_in_responses.insert(
        "429".into(),
        error_response("Too many failed or running sign-ins for this login or client: wait Retry-After seconds."),
    );
    paths.entry("/api/session".into()).or_default().extend([
        (
            "get".into(),
            json!({"operationId": "session_get", "summary": "Who this browser's requests act as.", "tags": ["session"],
                   "security": [], "responses": {"200": session_ok.clone()}}),
        ),
        (
            "post".into(),
            json!({"operationId": "session_sign_in", "tags": ["session"],
                   "summary": "Sign in with your own PostgreSQL login; the password is used to connect and then dropped.",
                   "security": [],
                   "requestBody": {"required": true, "content": {"application/json": {"schema": sign_in.to_value()}}},
                   "responses": sign_in_responses}),
        ),
        (
            "delete".into(),
            json!({"operationId": "session_sign_out",
                   "summary": "Sign out: the session's connections close and its event streams end.",
                   "tags": ["session"], "security": [],
                   "responses": {"200": session_ok.clone(),
                                 "403": error_response("Refused: the request came from another site's page.")}}),
        ),
    ]);
    paths.entry("/api/events".into()).or_default().insert(
        "get".into(),
        json!({
            "operationId": "events", "tags": ["session"],
            "summary": "Live updates as Server-Sent Events: one `LiveEvent` (JSON) per change, named by its kind; `ready` first.",
            "responses": {
                "200": {"description": "An endless event stream.",
                        "content": {"text/event-stream": {"schema": live.to_value()}}},
                "401": error_response("Not signed in: POST /api/session first.")
            }
        }),
    );
    paths.entry("/api/openapi.json".into()).or_default().insert(
        "get".into(),
        json!({"operationId": "openapi", "tags": ["session"], "security": [],
               "summary": "This document.",
               "responses": {"200": ok("The OpenAPI 3.1 document.", json!({"type": "object"}))}}),
    );

    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "EIO API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every operation of the EIO operation registry. GET operations take their input \
                            from the query string (one parameter per field; numbers in decimal; booleans \
                            true/false; lists as the parameter repeated), POST operations from a JSON body. \
                            Errors are {\"error\": {\"code\", \"message\"}}. Sign in with POST /api/session \
                            (your own PostgreSQL login); the session travels in the HttpOnly cookie eio_session."
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": super::sessions::COOKIE}}
        },
        "security": [{"session": []}]
    });
    Ok(ApiDoc { document, query_shapes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_documented_with_its_schemas() {
        let doc = build().expect("every GET input is flat");
        let d = &doc.document;
        assert_eq!(d["openapi"], "3.1.0");
        for op in OPERATIONS {
            let method = if op.method == HttpMethod::Get { "get" } else { "post" };
            let o = &d["paths"][op.path][method];
            assert_eq!(o["operationId"], op.name, "{} {}", method, op.path);
            assert_eq!(o["x-eio-role"], op.role.as_str(), "{}", op.name);
            assert!(o["responses"]["200"]["content"]["application/json"]["schema"].is_object(), "{}", op.name);
            assert_eq!(
                o["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody"
            );
            if op.method == HttpMethod::Post {
                assert!(o["requestBody"]["content"]["application/json"]["schema"].is_object(), "{}", op.name);
            } else {
                assert!(doc.query_shapes.contains_key(op.name));
            }
        }
        // Every reference resolves.
        let text = d.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(d["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
        }
        assert!(d["components"]["schemas"]["ErrorBody"]["properties"]["error"].is_object());
    }

    #[test]
    fn query_parameters_come_from_the_input_fields() {
        let doc = build().unwrap();
        let params = doc.document["paths"]["/api/pages/inventory"]["get"]["parameters"].as_array().unwrap().clone();
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        for want in ["q", "site", "cluster", "power", "tools", "tag", "offset", "limit", "kind"] {
            assert!(names.contains(&want), "{names:?}");
        }
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["type"], "integer");
        assert_eq!(limit["required"], false);
    }
}
