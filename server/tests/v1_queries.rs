//! The margin listings and the report over real TCP: paging through every page returns every
//! row exactly once (also while rows are added between pages), filters, the report's formats,
//! bad parameters, scopes and workspace isolation. Every 200 answer is validated against the
//! OpenAPI document's schema.
//!
//! Cents by hand from the embedded LiteLLM 1.110.2 card: gpt-4o input $2.50 per million tokens
//! = 0.00025 cent a token; gpt-4o-mini input $0.15 and output $0.60 per million = 0.000015 and
//! 0.00006 cent a token.

mod v1_support;

use serde_json::Value;
use v1_support::{Env, start};

/// Pages through `path` (which has no `?`, or ends with `&`-able parameters) with `limit` and
/// returns every row.
fn all_pages(env: &Env, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let v = env.get_ok(&url, &env.read);
        pages += 1;
        let page = v["rows"].as_array().unwrap();
        assert!(page.len() <= limit);
        rows.extend(page.iter().cloned());
        match v["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10_000, "paging does not end");
    }
    (rows, pages)
}

fn ids(rows: &[Value], col: &str) -> Vec<Option<String>> {
    rows.iter()
        .map(|r| r[col].as_str().map(str::to_string))
        .collect()
}

fn tool(customer: &str, extra: &str, cost: &str, ts: &str) -> String {
    format!(
        r#"{{"type":"tool","customerId":"{customer}","externalCostCents":"{cost}","revenueUnitCents":"2","ts":"{ts}"{extra}}}"#
    )
}

#[test]
fn paging_returns_every_row_exactly_once() {
    let env = start();
    let lines: Vec<String> = (1..=257)
        .rev()
        .map(|i| tool(&format!("cust-{i}"), "", "1", "2026-11-02T10:00:00Z"))
        .collect();
    assert_eq!(env.events(&env.ingest, &lines)["accepted"], 257);
    // Natural order: by number, not by text (cust-2 before cust-10).
    let expected: Vec<Option<String>> = (1..=257).map(|i| Some(format!("cust-{i}"))).collect();
    for limit in [1, 10, 256, 257, 1000] {
        let (rows, pages) = all_pages(&env, "/v1/customers", limit);
        assert_eq!(ids(&rows, "customerId"), expected, "limit {limit}");
        assert_eq!(pages, 257usize.div_ceil(limit), "limit {limit}");
        assert!(
            rows.iter().all(|r| r["costCents"] == "1"
                && r["revenueCents"] == "2"
                && r["marginCents"] == "1")
        );
    }
    // Rows added between pages: one sorting before the cursor is not seen, one after is, and
    // nothing repeats.
    let first = env.get_ok("/v1/customers?limit=100", &env.read);
    assert_eq!(first["groups"], 257);
    assert_eq!(first["totals"]["costCents"], "257");
    let mut seen = ids(first["rows"].as_array().unwrap(), "customerId");
    let mut cursor = first["nextCursor"].as_str().unwrap().to_string();
    env.events(
        &env.ingest,
        &[
            tool("cust-0", "", "1", "2026-11-02T11:00:00Z"),
            tool("cust-999", "", "1", "2026-11-02T11:00:00Z"),
        ],
    );
    loop {
        let v = env.get_ok(
            &format!("/v1/customers?limit=100&cursor={cursor}"),
            &env.read,
        );
        seen.extend(ids(v["rows"].as_array().unwrap(), "customerId"));
        match v["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut want = expected.clone();
    want.push(Some("cust-999".into()));
    assert_eq!(seen, want);
}

#[test]
fn listings_filter_and_group() {
    let env = start();
    let day = |d: u32, h: u32| format!("2026-11-{d:02}T{h:02}:00:00Z");
    let llm = |c: &str,
               agent: Option<&str>,
               run: &str,
               model: &str,
               tin: u64,
               tout: u64,
               ts: &str| {
        let agent = agent
            .map(|a| format!(r#","agentId":"{a}""#))
            .unwrap_or_default();
        format!(
            r#"{{"customerId":"{c}","runId":"{run}"{agent},"provider":"openai","model":"{model}","tokensIn":{tin},"tokensOut":{tout},"ts":"{ts}"}}"#
        )
    };
    let lines = vec![
        // acme: gpt-4o 1000 in = 0.25; gpt-4o-mini 1000 in + 1000 out = 0.015 + 0.06 = 0.075.
        llm("acme", Some("bot-2"), "r1", "gpt-4o", 1000, 0, &day(2, 10)),
        llm(
            "acme",
            Some("bot-10"),
            "r1",
            "gpt-4o-mini",
            1000,
            1000,
            &day(3, 10),
        ),
        // globex: gpt-4o 2000 in = 0.5, no agent.
        llm("globex", None, "g1", "gpt-4o", 2000, 0, &day(4, 10)),
        format!(
            r#"{{"type":"resolve","customerId":"acme","runId":"r1","outcome":"resolved","ts":"{}"}}"#,
            day(3, 12)
        ),
        format!(
            r#"{{"type":"resolve","customerId":"globex","runId":"g1","outcome":"failed","ts":"{}"}}"#,
            day(4, 12)
        ),
    ];
    assert_eq!(env.events(&env.ingest, &lines)["accepted"], 5);

    // Models, all customers and one customer.
    let v = env.get_ok("/v1/models", &env.read);
    let rows = v["rows"].as_array().unwrap();
    // The resolutions name no model: their run counts form the last group, without money.
    assert_eq!(
        ids(rows, "model"),
        [Some("gpt-4o".into()), Some("gpt-4o-mini".into()), None]
    );
    assert_eq!(rows[0]["costCents"], "0.75"); // 0.25 + 0.5
    assert_eq!(rows[1]["costCents"], "0.075");
    assert_eq!(
        (rows[2]["costCents"].as_str(), rows[2]["events"].as_u64()),
        (Some("0"), Some(0))
    );
    assert_eq!(v["totals"]["costCents"], "0.825");
    let v = env.get_ok("/v1/models?customerId=globex", &env.read);
    assert_eq!(
        ids(v["rows"].as_array().unwrap(), "model")[0].as_deref(),
        Some("gpt-4o")
    );
    assert_eq!(v["rows"][0]["costCents"], "0.5");

    // Agents: natural order (bot-2 before bot-10), events without an agent last.
    let v = env.get_ok("/v1/agents", &env.read);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        ids(rows, "agentId"),
        [Some("bot-2".into()), Some("bot-10".into()), None]
    );
    assert_eq!(rows[2]["costCents"], "0.5");
    let v = env.get_ok("/v1/agents?model=gpt-4o-mini", &env.read);
    assert_eq!(
        ids(v["rows"].as_array().unwrap(), "agentId"),
        [Some("bot-10".into())]
    );

    // Runs with their outcome filter; a run row names its customer.
    let v = env.get_ok("/v1/runs", &env.read);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(ids(rows, "runId"), [Some("r1".into()), Some("g1".into())]);
    assert_eq!(
        ids(rows, "customerId"),
        [Some("acme".into()), Some("globex".into())]
    );
    assert_eq!(rows[0]["costCents"], "0.325");
    assert_eq!(rows[0]["runsResolved"], 1);
    let v = env.get_ok("/v1/runs?outcome=failed", &env.read);
    assert_eq!(
        ids(v["rows"].as_array().unwrap(), "runId"),
        [Some("g1".into())]
    );
    let (rows, pages) = all_pages(&env, "/v1/runs", 1);
    assert_eq!((rows.len(), pages), (2, 2));

    // Days, in a window.
    let v = env.get_ok("/v1/days", &env.read);
    assert_eq!(
        ids(v["rows"].as_array().unwrap(), "day"),
        [
            Some("2026-11-02".into()),
            Some("2026-11-03".into()),
            Some("2026-11-04".into())
        ]
    );
    let v = env.get_ok("/v1/days?from=2026-11-03&to=2026-11-04", &env.read);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(
        ids(rows, "day"),
        [Some("2026-11-03".into()), Some("2026-11-04".into())]
    );
    assert_eq!(v["totals"]["costCents"], "0.575");
    assert_eq!(v["window"]["from"], "2026-11-03");

    // Customers with a filter on the agent.
    let v = env.get_ok("/v1/customers?agentId=bot-2", &env.read);
    assert_eq!(
        ids(v["rows"].as_array().unwrap(), "customerId"),
        [Some("acme".into())]
    );
    assert_eq!(v["rows"][0]["costCents"], "0.25");

    // The report: the query of `tollgate report`, in three formats.
    let v = env.get_ok(
        "/v1/report?groupBy=customer,model&sort=cost&top=2",
        &env.read,
    );
    // acme × {gpt-4o, gpt-4o-mini, no model (its resolution)}, globex × {gpt-4o, no model}.
    assert_eq!(v["groups"], 5);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0]["customerId"].as_str(),
            rows[0]["model"].as_str(),
            rows[0]["costCents"].as_str()
        ),
        (Some("globex"), Some("gpt-4o"), Some("0.5"))
    );
    assert_eq!(rows[1]["costCents"], "0.25");
    assert_eq!(v["totals"]["costCents"], "0.825");
    assert_eq!(v["query"]["sort"], "cost:desc");
    let v = env.get_ok("/v1/report", &env.read);
    assert_eq!(v["query"]["groupBy"], serde_json::json!(["customer"]));
    let v = env.get_ok("/v1/report?groupBy=", &env.read);
    assert_eq!(v["rows"].as_array().unwrap().len(), 0);
    assert_eq!(v["totals"]["costCents"], "0.825");
    let r = env.get("/v1/report?groupBy=model&format=csv", &env.read);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    let mut lines = r.body.split("\r\n");
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("model,revenueCents,costCents,")
    );
    assert!(lines.next().unwrap().starts_with("gpt-4o,0,0.75,"));
    let r = env.get("/v1/report?groupBy=model&format=jsonl", &env.read);
    assert_eq!(r.body.lines().count(), 3); // gpt-4o, gpt-4o-mini, no model
    let first: Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
    assert_eq!(first["costCents"], "0.75");
}

#[test]
fn bad_parameters_get_precise_errors() {
    let env = start();
    let err = |path: &str| {
        let r = env.get(path, &env.read);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        v1_support::validate("get", v1_support::route_of(path), 400, &r.json());
        (
            r.code(),
            r.json()["error"]["message"].as_str().unwrap().to_string(),
        )
    };
    let (code, msg) = err("/v1/customers?customer=acme");
    assert_eq!(code, "invalid_query");
    assert!(msg.contains("unknown parameter \"customer\""), "{msg}");
    assert!(err("/v1/customers?groupBy=model").1.contains("groupBy"));
    assert!(err("/v1/customers?limit=0").1.starts_with("limit:"));
    assert!(err("/v1/customers?limit=1001").1.starts_with("limit:"));
    assert!(err("/v1/customers?from=2026-02-30").1.starts_with("from:"));
    assert!(err("/v1/customers?outcome=won").1.starts_with("outcome:"));
    assert!(
        err("/v1/customers?from=2026-11-05&to=2026-11-01")
            .1
            .contains("after")
    );
    assert!(
        err("/v1/customers?limit=1&limit=2")
            .1
            .contains("more than once")
    );
    assert_eq!(err("/v1/customers?cursor=garbage").0, "invalid_cursor");
    assert!(err("/v1/report?sort=price").1.starts_with("sort:"));
    assert!(err("/v1/report?format=xml").1.starts_with("format:"));
    assert!(err("/v1/report?top=-1").1.starts_with("top:"));
    // A cursor of one listing is refused by another.
    env.events(
        &env.ingest,
        &[
            tool("a", "", "1", "2026-11-02T10:00:00Z"),
            tool("b", "", "1", "2026-11-02T10:00:00Z"),
        ],
    );
    let v = env.get_ok("/v1/customers?limit=1", &env.read);
    let c = v["nextCursor"].as_str().unwrap();
    assert_eq!(err(&format!("/v1/days?cursor={c}")).0, "invalid_cursor");
}

#[test]
fn scopes_and_workspaces() {
    let env = start();
    env.events(
        &env.ingest,
        &[tool("acme", "", "3", "2026-11-02T10:00:00Z")],
    );
    for path in [
        "/v1/customers",
        "/v1/runs",
        "/v1/agents",
        "/v1/models",
        "/v1/days",
        "/v1/report",
    ] {
        assert_eq!(
            env.call("GET", path, None, None, None).status,
            401,
            "{path}"
        );
        let r = env.get(path, &env.ingest);
        assert_eq!((r.status, r.code().as_str()), (403, "forbidden"), "{path}");
        // Admin reads everything; another workspace's key sees none of it.
        assert_eq!(env.get(path, &env.admin).status, 200, "{path}");
        let theirs = env.get_ok(path, &env.other_read);
        assert_eq!(
            theirs["rows"].as_array().map(Vec::len),
            Some(0),
            "{path}: {theirs}"
        );
        assert_eq!(theirs["totals"]["costCents"], "0");
    }
    assert_eq!(
        env.get_ok("/v1/customers", &env.read)["totals"]["costCents"],
        "3"
    );
}
