//! The dashboard over real TCP on 127.0.0.1: login and logout, cookie attributes, CSRF and
//! cross-origin refusals, key scopes and revocation, workspace isolation, escaping of what
//! users sent, and the figures on the pages against amounts calculated by hand below.

mod dashboard_harness;

use dashboard_harness::{Browser, Server};

/// gpt-4o: $2.50 / M input = 0.00025 cents a token, $10 / M output = 0.001 cents a token.
/// gpt-4o-mini: $0.15 / M input = 0.000015 cents, $0.60 / M output = 0.00006 cents.
/// claude-sonnet-4-5: $3 / M input = 0.0003 cents, $15 / M output = 0.0015 cents.
const ACME_EVENTS: &[&str] = &[
    r#"{"type":"customer","customerId":"acme","name":"Acme Corp"}"#,
    // 1,000,000 × 0.00025 + 100,000 × 0.001 = 250 + 100 = 350 cents; revenue 500.
    r#"{"customerId":"acme","runId":"r1","agentId":"support","provider":"openai","model":"gpt-4o","tokensIn":1000000,"tokensOut":100000,"revenueUnitCents":500,"ts":"2026-11-02T10:00:00Z"}"#,
    // 2,000,000 × 0.000015 + 500,000 × 0.00006 = 30 + 30 = 60 cents; revenue 100.
    r#"{"customerId":"acme","runId":"r2","agentId":"triage","provider":"openai","model":"gpt-4o-mini","tokensIn":2000000,"tokensOut":500000,"revenueUnitCents":100,"ts":"2026-11-03T09:00:00Z"}"#,
    // A model no rate card knows: unpriced, not $0.
    r#"{"customerId":"acme","runId":"r2","agentId":"triage","provider":"acme-llm","model":"mystery-model-x","tokensIn":1000,"ts":"2026-11-03T12:00:00Z"}"#,
    r#"{"type":"resolve","customerId":"acme","runId":"r1","outcome":"resolved","ts":"2026-11-03T13:00:00Z"}"#,
    // A monthly budget of 100 cents: November's 410 cents breach it (money unchanged).
    r#"{"type":"policy","policyId":"acme-budget","customerId":"acme","budget":{"cents":"100","period":"month"},"ts":"2026-11-01T00:00:00Z"}"#,
];

/// A customer whose id (`<script>alert(1)</script>`), name and model carry markup: the page
/// must show them as text.
const PLANTED_EVENTS: &[&str] = &[
    r#"{"type":"customer","customerId":"<script>alert(1)</script>","name":"<img src=x onerror=alert(2)>"}"#,
    // 100,000 × 0.0003 + 10,000 × 0.0015 = 30 + 15 = 45 cents; revenue 200.
    r#"{"customerId":"<script>alert(1)</script>","provider":"anthropic","model":"claude-sonnet-4-5","tokensIn":100000,"tokensOut":10000,"revenueUnitCents":200,"ts":"2026-11-04T08:00:00Z"}"#,
    r#"{"customerId":"<script>alert(1)</script>","provider":"x","model":"<b>bold-model</b>","tokensIn":5,"ts":"2026-11-04T09:00:00Z"}"#,
];

/// Another workspace: 400,000 × 0.00025 = 100 cents; revenue 1000.
const GLOBEX_EVENTS: &[&str] = &[
    r#"{"customerId":"globex","runId":"g1","provider":"openai","model":"gpt-4o","tokensIn":400000,"revenueUnitCents":1000,"ts":"2026-11-02T11:00:00Z"}"#,
];

fn seeded() -> (Server, String, String, String) {
    let server = Server::start();
    server.ingest("ws-a", ACME_EVENTS);
    server.ingest("ws-a", PLANTED_EVENTS);
    server.ingest("ws-b", GLOBEX_EVENTS);
    let read_a = server.create_key("ws-a", "read");
    let read_b = server.create_key("ws-b", "read");
    let ingest_a = server.create_key("ws-a", "ingest");
    (server, read_a, read_b, ingest_a)
}

#[test]
fn pages_need_a_session() {
    let (server, ..) = seeded();
    let mut b = Browser::new(&server);
    for path in ["/", "/customers/acme"] {
        let r = b.get(path);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location").as_deref(), Some("/login"), "{path}");
        assert!(!r.body.contains("acme"), "{path}");
    }
}

#[test]
fn login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    let form = b.get("/login");
    assert_eq!(form.status, 200);
    let login_cookie = form.set_cookie("tollgate_login").expect("login cookie");
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));

    let r = b.login(&read_a);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/"));
    let cookie = r.set_cookie("tollgate_session").expect("session cookie");
    let attrs: Vec<&str> = cookie.split("; ").collect();
    assert!(
        attrs[0].starts_with("tollgate_session=")
            && attrs[0].len() == "tollgate_session=".len() + 64
    );
    for a in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&a), "{cookie}");
    }
    assert!(!attrs.contains(&"Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(&read_a));

    let page = b.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ws-a"));
    assert!(
        !page.body.contains(&read_a),
        "the key must never be on a page"
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));

    // The logout form posts the session's CSRF token.
    let csrf = page.hidden_csrf();
    let out = b.post("/logout", &[("csrf", &csrf)], &[]);
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location").as_deref(), Some("/login"));
    assert!(
        out.set_cookie("tollgate_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie no longer opens anything, even if a client keeps sending it.
    assert_eq!(b.get("/").status, 303);
}

#[test]
fn secure_cookie_behind_a_tls_proxy() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    let csrf = b.login_csrf.clone().unwrap();
    let r = b.post(
        "/login",
        &[("csrf", &csrf), ("key", &read_a)],
        &[("X-Forwarded-Proto", "https")],
    );
    assert_eq!(r.status, 303);
    assert!(
        r.set_cookie("tollgate_session")
            .unwrap()
            .ends_with("; Secure")
    );
}

#[test]
fn cross_site_posts_and_missing_tokens_are_refused() {
    let (server, read_a, ..) = seeded();

    // Login: a cross-origin Origin, a cross-site fetch, no login cookie, a wrong token.
    let mut b = Browser::new(&server);
    b.get("/login");
    let csrf = b.login_csrf.clone().unwrap();
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let r = b.post("/login", &[("csrf", &csrf), ("key", &read_a)], &headers);
        assert_eq!(r.status, 403, "{headers:?}");
        assert!(r.set_cookie("tollgate_session").is_none());
    }
    let r = b.post(
        "/login",
        &[("csrf", "0".repeat(64).as_str()), ("key", &read_a)],
        &[],
    );
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("tollgate_session").is_none());
    let mut fresh = Browser::new(&server); // never loaded the form: no login cookie
    let r = fresh.post("/login", &[("csrf", &csrf), ("key", &read_a)], &[]);
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("tollgate_session").is_none());

    // The same origin logs in.
    let port = server.addr.port();
    b.get("/login");
    let csrf = b.login_csrf.clone().unwrap();
    let origin = format!("http://127.0.0.1:{port}");
    let r = b.post(
        "/login",
        &[("csrf", &csrf), ("key", &read_a)],
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303);

    // Logout without the token, with a wrong one, or cross-origin: refused, still logged in.
    let token = b.get("/").hidden_csrf();
    assert_eq!(b.post("/logout", &[], &[]).status, 403);
    assert_eq!(
        b.post("/logout", &[("csrf", "f".repeat(64).as_str())], &[])
            .status,
        403
    );
    assert_eq!(
        b.post(
            "/logout",
            &[("csrf", &token)],
            &[("Origin", "http://evil.example")]
        )
        .status,
        403
    );
    assert_eq!(b.get("/").status, 200);
    assert_eq!(
        b.post("/logout", &[("csrf", &token)], &[("Origin", &origin)])
            .status,
        303
    );
    assert_eq!(b.get("/").status, 303);
}

#[test]
fn only_read_and_admin_keys_log_in() {
    let (server, _, _, ingest_a) = seeded();
    let admin_a = server.create_key("ws-a", "admin");
    let mut b = Browser::new(&server);
    b.get("/login");
    let r = b.login(&ingest_a);
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("tollgate_session").is_none());
    assert!(r.body.contains("read or admin scope"));
    assert!(!r.body.contains(&ingest_a), "the key is not echoed back");
    let r = b.login("tg_not_a_key_at_all");
    assert_eq!(r.status, 401);
    assert!(r.set_cookie("tollgate_session").is_none());
    assert!(!r.body.contains("tg_not_a_key_at_all"));
    assert_eq!(b.login(&admin_a).status, 303);
    assert_eq!(b.get("/").status, 200);
    // The log has the requests, never a key (the ones that failed included).
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("POST /login 403") && log.contains("POST /login 401"),
        "{log}"
    );
    for k in [&ingest_a, &admin_a, "tg_not_a_key_at_all"] {
        assert!(!log.contains(k), "a key in the log");
    }
}

#[test]
fn revoking_the_key_ends_its_sessions() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    assert_eq!(b.login(&read_a).status, 303);
    assert_eq!(b.get("/").status, 200);
    server.revoke_key(&read_a);
    let r = b.get("/");
    assert_eq!(r.status, 303);
    assert!(!r.body.contains("acme"));
    // And it cannot log in again.
    b.get("/login");
    assert_eq!(b.login(&read_a).status, 401);
}

#[test]
fn a_session_sees_only_its_workspace() {
    let (server, read_a, read_b, _) = seeded();
    let mut a = Browser::new(&server);
    a.get("/login");
    a.login(&read_a);
    let page = a.get("/");
    assert!(page.body.contains("acme") && !page.body.contains("globex"));
    assert_eq!(a.get("/customers/globex").status, 404);

    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_b);
    let page = b.get("/");
    assert!(page.body.contains("globex") && !page.body.contains("acme"));
    assert!(
        page.body
            .contains(r#"id="total-revenue"><span class="money" data-cents="1000""#)
    );
    assert_eq!(b.get("/customers/acme").status, 404);
    assert_eq!(b.get("/customers/globex").status, 200);
}

#[test]
fn what_users_sent_is_shown_as_text() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_a);
    let overview = b.get("/").body;
    let encoded = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    let customer = b.get(&format!("/customers/{encoded}"));
    assert_eq!(customer.status, 200);
    for page in [&overview, &customer.body] {
        for raw in ["<script>alert(1)", "<img src=x", "<b>bold-model"] {
            assert!(!page.contains(raw), "unescaped {raw}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;b&gt;bold-model&lt;/b&gt;"));
    }
    assert!(overview.contains("&lt;img src=x onerror=alert(2)&gt;"));
    // The link to the customer's page is one percent-encoded path segment.
    assert!(overview.contains(&format!(r#"href="/customers/{encoded}""#)));
    assert!(
        customer
            .body
            .contains(r#"<p id="customer-name">&lt;img src=x onerror=alert(2)&gt;</p>"#)
    );
    assert!(!overview.contains("<script"), "no script element at all");
}

/// The text of the money span inside the element with `id`.
fn money_of(page: &str, id: &str) -> (String, String) {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &page[start..];
    let after = rest.split(r#"data-cents=""#).nth(1).unwrap();
    let cents = after.split('"').next().unwrap();
    let shown = after
        .split("\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    (cents.to_string(), shown.to_string())
}

fn text_of(page: &str, id: &str) -> String {
    let start = page
        .find(&format!(r#"id="{id}">"#))
        .unwrap_or_else(|| panic!("no #{id}"));
    page[start..]
        .split('>')
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn figures_equal_the_hand_calculation() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_a);
    let page = b.get("/").body;
    // Revenue 500 + 100 + 200 = 800 cents; cost 350 + 60 + 0 (unpriced) + 45 = 455 cents;
    // margin 345 cents; 345 / 800 = 43.125 % → 43.12 (half-even).
    assert_eq!(
        money_of(&page, "total-revenue"),
        ("800".into(), "$8.00".into())
    );
    assert_eq!(
        money_of(&page, "total-cost"),
        ("455".into(), "$4.55".into())
    );
    assert_eq!(
        money_of(&page, "total-margin"),
        ("345".into(), "$3.45".into())
    );
    assert_eq!(text_of(&page, "total-pct"), "43.12 %");
    assert_eq!(text_of(&page, "total-events"), "5");
    assert_eq!(text_of(&page, "total-unpriced"), "2");
    // acme's row: revenue 600, cost 410, margin 190 = 31.67 % of revenue.
    let row = page
        .split(r#"data-customer="acme""#)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    for (cents, shown) in [("600", "$6.00"), ("410", "$4.10"), ("190", "$1.90")] {
        assert!(
            row.contains(&format!(
                r#"data-cents="{cents}" title="{cents} cents">{shown}<"#
            )),
            "{row}"
        );
    }
    assert!(row.contains("31.67 %") && row.contains("Acme Corp"));
    // Its cost leaves out one unpriced event, and says so.
    assert!(row.contains(">+1 unpriced<"), "{row}");
    // The chart: three days, a revenue and a cost point on each.
    assert!(page.contains(r#"data-days="3""#));
    assert_eq!(
        page.matches(r#"<circle class="point point-revenue""#)
            .count(),
        3
    );
    assert_eq!(
        page.matches(r#"<circle class="point point-cost""#).count(),
        3
    );
    for (day, rev, cost) in [
        ("2026-11-02", "500", "350"),
        ("2026-11-03", "100", "60"),
        ("2026-11-04", "200", "45"),
    ] {
        assert!(
            page.contains(&format!(
                r#"data-series="revenue" data-day="{day}" data-cents="{rev}""#
            )),
            "{day}"
        );
        assert!(
            page.contains(&format!(
                r#"data-series="cost" data-day="{day}" data-cents="{cost}""#
            )),
            "{day}"
        );
    }
    // The unpriced models are listed; the rate card is the embedded one.
    assert!(page.contains("mystery-model-x"));
    assert!(page.contains("embedded LiteLLM 1.110.2"));
    assert!(page.contains("No earlier card to compare with."));

    let c = b.get("/customers/acme").body;
    assert_eq!(
        money_of(&c, "total-revenue"),
        ("600".into(), "$6.00".into())
    );
    assert_eq!(money_of(&c, "total-cost"), ("410".into(), "$4.10".into()));
    assert_eq!(text_of(&c, "total-pct"), "31.67 %");
    assert_eq!(text_of(&c, "customer-name"), "Acme Corp");
    // r1: resolved, revenue 500, cost 350; r2: open, revenue 100, cost 60 (+ an unpriced call).
    let r1 = c
        .split(r#"data-run="r1""#)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        r1.contains("outcome-resolved") && r1.contains(">$5.00<") && r1.contains(">$3.50<"),
        "{r1}"
    );
    let r2 = c
        .split(r#"data-run="r2""#)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        r2.contains("outcome-open") && r2.contains(">$1.00<") && r2.contains(">$0.60<"),
        "{r2}"
    );
    let agents = c
        .split(r#"id="agents-table""#)
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(agents.contains(">support<") && agents.contains(">triage<"));
    let models = c
        .split(r#"id="models-table""#)
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        models.contains(">gpt-4o<")
            && models.contains(">gpt-4o-mini<")
            && models.contains(">mystery-model-x<")
    );
    assert!(
        c.split(r#"id="unpriced""#)
            .nth(1)
            .unwrap()
            .contains("mystery-model-x")
    );
    assert_eq!(c.matches(r#"<circle class="point point-cost""#).count(), 2);
}

#[test]
fn unknown_customer_is_404_and_the_stylesheet_is_served() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_a);
    let r = b.get("/customers/nobody");
    assert_eq!(r.status, 404);
    assert!(r.body.contains("No such customer"));
    let css = b.get("/assets/dashboard.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn policy_breaches_are_listed() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_a);
    for path in ["/", "/customers/acme"] {
        let page = b.get(path).body;
        let section = page
            .split(r#"id="breaches""#)
            .nth(1)
            .unwrap()
            .split("</section>")
            .next()
            .unwrap();
        let row = section
            .split(r#"<tr class="breach-row">"#)
            .nth(1)
            .unwrap_or_else(|| panic!("{path}: {section}"));
        assert!(
            row.contains(">acme-budget<")
                && row.contains(">2026-11<")
                && row.contains(">budget_exceeded<")
                // November's cost: 350 + 60 = 410 cents against a budget of 100.
                && row.contains("cost 410 &gt; 100"),
            "{path}: {row}"
        );
        assert_eq!(section.matches("breach-row").count(), 1, "{path}");
    }
    // The planted customer has no policy: its page lists none.
    let page = b
        .get("/customers/%3Cscript%3Ealert%281%29%3C%2Fscript%3E")
        .body;
    assert!(page.contains("No policy is breached."));
}

/// Two tiny registries a day apart (amounts in USD per token).
const CARD_OLD: &str = r#"{"m-kept": {"input_cost_per_token": 1e-06}, "m-repriced": {"input_cost_per_token": 2e-06}, "m-removed": {"input_cost_per_token": 3e-06}}"#;
const CARD_NEW: &str = r#"{"m-kept": {"input_cost_per_token": 1e-06}, "m-repriced": {"input_cost_per_token": 4e-06}, "m-added": {"input_cost_per_token": 5e-06}}"#;

#[test]
fn rate_card_status_and_last_diff() {
    let server = Server::start();
    let key = server.create_key("ws-card", "read");
    // 2026-11-01T00:00:00Z and 2026-11-02T00:00:00Z in epoch ms (1,793,491,200 s is
    // 2026-11-01: 20,758 days after 1970-01-01 × 86,400 s).
    server.publish("ws-card", CARD_OLD, 1_793_491_200_000);
    server.publish("ws-card", CARD_NEW, 1_793_577_600_000);
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&key);
    let page = b.get("/").body;
    assert_eq!(text_of(&page, "card-effective"), "2026-11-02 00:00:00 UTC");
    assert_eq!(text_of(&page, "card-models"), "3");
    assert_eq!(
        text_of(&page, "card-count"),
        "3",
        "the embedded card and the two published"
    );
    assert!(!page.contains("embedded LiteLLM"));
    assert_eq!(text_of(&page, "diff-added"), "1");
    assert_eq!(text_of(&page, "diff-removed"), "1");
    assert_eq!(text_of(&page, "diff-repriced"), "1");
    let diff = page
        .split(r#"id="card-diff""#)
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    for (kind, model) in [
        ("Added", "m-added"),
        ("Removed", "m-removed"),
        ("Repriced", "m-repriced"),
    ] {
        let part = diff
            .split(&format!("<summary>{kind} (1)</summary>"))
            .nth(1)
            .unwrap();
        assert!(
            part.split("</details>")
                .next()
                .unwrap()
                .contains(&format!("<code>{model}</code>")),
            "{kind}"
        );
    }
    assert!(!diff.contains("m-kept"));
    assert!(page.contains("Rate-card sync: not running"));
}

/// The customer ids in the overview's table, in order.
fn customer_order(page: &str) -> Vec<String> {
    page.split(r#"<tr class="customer-row" data-customer=""#)
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn customers_sort_by_the_money() {
    let (server, read_a, ..) = seeded();
    let mut b = Browser::new(&server);
    b.get("/login");
    b.login(&read_a);
    let planted = "&lt;script&gt;alert(1)&lt;/script&gt;";
    // Margins: acme 600 − 410 = 190 cents, the planted customer 200 − 45 = 155 cents;
    // margin %: acme 31.67, planted 77.50.
    for (query, first) in [
        ("?sort=margin", "acme"),
        ("?sort=margin:asc", planted),
        ("?sort=revenue:desc", "acme"),
        ("?sort=margin_pct", planted),
        ("?sort=margin_pct:asc", "acme"),
    ] {
        let page = b.get(&format!("/{query}"));
        assert_eq!(page.status, 200, "{query}");
        let order = customer_order(&page.body);
        assert_eq!(order.len(), 2, "{query}");
        assert_eq!(order[0], first, "{query}");
    }
    // The active column links to the other direction and is marked.
    let page = b.get("/?sort=margin").body;
    assert!(page.contains(r#"<a class="sort" href="/?sort=margin:asc">Margin</a><span class="arrow" title="largest first"> ▼</span>"#));
    assert_eq!(b.get("/?sort=price").status, 400);
}
