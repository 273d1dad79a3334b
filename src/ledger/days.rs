//! UTC days and the straight-line daily accrual of monthly amounts (docs/reference/ledger.md (customers and plans)).
//!
//! A monthly amount `M` (a [`Cents`] mantissa, units of 10^-24 cent) is spread over the `n` days
//! of its calendar month exactly: with `q = M div n` and `r = M mod n`, the first `n − r` days
//! accrue `q` and the last `r` days accrue `q + 1`. The days of a month therefore sum to exactly
//! `M` and two days of one month differ by at most 10^-24 cent. Nothing is ever rounded away.

use crate::money::Cents;
use time::{Date, Month};

/// A UTC day: whole days since 1970-01-01.
pub type Day = i64;

/// Milliseconds in a UTC day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// The last day a timestamp can fall on: 9999-12-31.
pub const MAX_DAY: Day = crate::event::MAX_TIMESTAMP_MS / MS_PER_DAY;

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// The UTC day of an epoch-millisecond instant.
#[inline]
pub fn day_of_ms(ms: i64) -> Day {
    ms.div_euclid(MS_PER_DAY)
}

/// The calendar date of a day, `None` outside the years the `time` crate represents.
pub fn date_of_day(day: Day) -> Option<Date> {
    let julian = i32::try_from(day.checked_add(UNIX_EPOCH_JULIAN_DAY)?).ok()?;
    Date::from_julian_day(julian).ok()
}

/// The day of a calendar date.
pub fn day_of_date(date: Date) -> Day {
    i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

/// Formats a day as `YYYY-MM-DD`.
pub fn format_day(day: Day) -> String {
    match date_of_day(day) {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        None => format!("day {day}"),
    }
}

/// Parses `YYYY-MM-DD` (a UTC day) between 1970-01-01 and 9999-12-31.
pub fn parse_day(text: &str) -> Result<Day, String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = b.get(r)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let bad = || {
        format!(
            "\"{}\" is not a day (expected YYYY-MM-DD)",
            crate::event::clip(text)
        )
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = match (digits(0..4), digits(5..7), digits(8..10)) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let year = i32::try_from(y).map_err(|_| bad())?;
    let date = Date::from_calendar_date(year, month, u8::try_from(d).map_err(|_| bad())?)
        .map_err(|_| format!("\"{}\" is not a calendar day", crate::event::clip(text)))?;
    let day = day_of_date(date);
    if !(0..=MAX_DAY).contains(&day) {
        return Err(format!(
            "\"{}\" is before 1970-01-01",
            crate::event::clip(text)
        ));
    }
    Ok(day)
}

/// Position of a day in the calendar: month index since 1970-01 (`year × 12 + month − 1`
/// relative to 1970), day of month (1-based) and the month's length.
fn month_position(day: Day) -> Option<(i64, i64, i64)> {
    let d = date_of_day(day)?;
    let month_index = (i64::from(d.year()) - 1970) * 12 + i64::from(u8::from(d.month())) - 1;
    let len = i64::from(d.month().length(d.year()));
    Some((month_index, i64::from(d.day()), len))
}

/// Accrual of the first `k` days (0 ≤ k ≤ n) of a month of `n` days for the monthly mantissa
/// `m ≥ 0`: `k·q + max(0, k − (n − r))`.
fn within_month(m: i128, k: i64, n: i64) -> Option<i128> {
    let n128 = i128::from(n);
    let q = m / n128;
    let r = m % n128;
    let k128 = i128::from(k);
    let extra = (k128 - (n128 - r)).max(0);
    q.checked_mul(k128)?.checked_add(extra)
}

/// Exact accrual of a monthly amount over the UTC days `first..=last` (inclusive). Zero when
/// the range is empty; `None` when the sum leaves the range of [`Cents`] or a day is outside
/// the calendar.
///
/// ```
/// use tollgate_engine::ledger::days::{accrue_monthly, parse_day};
/// use tollgate_engine::money::Cents;
/// // $31 a month = 3100 cents over January's 31 days: 100 cents a day; Jan 10..=Jan 19 = 1000.
/// let fee = Cents::from_whole_cents(3100);
/// let (a, b) = (parse_day("2026-01-10").unwrap(), parse_day("2026-01-19").unwrap());
/// assert_eq!(accrue_monthly(fee, a, b).unwrap(), Cents::from_whole_cents(1000));
/// ```
pub fn accrue_monthly(monthly: Cents, first: Day, last: Day) -> Option<Cents> {
    if last < first || monthly.is_zero() {
        return Some(Cents::ZERO);
    }
    let m = monthly.raw();
    if m < 0 {
        return None;
    }
    let (mi_a, k_a, n_a) = month_position(first)?;
    let (mi_b, k_b, n_b) = month_position(last)?;
    // Whole months from first's month up to (not including) last's month, plus the part of
    // last's month through `last`, minus the part of first's month before `first`.
    let months = i128::from(mi_b - mi_a);
    let total = m
        .checked_mul(months)?
        .checked_add(within_month(m, k_b, n_b)?)?
        .checked_sub(within_month(m, k_a - 1, n_a)?)?;
    Some(Cents::from_raw(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        // 2026-01-02 is day 20455 (hand computed: 56 years incl. 14 leap days = 20454 + 1).
        assert_eq!(parse_day("2026-01-02").unwrap(), 20_455);
        assert_eq!(format_day(20_455), "2026-01-02");
        assert_eq!(parse_day("9999-12-31").unwrap(), MAX_DAY);
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("2026-1-02").is_err());
        assert!(parse_day("1969-12-31").is_err());
        assert!(parse_day("2026-13-01").is_err());
        assert_eq!(day_of_ms(MS_PER_DAY - 1), 0);
        assert_eq!(day_of_ms(MS_PER_DAY), 1);
    }

    #[test]
    fn a_month_accrues_exactly_its_amount() {
        // 1000 cents over February 2026 (28 days): 1000/28 = 35.714285… cents a day; the
        // 10^-24-cent remainder goes to the last days, and the month sums to exactly 1000.
        let fee = Cents::from_whole_cents(1000);
        let feb1 = parse_day("2026-02-01").unwrap();
        let feb28 = parse_day("2026-02-28").unwrap();
        assert_eq!(
            accrue_monthly(fee, feb1, feb28).unwrap(),
            Cents::from_whole_cents(1000)
        );
        // raw 10^27 / 28 = 35714285714285714285714285 rem 20: first 8 days get q, last 20 q+1.
        let q: i128 = 35_714_285_714_285_714_285_714_285;
        assert_eq!(accrue_monthly(fee, feb1, feb1).unwrap().raw(), q);
        assert_eq!(accrue_monthly(fee, feb28, feb28).unwrap().raw(), q + 1);
        let feb8 = feb1 + 7;
        let feb9 = feb1 + 8;
        assert_eq!(accrue_monthly(fee, feb8, feb8).unwrap().raw(), q);
        assert_eq!(accrue_monthly(fee, feb9, feb9).unwrap().raw(), q + 1);
        // Across a year: 12 × 1000.
        let jan1 = parse_day("2026-01-01").unwrap();
        let dec31 = parse_day("2026-12-31").unwrap();
        assert_eq!(
            accrue_monthly(fee, jan1, dec31).unwrap(),
            Cents::from_whole_cents(12_000)
        );
        assert_eq!(accrue_monthly(fee, dec31, jan1).unwrap(), Cents::ZERO);
    }
}
