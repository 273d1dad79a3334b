//! Built-in TLS: a self-signed certificate (made by rcgen), a real TLS client (ureq with
//! rustls) trusting only it; plain HTTP on the TLS port gets no answer.

mod common;
use common::*;
use std::io::{Read, Write};
use std::sync::Arc;
use tollgate_server::TlsFiles;
use tollgate_server::keys::Scope;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

#[test]
fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key_pem).unwrap();
    let s = start(dir.path(), |c| {
        c.tls = Some(TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        })
    });
    assert!(s.url().starts_with("https://"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![
                    Certificate::from_der(cert.cert.der()).to_owned(),
                ])))
                .build(),
        )
        .build()
        .into();
    let url = format!("https://localhost:{}/api/track", s.addr().port());
    let mut r = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {k}"))
        .send(&br#"{"customerId":"c","provider":"openai","model":"gpt-4o","providerCostCents":3,"idempotencyKey":"t"}"#[..])
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.body_mut().read_to_string().unwrap();
    assert!(body.contains(r#""costCents":"3""#), "{body}");

    // A client that does not trust the certificate is refused by its own TLS check.
    assert!(
        ureq::get(&format!("https://localhost:{}/healthz", s.addr().port()))
            .call()
            .is_err()
    );
    // Plain HTTP on the TLS port: no HTTP answer.
    let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    assert!(!out.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn a_bad_certificate_file_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let mut c = tollgate_server::ServerConfig::for_test(dir.path());
    c.tls = Some(TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    });
    let e = tollgate_server::Server::start(c).unwrap_err();
    assert!(e.to_string().contains("cert.pem"), "{e}");
}
