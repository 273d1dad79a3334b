//! How the dashboard writes money, percentages and instants: exact decimal text, never a float.

use tollgate_engine::ledger::Percent;
use tollgate_engine::money::Cents;

/// Fractional digits of a cent the dashboard shows: 2, i.e. dollars to 4 decimal places
/// (1/100 of a cent). The exact amount is in the element's `title` and `data-cents`.
pub const SHOWN_CENT_DIGITS: u32 = 2;

/// An amount of cents as dollars for people: rounded half-even to 1/100 of a cent, at least
/// two decimals, trailing zeros beyond them dropped, thousands separated by commas.
///
/// `123456.7` cents → `$1,234.567`; `0.75` → `$0.0075`; `-12.5` → `-$0.125`; `200` → `$2.00`.
pub fn dollars(c: Cents) -> String {
    let text = c.round_half_even(SHOWN_CENT_DIGITS).to_string();
    let (neg, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_cents, frac_cents) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    // Dollars are the cents' integer digits but the last two; those two lead the fraction.
    let padded = format!("{int_cents:0>3}");
    let (int_dollars, cent_digits) = padded.split_at(padded.len() - 2);
    let int_dollars = int_dollars.trim_start_matches('0');
    let int_dollars = if int_dollars.is_empty() {
        "0"
    } else {
        int_dollars
    };
    let mut frac = format!("{cent_digits}{frac_cents}");
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    let zero = int_dollars == "0" && frac.bytes().all(|b| b == b'0');
    let sign = if neg && !zero { "-" } else { "" };
    format!("{sign}${}.{frac}", group_thousands(int_dollars))
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `70.00 %`, or `—` when there is no revenue to take a percentage of.
pub fn percent(p: Option<Percent>) -> String {
    p.map_or_else(|| "—".to_string(), |p| format!("{p} %"))
}

/// An epoch-ms instant as `2026-11-02 10:00:00 UTC`.
pub fn instant(ms: i64) -> String {
    let t = tollgate_sync::format_ms(ms);
    t.replacen('T', " ", 1).replace('Z', " UTC")
}

/// A duration in milliseconds as `3 d 4 h`, `5 h 12 min`, `42 min`, `under a minute`
/// (negative: `in the future`).
pub fn age(ms: i64) -> String {
    if ms < 0 {
        return "in the future".to_string();
    }
    let minutes = ms / 60_000;
    let (d, h, m) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (d, h, m) {
        (0, 0, 0) => "under a minute".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cents {
        s.parse().unwrap()
    }

    #[test]
    fn dollars_are_exact_text() {
        assert_eq!(dollars(c("0")), "$0.00");
        assert_eq!(dollars(c("200")), "$2.00");
        assert_eq!(dollars(c("5")), "$0.05");
        assert_eq!(dollars(c("0.75")), "$0.0075");
        assert_eq!(dollars(c("123456.7")), "$1,234.567");
        assert_eq!(dollars(c("-12.5")), "-$0.125");
        assert_eq!(dollars(c("100000000")), "$1,000,000.00");
        // Half-even at 1/100 of a cent: 0.125 → 0.12, 0.135 → 0.14.
        assert_eq!(dollars(c("0.125")), "$0.0012");
        assert_eq!(dollars(c("0.135")), "$0.0014");
        // Too small to show is zero, without a sign.
        assert_eq!(dollars(c("-0.001")), "$0.00");
    }

    #[test]
    fn thousands_and_ages() {
        assert_eq!(group_thousands("1"), "1");
        assert_eq!(group_thousands("1000"), "1,000");
        assert_eq!(group_thousands("123456"), "123,456");
        assert_eq!(age(0), "under a minute");
        assert_eq!(age(42 * 60_000), "42 min");
        assert_eq!(age((5 * 60 + 12) * 60_000), "5 h 12 min");
        assert_eq!(age((3 * 24 + 4) * 3_600_000), "3 d 4 h");
        // 1.8e9 s is 2027-01-15T08:00:00Z; 1e7 s (115 d 17:46:40) earlier:
        assert_eq!(instant(1_790_000_000_000), "2026-09-21 14:13:20 UTC");
    }
}
