//! `/healthz`, `/readyz` and `/metrics` over real TCP: no key needed, no secret or tenant name
//! in them, readiness follows shutdown, and the request histogram counts by route template.

mod v1_support;

use v1_support::{WS, metric, start, validate};

#[test]
fn health_readiness_and_metrics() {
    let env = start();
    let r = env.call("GET", "/healthz", None, None, None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));

    // Open the workspace (a first request), then ask for readiness.
    assert_eq!(env.get("/v1/customers", &env.read).status, 200);
    let r = env.call("GET", "/readyz", None, None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    validate("get", "/readyz", 200, &v);
    assert_eq!(v["ready"], true);
    assert_eq!(v["workspaces"], 1);

    // Metrics: no key needed; the OpenMetrics text ends with # EOF; the route label is the
    // template, so a policy id in a path shows up nowhere.
    for _ in 0..3 {
        assert_eq!(
            env.get("/v1/policies/some-secret-policy-name", &env.read)
                .status,
            405
        );
    }
    let r = env.call(
        "DELETE",
        "/v1/policies/some-secret-policy-name",
        Some(&env.admin),
        None,
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = env.call("GET", "/metrics", None, None, None);
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.body;
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    for name in [
        "tollgate_records_total",
        "tollgate_unpriced_events_total",
        "tollgate_http_request_duration_seconds_bucket",
        "tollgate_journal_fsync_duration_seconds_count",
        "tollgate_ratecard_age_seconds",
        "tollgate_workspaces",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert_eq!(metric(&text, "tollgate_workspaces", &[]), 1.0);
    assert_eq!(
        metric(
            &text,
            "tollgate_http_request_duration_seconds_count",
            &[
                ("route", "/v1/customers"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "tollgate_http_request_duration_seconds_count",
            &[
                ("route", "/v1/policies/{policyId}"),
                ("method", "DELETE"),
                ("status", "404")
            ]
        ),
        1.0
    );
    // The embedded card is effective from 1970: its age is at least the seconds since
    // 2026-01-01 (1,767,225,600).
    assert!(metric(&text, "tollgate_ratecard_age_seconds", &[]) >= 1_767_225_600.0);
    for secret in [&env.ingest, &env.read, &env.admin] {
        assert!(!text.contains(secret.as_str()));
    }
    assert!(!text.contains(WS));
    assert!(!text.contains("some-secret-policy-name"));

    // Shutting down: not ready any more (the server still answers while it drains).
    env.server.state().begin_shutdown();
    let r = env.call("GET", "/readyz", None, None, None);
    assert_eq!(r.status, 503);
    let v = r.json();
    validate("get", "/readyz", 503, &v);
    assert_eq!(v["ready"], false);
    assert_eq!(v["problems"][0], "shutting down");
}
