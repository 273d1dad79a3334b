//! Shared by the `/v1` and ops tests: a server on 127.0.0.1:0 with keys made before it starts,
//! a real HTTP client (ureq) returning every status as a value, and a validator of response
//! bodies against the schemas of the served OpenAPI document (the `jsonschema` crate).
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::Path;
use tollgate_server::keys::{KeyStore, Scope};
use tollgate_server::{Server, ServerConfig};

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// A running server and its keys.
pub struct Env {
    pub server: Server,
    pub url: String,
    pub ingest: String,
    pub read: String,
    pub admin: String,
    /// Keys of another workspace.
    pub other_read: String,
    pub other_ingest: String,
    _dir: tempfile::TempDir,
}

pub const WS: &str = "acme-co";
pub const OTHER: &str = "other-co";

fn key(data: &Path, workspace: &str, scope: Scope) -> String {
    KeyStore::create(data, workspace, scope, None)
        .unwrap()
        .secret
}

/// A server (sync durability: every answer is on disk) with keys of every scope for
/// workspace [`WS`] and read / ingest keys for [`OTHER`].
pub fn start() -> Env {
    start_with(|_| {})
}

/// [`start`] with the test configuration changed by `f` (it gets the data directory too).
pub fn start_with(f: impl FnOnce(&mut ServerConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (ingest, read, admin) = (
        key(data, WS, Scope::Ingest),
        key(data, WS, Scope::Read),
        key(data, WS, Scope::Admin),
    );
    let (other_read, other_ingest) = (
        key(data, OTHER, Scope::Read),
        key(data, OTHER, Scope::Ingest),
    );
    let mut config = ServerConfig::for_test(data);
    f(&mut config);
    let server = Server::start(config).unwrap();
    let url = server.url();
    Env {
        server,
        url,
        ingest,
        read,
        admin,
        other_read,
        other_ingest,
        _dir: dir,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("HTTP request");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

impl Env {
    /// Any request: `method` to `path` (with its query), an optional key, content type and body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Resp {
        let uri = format!("{}{path}", self.url);
        let mut b = ureq::http::Request::builder().method(method).uri(&uri);
        if let Some(k) = key {
            b = b.header("Authorization", format!("Bearer {k}"));
        }
        if let Some(ct) = content_type {
            b = b.header("Content-Type", ct);
        }
        let req = b.body(body.unwrap_or_default().to_vec()).unwrap();
        finish(agent().run(req))
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        self.call("GET", path, Some(key), None, None)
    }

    /// GET that must answer 200 with JSON valid against the document's schema of that route.
    pub fn get_ok(&self, path: &str, key: &str) -> Value {
        let r = self.get(path, key);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        let v = r.json();
        validate("get", route_of(path), 200, &v);
        v
    }

    /// POST JSON Lines to /v1/events; must answer 200 (validated against the schema).
    pub fn events(&self, key: &str, lines: &[String]) -> Value {
        let body = lines.join("\n");
        let r = self.call(
            "POST",
            "/v1/events",
            Some(key),
            Some("application/x-ndjson"),
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        validate("post", "/v1/events", 200, &v);
        v
    }

    /// The workspace's store, read directly (to check what a request changed).
    pub fn store(&self, ws: &str) -> std::sync::Arc<tollgate_engine::store::Store> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let w = rt
            .block_on(self.server.state().workspaces().get(ws))
            .unwrap();
        w.store().clone()
    }
}

/// The route template of a concrete path (query dropped; known parameters folded back).
pub fn route_of(path: &str) -> &str {
    let p = path.split('?').next().unwrap_or(path);
    if p.starts_with("/v1/policies/") {
        return "/v1/policies/{policyId}";
    }
    if p.starts_with("/v1/ratecard/overrides/") {
        return "/v1/ratecard/overrides/{model}";
    }
    p
}

/// The served OpenAPI document.
pub fn document() -> Value {
    serde_json::from_str(tollgate_server::openapi::DOCUMENT).unwrap()
}

/// Validates `instance` against the JSON schema of the document's response for
/// (`method`, `route`, `status`), resolving `#/components/...` against the document.
pub fn validate(method: &str, route: &str, status: u16, instance: &Value) {
    let doc = document();
    let op = &doc["paths"][route][method];
    assert!(
        op.is_object(),
        "{method} {route} is not in the OpenAPI document"
    );
    let mut resp = op["responses"][status.to_string()].clone();
    if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        resp = doc["components"]["responses"][name].clone();
    }
    let schema = resp["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "{method} {route} {status}: no JSON schema in the document"
    );
    check(
        &doc,
        &schema,
        instance,
        &format!("{method} {route} {status}"),
    );
}

/// Validates `instance` against `schema` (a schema of the document). Compiled validators are
/// kept per schema text (paging tests validate hundreds of pages).
pub fn check(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let cached = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .get(&key)
        .cloned();
    let v = match cached {
        Some(v) => v,
        None => {
            // The schema under `allOf`, with the document's components beside it so
            // `#/components/...` references resolve.
            let root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "components": doc["components"], "allOf": [schema]});
            let v = Arc::new(
                jsonschema::validator_for(&root)
                    .unwrap_or_else(|e| panic!("{what}: bad schema: {e}")),
            );
            CACHE
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .insert(key, v.clone());
            v
        }
    };
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the response does not match the document: {errors:?}\n{instance}"
    );
}

/// A value of a metric (the sum of the samples whose name and labels match), from an
/// OpenMetrics exposition.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (n, l) = match head.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (head, ""),
        };
        if n != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| l.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
        {
            total += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    total
}
