//! The OpenAPI document (`GET /openapi.json`) against the server that serves it:
//! - every route in the router's source (`.route("PATH", get(..).post(..))` in `server/src`,
//!   the dashboard's HTML pages excepted) is an operation of the document, and every operation
//!   of the document is served (a request to it is not the router's fallback 404 or a 405);
//! - every `$ref` resolves, operation ids are unique;
//! - every example (responses, request bodies, schemas) validates against its schema with a
//!   real JSON Schema 2020-12 validator (the `jsonschema` crate).
//!
//! The `/v1` tests also validate every live response they receive against the document.

mod v1_support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use v1_support::{check, document, start};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// (method, path) of every `.route(...)` call in the `.rs` files under `dir`.
fn routes_in_source(dir: &Path, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The dashboard serves HTML pages to browsers, not an API.
            if path.file_name().is_some_and(|n| n == "dashboard") {
                continue;
            }
            routes_in_source(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let t = rest.trim_start();
            let Some(t) = t.strip_prefix('"') else {
                panic!(
                    "{}: a route whose path is not a string literal",
                    path.display()
                );
            };
            let end = t.find('"').unwrap();
            let route = &t[..end];
            // The method router: up to the `)` that closes `.route(`.
            let mut depth = 1;
            let mut close = 0;
            for (i, c) in t[end..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    close = end + i;
                    break;
                }
            }
            let expr = &t[end + 1..close];
            let mut found = false;
            for m in METHODS {
                let pat = format!("{m}(");
                let mut s = expr;
                while let Some(i) = s.find(&pat) {
                    let before = s[..i].chars().last();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        out.insert((m.to_string(), route.to_string()));
                        found = true;
                    }
                    s = &s[i + pat.len()..];
                }
            }
            assert!(found, "{}: no method for route {route}", path.display());
        }
    }
}

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, _) in item.as_object().unwrap() {
            assert!(METHODS.contains(&m.as_str()), "{path}: {m} is not a method");
            out.insert((m.clone(), path.clone()));
        }
    }
    out
}

#[test]
fn the_document_and_the_router_list_the_same_operations() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut served = BTreeSet::new();
    routes_in_source(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut served,
    );
    let documented = operations(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in openapi.json but not served: {extra:?}"
    );
    assert!(served.len() >= 20, "{served:?}");

    // And live: every documented operation reaches a handler, not the router's fallback.
    let env = start();
    for (method, path) in &documented {
        let concrete = path
            .replace("{policyId}", "p-1")
            .replace("{model}", "gpt-4o");
        let r = env.call(
            &method.to_uppercase(),
            &concrete,
            None,
            Some("application/json"),
            Some(b"{}"),
        );
        assert_ne!(r.status, 405, "{method} {path}: {}", r.body);
        let fallback = r.status == 404 && r.body.contains("no such route");
        assert!(!fallback, "{method} {path} is not served: {}", r.body);
    }
    // The served document is this one, byte for byte.
    let r = env.call("GET", "/openapi.json", None, None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, tollgate_server::openapi::DOCUMENT);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
}

/// Every `$ref` in `v` resolves in `doc`.
fn refs_resolve(doc: &Value, v: &Value, at: &str) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let pointer = r
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("{at}: external $ref {r}"));
                assert!(
                    doc.pointer(pointer).is_some(),
                    "{at}: $ref {r} does not resolve"
                );
            }
            for (k, x) in m {
                refs_resolve(doc, x, &format!("{at}/{k}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs_resolve(doc, x, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

#[test]
fn refs_resolve_and_ids_are_unique() {
    let doc = document();
    refs_resolve(&doc, &doc, "");
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {path}: no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {path}: no responses"
            );
            assert!(
                op["security"].is_array(),
                "{m} {path}: say which scope (or [] for none)"
            );
        }
    }
}

#[test]
fn every_example_validates_against_its_schema() {
    let doc = document();
    let mut checked = 0;
    let resolve = |v: &Value| -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap().clone(),
            None => v.clone(),
        }
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let mut bodies: Vec<(String, Value)> = Vec::new();
            for (status, resp) in op["responses"].as_object().unwrap() {
                bodies.push((format!("{m} {path} {status}"), resolve(resp)));
            }
            if let Some(rb) = op.get("requestBody") {
                bodies.push((format!("{m} {path} request"), rb.clone()));
            }
            for (what, body) in bodies {
                let Some(content) = body["content"].as_object() else {
                    continue;
                };
                for (ct, media) in content {
                    if let (Some(example), Some(schema)) =
                        (media.get("example"), media.get("schema"))
                    {
                        if ct.contains("json") {
                            check(&doc, schema, example, &format!("{what} {ct}"));
                            checked += 1;
                        } else {
                            assert!(example.is_string(), "{what} {ct}: a text example");
                        }
                    }
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            let r = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
            check(&doc, &r, example, name);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} examples");
    // A wrong example is caught: the validator is not a rubber stamp.
    let bad =
        serde_json::json!({"rows": [], "nextCursor": 5, "totals": {}, "groups": -1, "window": {}});
    let r = serde_json::json!({"$ref": "#/components/schemas/Page"});
    let caught = std::panic::catch_unwind(|| check(&doc, &r, &bad, "bad"));
    assert!(caught.is_err());
}
