//! Rate-card sync against a registry served from 127.0.0.1: 200 with an ETag, 304 on the
//! conditional request, 500 then recovery (retries), slow (timeout), truncated, invalid and
//! oversized bodies (nothing published, the error says why); a directory of dated files; the
//! history and event-time pricing after a restart; the background refresher.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate_engine::engine::PriceInput;
use tollgate_engine::store::{Store, StoreOptions};
use tollgate_engine::usage::Usage;
use tollgate_sync::{Outcome, Refresher, Source, SyncError, SyncOptions, pull};

/// gpt-4o at 1e-06 per input token (the embedded card says 2.5e-06), and a new model.
const CARD_A: &str = r#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06},
 "acme-llm": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 5e-06, "output_cost_per_token": 5e-06}}"#;
/// gpt-4o repriced to 2e-06; acme-llm removed.
const CARD_B: &str = r#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06, "output_cost_per_token": 4e-06}}"#;

/// One scripted response per request, in order (the last repeats). `304` answers with 304
/// only when the request carries `If-None-Match: "a"`.
#[derive(Clone)]
enum Reply {
    Ok(&'static str, &'static str),
    NotModifiedIfEtag,
    Status(u16),
    Slow(Duration),
    Truncated(&'static str),
}

struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
    seen_if_none_match: Arc<Mutex<Vec<Option<String>>>>,
}

fn serve(script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/model_prices.json",
        listener.local_addr().unwrap()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (h, s) = (hits.clone(), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let i = h.fetch_add(1, Ordering::SeqCst);
            let reply = script[i.min(script.len() - 1)].clone();
            let s = s.clone();
            std::thread::spawn(move || answer(stream, reply, &s));
        }
    });
    Server {
        url,
        hits,
        seen_if_none_match: seen,
    }
}

fn answer(mut stream: TcpStream, reply: Reply, seen: &Mutex<Vec<Option<String>>>) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut inm = None;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("if-none-match:") {
            inm = Some(v.trim().to_string());
        }
    }
    seen.lock().unwrap().push(inm.clone());
    let head = |status: &str, len: usize, extra: &str| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n")
    };
    let out = match reply {
        Reply::Ok(body, etag) => head("200 OK", body.len(), &format!("ETag: {etag}\r\n")) + body,
        Reply::NotModifiedIfEtag if inm.as_deref() == Some("\"a\"") => {
            head("304 Not Modified", 0, "")
        }
        Reply::NotModifiedIfEtag => head("200 OK", CARD_A.len(), "ETag: \"a\"\r\n") + CARD_A,
        Reply::Status(s) => head(&format!("{s} Oops"), 0, ""),
        Reply::Slow(d) => {
            std::thread::sleep(d);
            head("200 OK", CARD_A.len(), "") + CARD_A
        }
        Reply::Truncated(body) => head("200 OK", body.len() + 100, "") + body,
    };
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
    let mut sink = [0u8; 1];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.read(&mut sink);
}

fn fast() -> SyncOptions {
    SyncOptions {
        timeout: Duration::from_millis(800),
        retries: 2,
        backoff: Duration::from_millis(10),
        ..SyncOptions::default()
    }
}

fn gpt4o_cents(store: &Store, ts: Option<i64>) -> String {
    let usage = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let mut input = PriceInput::llm(Some("openai"), "gpt-4o", &usage);
    input.timestamp_ms = ts;
    store.engine().price(&input).unwrap().cost_cents.to_string()
}

#[test]
fn a_200_publishes_with_its_diff_and_a_304_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let server = serve(vec![Reply::NotModifiedIfEtag]);
    let src = Source::Url(server.url.clone());
    let r = pull(&store, &src, &fast()).unwrap();
    let Outcome::Published(p) = &r.outcome else {
        panic!("{r}")
    };
    assert_eq!(p.len(), 1);
    // Against the embedded card: every other model removed, acme-llm added, gpt-4o repriced.
    assert_eq!(p[0].diff.added, vec!["acme-llm".to_string()]);
    assert_eq!(p[0].diff.repriced.len(), 1);
    assert_eq!(p[0].diff.repriced[0].key, "gpt-4o");
    assert!(r.to_string().contains("1 added"), "{r}");
    // The second pull is conditional: the server answers 304.
    let r = pull(&store, &src, &fast()).unwrap();
    assert!(matches!(r.outcome, Outcome::NotModified), "{r}");
    assert_eq!(
        *server.seen_if_none_match.lock().unwrap(),
        vec![None, Some("\"a\"".to_string())]
    );
    assert_eq!(store.history().len(), 1);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // 500 twice, then the card: the retries get it.
    let server = serve(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Ok(CARD_A, "\"a\""),
    ]);
    let r = pull(&store, &Source::Url(server.url.clone()), &fast()).unwrap();
    assert!(matches!(r.outcome, Outcome::Published(_)));
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
    // Always 500: three attempts, then the error; nothing published.
    let server = serve(vec![Reply::Status(500)]);
    let e = pull(&store, &Source::Url(server.url.clone()), &fast()).unwrap_err();
    assert!(matches!(e, SyncError::Status { status: 500, .. }), "{e}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
    // A 404 is not retried.
    let server = serve(vec![Reply::Status(404)]);
    let e = pull(&store, &Source::Url(server.url.clone()), &fast()).unwrap_err();
    assert!(matches!(e, SyncError::Status { status: 404, .. }), "{e}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    assert_eq!(store.history().len(), 1);
}

#[test]
fn slow_truncated_invalid_and_oversized_registries_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let no_retry = SyncOptions {
        retries: 0,
        ..fast()
    };
    let slow = serve(vec![Reply::Slow(Duration::from_secs(3))]);
    let e = pull(&store, &Source::Url(slow.url.clone()), &no_retry).unwrap_err();
    assert!(matches!(e, SyncError::Network { .. }), "{e}");
    assert!(e.to_string().contains("timeout"), "{e}");

    let cut = serve(vec![Reply::Truncated(CARD_A)]);
    let e = pull(&store, &Source::Url(cut.url.clone()), &no_retry).unwrap_err();
    assert!(matches!(e, SyncError::Network { .. }), "{e}");

    // A body complete as HTTP goes, but a registry cut in the middle.
    let half = serve(vec![Reply::Ok(&CARD_A[..60], "\"h\"")]);
    let e = pull(&store, &Source::Url(half.url.clone()), &no_retry).unwrap_err();
    assert!(matches!(e, SyncError::Invalid { .. }), "{e}");

    let bad = serve(vec![Reply::Ok(
        r#"{"gpt-4o": {"input_cost_per_token": "free"}}"#,
        "\"b\"",
    )]);
    let e = pull(&store, &Source::Url(bad.url.clone()), &no_retry).unwrap_err();
    let SyncError::Invalid { error, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(error.key.as_deref(), Some("gpt-4o"));
    assert_eq!(error.field.as_deref(), Some("input_cost_per_token"));

    let big = serve(vec![Reply::Ok(CARD_A, "\"a\"")]);
    let small = SyncOptions {
        max_bytes: 100,
        ..no_retry
    };
    let e = pull(&store, &Source::Url(big.url.clone()), &small).unwrap_err();
    assert!(matches!(e, SyncError::TooLarge { limit: 100, .. }), "{e}");

    assert!(store.history().is_empty());
    // A failed pull leaves no validators behind: the next pull is unconditional.
    assert!(!dir.path().join("sync-state.json").exists());
}

#[test]
fn dated_files_give_history_and_event_time_pricing_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cards = tempfile::tempdir().unwrap();
    std::fs::write(cards.path().join("litellm-2026-06-01.json"), CARD_A).unwrap();
    std::fs::write(cards.path().join("litellm-2026-09-01.json"), CARD_B).unwrap();
    std::fs::write(cards.path().join("notes.txt"), "not a card").unwrap();
    let june = 1_780_272_000_000; // 2026-06-01T00:00:00Z
    let sept = 1_788_220_800_000; // 2026-09-01T00:00:00Z
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let r = pull(&store, &Source::Dir(cards.path().into()), &fast()).unwrap();
        let Outcome::Published(p) = &r.outcome else {
            panic!("{r}")
        };
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].effective_from_ms, p[1].effective_from_ms),
            (june, sept)
        );
        // September against June: acme-llm removed, gpt-4o repriced 1e-06 → 2e-06.
        assert_eq!(p[1].diff.removed, vec!["acme-llm".to_string()]);
        assert_eq!(p[1].diff.repriced[0].key, "gpt-4o");
        // Pulling the same directory again: nothing new.
        let r = pull(&store, &Source::Dir(cards.path().into()), &fast()).unwrap();
        assert!(matches!(r.outcome, Outcome::Unchanged), "{r}");
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = store.history();
    assert_eq!(
        h.iter().map(|c| c.effective_from_ms).collect::<Vec<_>>(),
        vec![june, sept]
    );
    // 1000 input tokens: 2.5e-06 (embedded) before June, 1e-06 from June, 2e-06 from September.
    assert_eq!(gpt4o_cents(&store, Some(june - 1)), "0.25");
    assert_eq!(gpt4o_cents(&store, Some(june)), "0.1");
    assert_eq!(gpt4o_cents(&store, Some(sept)), "0.2");
    // A bad file in the directory: the whole pull is refused, naming it.
    std::fs::write(cards.path().join("litellm-2026-10-01.json"), "{").unwrap();
    let e = pull(&store, &Source::Dir(cards.path().into()), &fast()).unwrap_err();
    assert!(e.to_string().contains("litellm-2026-10-01.json"), "{e}");
    assert_eq!(store.history().len(), 2);
}

#[test]
fn the_refresher_pulls_now_and_then_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let server = serve(vec![Reply::NotModifiedIfEtag]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let r = Refresher::start(
        store.clone(),
        Source::Url(server.url.clone()),
        fast(),
        Duration::from_millis(50),
        Duration::from_millis(10),
        Some(Box::new(move |r| {
            s2.lock().unwrap().push(match r {
                Ok(r) => matches!(r.outcome, Outcome::Published(_)),
                Err(_) => false,
            })
        })),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while r.pulls() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    r.stop();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 3, "{seen:?}");
    // Published once, then not modified.
    assert!(seen[0] && !seen[1] && !seen[2], "{seen:?}");
    assert_eq!(store.history().len(), 1);
}
