//! Test harness of the dashboard tests: a server on 127.0.0.1:0 with real TCP, and a minimal
//! cookie-keeping client over ureq that never follows redirects (so tests see every 303).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tollgate_engine::ledger::IngestResult;
use tollgate_server::keys::{KeyStore, Scope};
use tollgate_server::{LogSink, Server as Running, ServerConfig};

/// A running `tollgate serve` (in-process, on 127.0.0.1:0) with a temporary data directory.
pub struct Server {
    pub addr: SocketAddr,
    /// Every line the server logged.
    pub log: Arc<Mutex<Vec<String>>>,
    server: Running,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut config = ServerConfig::for_test(dir.path());
        let sink = log.clone();
        config.log = LogSink::new(move |line| sink.lock().unwrap().push(line.to_string()));
        let server = Running::start(config).unwrap();
        Server {
            log,
            addr: server.addr(),
            server,
            dir,
        }
    }

    /// Records (JSON lines of our own format: events, customers, resolutions) booked into a
    /// workspace's store as the server holds it; every one must be accepted.
    pub fn ingest(&self, ws: &str, lines: &[&str]) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let w = rt
            .block_on(self.server.state().workspaces().get(ws))
            .unwrap();
        for r in w
            .store()
            .ingest_batch(lines.iter().map(|l| l.as_bytes()))
            .unwrap()
        {
            assert!(matches!(r, IngestResult::Accepted(_)), "{r:?}");
        }
    }

    /// Publishes a registry file into a workspace's store, effective from `effective_from_ms`.
    pub fn publish(&self, ws: &str, registry: &str, effective_from_ms: i64) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let w = rt
            .block_on(self.server.state().workspaces().get(ws))
            .unwrap();
        w.store()
            .publish_registry(registry.as_bytes(), effective_from_ms)
            .unwrap();
    }

    /// Creates a key with `tollgate keys create`'s library call; returns its secret.
    pub fn create_key(&self, ws: &str, scope: &str) -> String {
        let k = KeyStore::create(self.dir.path(), ws, Scope::parse(scope).unwrap(), None).unwrap();
        self.server.state().keys().reload();
        k.secret
    }

    /// Revokes the key whose secret is `secret` (as `tollgate keys revoke ID` does) and lets
    /// the server see the file change.
    pub fn revoke_key(&self, secret: &str) {
        let id = KeyStore::list(self.dir.path())
            .unwrap()
            .into_iter()
            .find(|k| secret.contains(&format!("_{}_", k.id)))
            .unwrap()
            .id;
        assert!(KeyStore::revoke(self.dir.path(), &id).unwrap());
        self.server.state().keys().reload();
    }
}

/// One response, read whole.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The whole `Set-Cookie` value that sets cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.clone())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden `csrf` input on the page.
    pub fn hidden_csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let i = self.body.find(marker).expect("a form with a csrf field") + marker.len();
        self.body[i..].split('"').next().unwrap().to_string()
    }
}

/// Keeps cookies like a browser (by name; a `Max-Age=0` cookie is dropped).
pub struct Browser {
    base: String,
    agent: ureq::Agent,
    pub cookies: BTreeMap<String, String>,
    /// The token of the last login form loaded.
    pub login_csrf: Option<String>,
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        Browser {
            base: format!("http://{}", server.addr),
            agent,
            cookies: BTreeMap::new(),
            login_csrf: None,
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn finish(&mut self, res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut res = res.expect("request");
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap();
        let resp = Resp {
            status,
            headers,
            body,
        };
        if resp.body.contains(r#"action="/login""#) {
            self.login_csrf = Some(resp.hidden_csrf());
        }
        resp
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(c) = self.cookie_header() {
            req = req.header("Cookie", c);
        }
        let res = req.call();
        self.finish(res)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(c) = self.cookie_header() {
            req = req.header("Cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send_form(form.iter().copied());
        self.finish(res)
    }

    /// Posts the last login form loaded with `key`.
    pub fn login(&mut self, key: &str) -> Resp {
        let csrf = self.login_csrf.clone().expect("load /login first");
        self.post("/login", &[("csrf", &csrf), ("key", key)], &[])
    }
}
