//! The dashboard over the server's built-in TLS: both of its cookies are `Secure`.

mod common;
use common::*;
use std::sync::Arc;
use tollgate_server::TlsFiles;
use tollgate_server::keys::Scope;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

fn set_cookie(r: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[test]
fn cookies_are_secure_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let read = key(dir.path(), "acme", Scope::Read);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let s = start(dir.path(), |c| {
        c.tls = Some(TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        })
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![
                    Certificate::from_der(cert.cert.der()).to_owned(),
                ])))
                .build(),
        )
        .build()
        .into();
    let base = format!("https://localhost:{}", s.addr().port());

    let mut form = agent.get(format!("{base}/login")).call().unwrap();
    assert_eq!(form.status(), 200);
    let login = set_cookie(&form, "tollgate_login");
    assert!(login.ends_with("; Secure"), "{login}");
    let body = form.body_mut().read_to_string().unwrap();
    let csrf = body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let login_pair = login.split(';').next().unwrap();

    let r = agent
        .post(format!("{base}/login"))
        .header("Cookie", login_pair)
        .header("Origin", &base)
        .send_form([("csrf", csrf), ("key", read.as_str())])
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, "tollgate_session");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(session.split("; ").any(|a| a == attr), "{attr}: {session}");
    }
    let r = agent
        .get(format!("{base}/"))
        .header("Cookie", session.split(';').next().unwrap())
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
}
