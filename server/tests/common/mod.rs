//! Shared by the server's integration tests: a server in-process on 127.0.0.1:0, keys, and a
//! real HTTP client (ureq) that returns every status as a value.
#![allow(dead_code)]

use std::path::Path;
use tollgate_server::keys::{KeyStore, Scope};
use tollgate_server::{Server, ServerConfig};

/// A key's secret for `workspace` with `scope`.
pub fn key(data: &Path, workspace: &str, scope: Scope) -> String {
    KeyStore::create(data, workspace, scope, None)
        .unwrap()
        .secret
}

/// Starts a server on `data` with test defaults changed by `f`.
pub fn start(data: &Path, f: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut c = ServerConfig::for_test(data);
    f(&mut c);
    Server::start(c).unwrap()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
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
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// POST `body` (raw bytes) with an optional bearer key.
pub fn post(url: &str, key: Option<&str>, body: &[u8]) -> Resp {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    finish(req.send(body))
}

/// GET with an optional bearer key.
pub fn get(url: &str, key: Option<&str>) -> Resp {
    let mut req = agent().get(url);
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    finish(req.call())
}
