//! The per-day chart: revenue and cost per UTC day as inline SVG, drawn on the server with
//! integer arithmetic (amounts are scaled in hundredths of a cent; no float anywhere).

use super::format::dollars;
use maud::{Markup, html};
use tollgate_engine::money::{CENTS_SCALE, Cents};

/// One day of the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Revenue of the day.
    pub revenue: Cents,
    /// Cost of the day.
    pub cost: Cents,
}

/// Picks one series' amount from a day.
type Pick = fn(&DayPoint) -> Cents;

/// Most days drawn: the latest ones.
pub const MAX_DAYS: usize = 90;

const WIDTH: i128 = 800;
const HEIGHT: i128 = 260;
const LEFT: i128 = 88;
const RIGHT: i128 = 56;
const TOP: i128 = 20;
const BOTTOM: i128 = 40;

/// Hundredths of a cent (rounded half-even): the unit the chart scales in.
fn units(c: Cents) -> i128 {
    c.round_half_even(2).raw() / 10i128.pow(CENTS_SCALE - 2)
}

fn cents_of_units(u: i128) -> Cents {
    Cents::from_raw(u.saturating_mul(10i128.pow(CENTS_SCALE - 2)))
}

/// `a × b / c` rounded toward zero, `c > 0`, saturating (the factors here are small).
fn scale(a: i128, b: i128, c: i128) -> i128 {
    a.saturating_mul(b) / c
}

/// The chart of `points` (oldest first; only the last [`MAX_DAYS`] are drawn). Every point is a
/// `<circle>` with `data-day`, `data-series` (`revenue` / `cost`) and `data-cents` (the exact
/// amount), and a `<title>` a browser shows on hover.
pub fn day_chart(points: &[DayPoint]) -> Markup {
    let points = &points[points.len().saturating_sub(MAX_DAYS)..];
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let values = points
        .iter()
        .flat_map(|p| [units(p.revenue), units(p.cost)]);
    let max = values.clone().max().unwrap_or(0).max(0);
    let min = values.min().unwrap_or(0).min(0);
    // A flat chart of zeros still needs a range to divide by.
    let range = (max - min).max(1);
    let n = points.len() as i128;
    let x = |i: usize| -> i128 {
        if n <= 1 {
            LEFT + plot_w / 2
        } else {
            LEFT + scale(i as i128, plot_w, n - 1)
        }
    };
    let y = |u: i128| -> i128 { TOP + scale(max - u, plot_h, range) };
    let line = |pick: Pick| -> String {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{},{}", x(i), y(units(pick(p)))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let series: [(&str, Pick); 2] = [("revenue", |p| p.revenue), ("cost", |p| p.cost)];
    // Labels on the x axis: at most about 8, always the first and the last day.
    let step = points.len().div_ceil(8).max(1);
    html! {
        svg class="day-chart" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width=(WIDTH) height=(HEIGHT)
            data-days=(points.len())
            aria-label=(format!("Revenue and cost per day, {} days", points.len())) {
            title { "Revenue and cost per UTC day" }
            // Axes and the zero line.
            line class="axis" x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) stroke="#999" {}
            line class="axis" x1=(LEFT) y1=(y(0)) x2=(LEFT + plot_w) y2=(y(0)) stroke="#999" {}
            text class="y-label" x=(LEFT - 6) y=(TOP + 4) text-anchor="end" font-size="11" {
                (dollars(cents_of_units(max)))
            }
            text class="y-label" x=(LEFT - 6) y=(y(0) + 4) text-anchor="end" font-size="11" { "$0.00" }
            @if min < 0 {
                text class="y-label" x=(LEFT - 6) y=(TOP + plot_h + 4) text-anchor="end" font-size="11" {
                    (dollars(cents_of_units(min)))
                }
            }
            @for (i, p) in points.iter().enumerate() {
                @if i % step == 0 || i + 1 == points.len() {
                    text class="x-label" x=(x(i)) y=(HEIGHT - BOTTOM + 18) text-anchor="middle" font-size="11" {
                        (p.day)
                    }
                }
            }
            @for (name, pick) in series {
                polyline class=(format!("series series-{name}")) fill="none"
                    stroke=(if name == "revenue" { "#1f77b4" } else { "#d62728" }) stroke-width="2"
                    points=(line(pick)) {}
                @for (i, p) in points.iter().enumerate() {
                    circle class=(format!("point point-{name}")) cx=(x(i)) cy=(y(units(pick(p)))) r="3.5"
                        fill=(if name == "revenue" { "#1f77b4" } else { "#d62728" })
                        data-series=(name) data-day=(p.day) data-cents=(pick(p).to_string()) {
                        title { (p.day) " " (name) " " (dollars(pick(p))) }
                    }
                }
            }
            // Legend, above the plot's top right corner.
            rect x=(WIDTH - RIGHT - 130) y="2" width="10" height="10" fill="#1f77b4" {}
            text x=(WIDTH - RIGHT - 116) y="11" font-size="11" { "revenue" }
            rect x=(WIDTH - RIGHT - 50) y="2" width="10" height="10" fill="#d62728" {}
            text x=(WIDTH - RIGHT - 36) y="11" font-size="11" { "cost" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(day: &str, revenue: &str, cost: &str) -> DayPoint {
        DayPoint {
            day: day.into(),
            revenue: revenue.parse().unwrap(),
            cost: cost.parse().unwrap(),
        }
    }

    #[test]
    fn one_circle_per_day_and_series_at_integer_positions() {
        let svg = day_chart(&[
            p("2026-11-01", "100", "50"),
            p("2026-11-02", "0", "25"),
            p("2026-11-03", "200", "0"),
        ])
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains(r#"data-days="3""#));
        // Plot height 260 − 20 − 40 = 200 px over 0..=20000 hundredths of a cent (max 200
        // cents): the first day's revenue of 100 cents sits at
        // y = 20 + (20000 − 10000) × 200 / 20000 = 120, x = 88; the middle day
        // (x = 88 + 656 / 2 = 416) costs 25 cents: y = 20 + (20000 − 2500) × 200 / 20000 = 195.
        assert!(svg.contains(r#"cx="88" cy="120""#), "{svg}");
        assert!(svg.contains(r#"cx="416" cy="195""#), "{svg}");
        assert!(svg.contains(r#"data-cents="200""#));
        assert!(svg.contains("$2.00"));
    }

    #[test]
    fn empty_and_single_day_charts_draw() {
        assert!(day_chart(&[]).into_string().contains(r#"data-days="0""#));
        let one = day_chart(&[p("2026-11-01", "1", "2")]).into_string();
        assert_eq!(one.matches("<circle").count(), 2);
    }

    #[test]
    fn only_the_latest_days_are_drawn() {
        let many: Vec<DayPoint> = (0..100).map(|i| p(&format!("d{i}"), "1", "1")).collect();
        let svg = day_chart(&many).into_string();
        assert_eq!(svg.matches("<circle").count(), 2 * MAX_DAYS);
        assert!(!svg.contains(r#"data-day="d9""#) && svg.contains(r#"data-day="d10""#));
    }
}
