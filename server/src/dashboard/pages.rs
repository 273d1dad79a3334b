//! The pages, as maud templates: every interpolated value is HTML-escaped by maud unless it is
//! wrapped in `PreEscaped`, which this file never does with anything a user sent.

use super::chart::day_chart;
use super::data::{CardStatus, CustomerPage, NamedRow, Overview};
use super::format::{age, count, dollars, instant, percent};
use maud::{DOCTYPE, Markup, html};
use tollgate_engine::ledger::{Margin, ReportBreach, ReportUnpriced, Sort, SortKey};
use tollgate_engine::money::Cents;

/// The page around every view. `csrf` is `Some` for a logged-in session (the logout form).
fn layout(title: &str, workspace: Option<&str>, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tollgate" }
                link rel="stylesheet" href="/assets/dashboard.css";
            }
            body {
                header {
                    a.brand href="/" { "Tollgate" }
                    @if let Some(ws) = workspace {
                        span.workspace { "workspace " strong id="workspace" { (ws) } }
                    }
                    @if let Some(token) = csrf {
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(token);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A money cell: dollars for people, the exact cents in `data-cents` and the tooltip.
fn money(c: Cents) -> Markup {
    let exact = c.to_string();
    html! {
        span.money.negative[c.is_negative()] data-cents=(exact) title=(format!("{exact} cents")) { (dollars(c)) }
    }
}

fn margin_cells(m: &Margin) -> Markup {
    html! {
        td.num.revenue { (money(m.revenue_cents)) }
        td.num.cost {
            (money(m.cost_cents))
            // Unpriced is not $0: the cost above leaves these events out.
            @if m.unpriced_events > 0 {
                " " span.unpriced-flag title="events the rate card could not price; their cost is not included" {
                    "+" (count(m.unpriced_events)) " unpriced"
                }
            }
        }
        td.num.margin { (money(m.margin_cents())) }
        td.num.pct { (percent(m.margin_pct())) }
        td.num.events { (count(m.events)) }
    }
}

fn margin_headers() -> Markup {
    html! {
        th.num { "Revenue" } th.num { "Cost" } th.num { "Margin" } th.num { "Margin %" } th.num { "Events" }
    }
}

/// The customers table's money headers: each a link that orders by it (largest first; again
/// for smallest first), the current order marked.
fn sortable_headers(current: Option<Sort>) -> Markup {
    let keys = [
        ("Revenue", SortKey::Revenue, "revenue"),
        ("Cost", SortKey::Cost, "cost"),
        ("Margin", SortKey::Margin, "margin"),
        ("Margin %", SortKey::MarginPct, "margin_pct"),
        ("Events", SortKey::Events, "events"),
    ];
    html! {
        @for (label, key, name) in keys {
            @let active = current.filter(|s| s.key == key);
            @let href = match active {
                Some(s) if s.descending => format!("/?sort={name}:asc"),
                _ => format!("/?sort={name}"),
            };
            th.num {
                a.sort href=(href) { (label) }
                @match active {
                    Some(s) if s.descending => span.arrow title="largest first" { " ▼" },
                    Some(_) => span.arrow title="smallest first" { " ▲" },
                    None => "",
                }
            }
        }
    }
}

fn summary(m: &Margin) -> Markup {
    html! {
        dl.summary {
            div { dt { "Revenue" } dd id="total-revenue" { (money(m.revenue_cents)) } }
            div { dt { "Cost" } dd id="total-cost" { (money(m.cost_cents)) } }
            div { dt { "Margin" } dd id="total-margin" { (money(m.margin_cents())) } }
            div { dt { "Margin %" } dd id="total-pct" { (percent(m.margin_pct())) } }
            div { dt { "Events" } dd id="total-events" { (count(m.events)) } }
            div { dt { "Unpriced events" } dd id="total-unpriced" { (count(m.unpriced_events)) } }
        }
    }
}

fn more(shown: usize, total: usize, what: &str) -> Markup {
    html! {
        @if total > shown {
            p.more { "Showing " (shown) " of " (count(total as u64)) " " (what) "." }
        }
    }
}

fn opt(name: Option<&str>, none: &str) -> Markup {
    html! {
        @match name {
            Some(n) => (n),
            None => em { (none) },
        }
    }
}

fn unpriced_section(rows: &[ReportUnpriced]) -> Markup {
    html! {
        section id="unpriced" {
            h2 { "Unpriced models" }
            @if rows.is_empty() {
                p.empty { "Every event was priced." }
            } @else {
                p { "Events the rate card could not price count as unpriced, not as $0." }
                table {
                    thead { tr { th { "Provider" } th { "Model" } th.num { "Unpriced events" } } }
                    tbody {
                        @for u in rows {
                            tr.unpriced-row {
                                td { (opt(u.provider.as_deref(), "none")) }
                                td.model { (opt(u.model.as_deref(), "none")) }
                                td.num { (count(u.events)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn breaches_section(rows: &[ReportBreach], with_customer: bool) -> Markup {
    html! {
        section id="breaches" {
            h2 { "Policy breaches" }
            @if rows.is_empty() {
                p.empty { "No policy is breached." }
            } @else {
                table {
                    thead { tr {
                        @if with_customer { th { "Customer" } }
                        th { "Policy" } th { "Period" } th { "Rule" } th { "Detail" }
                    } }
                    tbody {
                        @for b in rows {
                            tr.breach-row {
                                @if with_customer { td { a href=(customer_href(&b.customer_id)) { (b.customer_id) } } }
                                td { (b.policy_id) } td { (b.period) } td.rule { (b.rule) } td { (b.detail) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `/customers/<id>` with the id percent-encoded as one path segment.
pub fn customer_href(id: &str) -> String {
    let mut out = String::from("/customers/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn card_section(card: &CardStatus, now_ms: i64) -> Markup {
    let c = &card.current;
    html! {
        section id="ratecard" {
            h2 { "Rate card" }
            dl.card {
                div { dt { "In force" } dd id="card-id" { code { (c.id) } @if card.embedded { " (embedded LiteLLM 1.110.2)" } } }
                @if card.embedded && c.effective_from_ms <= 0 {
                    // The embedded card is in force from the start of time: no date, no age.
                    div { dt { "Effective from" } dd id="card-effective" { "always (ships with the server)" } }
                } @else {
                    div { dt { "Effective from" } dd id="card-effective" { (instant(c.effective_from_ms)) } }
                    div { dt { "Age" } dd id="card-age" { (age(now_ms.saturating_sub(c.effective_from_ms))) } }
                }
                div { dt { "Models" } dd id="card-models" { (count(c.models as u64)) } }
                div { dt { "Cards known" } dd id="card-count" { (card.cards) } }
            }
            p id="card-sync" {
                @match &card.last_pull {
                    None => "Rate-card sync: not running, or no pull yet.",
                    Some(Ok(report)) => { "Last sync: " (report) }
                    Some(Err(e)) => span.error { "Last sync failed: " (e) },
                }
            }
            @match &card.last_diff {
                None => p.empty id="card-diff" { "No earlier card to compare with." },
                Some(d) => div id="card-diff" {
                    p { "Changes from " code { (d.from.id) } " (effective " (instant(d.from.effective_from_ms)) "): "
                        strong id="diff-added" { (d.added.0) } " added, "
                        strong id="diff-removed" { (d.removed.0) } " removed, "
                        strong id="diff-repriced" { (d.repriced.0) } " repriced." }
                    @for (label, (total, names)) in [("Added", &d.added), ("Removed", &d.removed), ("Repriced", &d.repriced)] {
                        @if !names.is_empty() {
                            details {
                                summary { (label) " (" (total) ")" }
                                ul.models { @for n in names { li { code { (n) } } } }
                                @if *total > names.len() { p.more { "and " (total - names.len()) " more" } }
                            }
                        }
                    }
                },
            }
        }
    }
}

/// `/`: totals, the per-day chart, customers, unpriced models, breaches, the rate card.
pub fn overview(o: &Overview, workspace: &str, csrf: &str, now_ms: i64) -> Markup {
    layout(
        "Overview",
        Some(workspace),
        Some(csrf),
        html! {
            h1 { "Margin overview" }
            (summary(&o.totals))
            section id="chart" {
                h2 { "Per day (UTC)" }
                (day_chart(&o.days))
            }
            section id="customers" {
                h2 { "Customers" }
                @if o.customers.is_empty() {
                    p.empty { "No events yet." }
                } @else {
                    table {
                        thead { tr { th { a.sort href="/" { "Customer" } } th { "Name" } (sortable_headers(o.sort)) } }
                        tbody {
                            @for c in &o.customers {
                                tr.customer-row data-customer=(c.id) {
                                    td.id { a href=(customer_href(&c.id)) { (c.id) } }
                                    td.name { (opt(c.name.as_deref(), "")) }
                                    (margin_cells(&c.margin))
                                }
                            }
                        }
                    }
                    (more(o.customers.len(), o.customer_count, "customers"))
                }
            }
            (unpriced_section(&o.unpriced))
            (breaches_section(&o.breaches, true))
            (card_section(&o.card, now_ms))
        },
    )
}

fn named_table(
    id: &str,
    label: &str,
    none: &str,
    rows: &[NamedRow],
    with_provider: bool,
) -> Markup {
    html! {
        table id=(id) {
            thead { tr { @if with_provider { th { "Provider" } } th { (label) } (margin_headers()) } }
            tbody {
                @for r in rows {
                    tr.named-row {
                        @if with_provider { td { (opt(r.provider.as_deref(), "")) } }
                        td.name { (opt(r.name.as_deref(), none)) }
                        (margin_cells(&r.margin))
                    }
                }
            }
        }
    }
}

/// `/customers/{id}`: the customer's money, runs with outcomes, agents, models, unpriced
/// models and breaches.
pub fn customer(p: &CustomerPage, workspace: &str, csrf: &str) -> Markup {
    layout(
        &p.id,
        Some(workspace),
        Some(csrf),
        html! {
            p.back { a href="/" { "← Overview" } }
            h1 { "Customer " span id="customer-id" { (p.id) } }
            @if let Some(n) = &p.name { p id="customer-name" { (n) } }
            (summary(&p.totals))
            section id="chart" {
                h2 { "Per day (UTC)" }
                (day_chart(&p.days))
            }
            section id="runs" {
                h2 { "Runs" }
                @if p.runs.is_empty() {
                    p.empty { "No runs." }
                } @else {
                    table {
                        thead { tr { th { "Run" } th { "Outcome" } (margin_headers()) } }
                        tbody {
                            @for r in &p.runs {
                                tr.run-row data-run=(r.run_id) {
                                    td.id { (r.run_id) }
                                    td.outcome { span class=(format!("badge outcome-{}", r.status.as_str())) { (r.status.as_str()) } }
                                    (margin_cells(&r.margin))
                                }
                            }
                        }
                    }
                    (more(p.runs.len(), p.run_count, "runs"))
                }
            }
            section id="agents" {
                h2 { "Agents" }
                (named_table("agents-table", "Agent", "(no agent)", &p.agents, false))
                (more(p.agents.len(), p.agent_count, "agents"))
            }
            section id="models" {
                h2 { "Models" }
                (named_table("models-table", "Model", "(no model)", &p.models, true))
                (more(p.models.len(), p.model_count, "models"))
            }
            (unpriced_section(&p.unpriced))
            (breaches_section(&p.breaches, false))
        },
    )
}

/// `/login`. `error` is a fixed message of ours (never the key or anything the user sent).
pub fn login(csrf: &str, error: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        None,
        html! {
            h1 { "Log in" }
            p { "Use an API key with the " code { "read" } " or " code { "admin" } " scope. The dashboard shows that key's workspace only." }
            @if let Some(e) = error { p.error id="login-error" role="alert" { (e) } }
            form id="login" method="post" action="/login" autocomplete="off" {
                input type="hidden" name="csrf" value=(csrf);
                label for="key" { "API key" }
                input id="key" type="password" name="key" required autocomplete="off" spellcheck="false";
                button type="submit" { "Log in" }
            }
        },
    )
}

/// A page for a status other than 200 (404, 403…) with a fixed message of ours.
pub fn message(title: &str, text: &str, workspace: Option<&str>, csrf: Option<&str>) -> Markup {
    layout(
        title,
        workspace,
        csrf,
        html! {
            h1 { (title) }
            p.message { (text) }
            p { a href="/" { "Overview" } }
        },
    )
}

/// The stylesheet at `/assets/dashboard.css`.
pub const CSS: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1.5em; background: #1d2330; color: #fff; }
header a.brand { color: #fff; font-weight: 700; text-decoration: none; font-size: 1.1em; }
header .workspace { opacity: .85; }
header form.logout { margin-left: auto; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em 3em; }
h1 { font-size: 1.5em; margin: .6em 0; }
h2 { font-size: 1.15em; margin: 1.6em 0 .5em; }
dl.summary, dl.card { display: flex; flex-wrap: wrap; gap: .8em; margin: 0; }
dl.summary div, dl.card div { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .5em .9em; min-width: 9em; }
dt { font-size: .8em; color: #5a6372; text-transform: uppercase; letter-spacing: .03em; }
dd { margin: .1em 0 0; font-size: 1.2em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde1e7; }
th, td { padding: .35em .7em; border-bottom: 1px solid #eceff3; text-align: left; }
th { background: #eef1f5; font-weight: 600; }
th a.sort { color: inherit; text-decoration: none; } th a.sort:hover { text-decoration: underline; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.negative { color: #b3261e; }
.badge { padding: 0 .4em; border-radius: 3px; background: #eceff3; }
.outcome-resolved { background: #d9f2e0; } .outcome-escalated { background: #fff1c9; } .outcome-failed { background: #fbdcd9; }
svg.day-chart { background: #fff; border: 1px solid #dde1e7; max-width: 100%; height: auto; }
.error { color: #b3261e; font-weight: 600; }
.empty, .more { color: #5a6372; }
.unpriced-flag { font-size: .8em; color: #8a5a00; background: #fff1c9; border-radius: 3px; padding: 0 .3em; }
form#login { display: flex; flex-direction: column; gap: .5em; max-width: 24em; }
form#login input { padding: .4em; font: inherit; }
button { font: inherit; padding: .3em .9em; cursor: pointer; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_links_are_one_encoded_segment() {
        assert_eq!(customer_href("acme-1"), "/customers/acme-1");
        assert_eq!(customer_href("a/b c"), "/customers/a%2Fb%20c");
        assert_eq!(customer_href("<x>"), "/customers/%3Cx%3E");
    }

    #[test]
    fn text_is_escaped() {
        let page =
            message("<script>alert(1)</script>", "a & b", Some("\"ws\""), None).into_string();
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a &amp; b"));
        assert!(page.contains("&quot;ws&quot;"));
    }
}
