//! Exact decimal helpers for registry numbers that are not money: token-range bounds and
//! multipliers. Nothing here goes through a float.

use crate::money::Cents;

/// A non-negative decimal `digits × 10^exp`, parsed from a JSON number literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dec {
    digits: u128,
    exp: i32,
}

impl Dec {
    /// Zero.
    pub const ZERO: Dec = Dec { digits: 0, exp: 0 };

    /// Parses a JSON number literal. `Err` carries a reason for an error message.
    pub fn parse(text: &str) -> Result<Dec, &'static str> {
        let b = text.as_bytes();
        if b.first() == Some(&b'-') {
            let rest = &text[1..];
            if rest
                .bytes()
                .all(|c| c == b'0' || c == b'.' || c == b'e' || c == b'E')
                && rest.bytes().any(|c| c == b'0')
            {
                return Ok(Dec { digits: 0, exp: 0 });
            }
            return Err("must not be negative");
        }
        let mut i = 0;
        let mut digits: u128 = 0;
        let mut exp: i32 = 0;
        let mut seen_digit = false;
        let mut seen_dot = false;
        while i < b.len() {
            match b[i] {
                c @ b'0'..=b'9' => {
                    seen_digit = true;
                    if digits == 0 && c == b'0' {
                        if seen_dot {
                            exp -= 1;
                        }
                    } else if digits < 10u128.pow(37) {
                        digits = digits * 10 + u128::from(c - b'0');
                        if seen_dot {
                            exp -= 1;
                        }
                    } else if !seen_dot {
                        // Beyond 37 significant digits: keep the magnitude, drop the digit.
                        if c != b'0' {
                            return Err("has too many significant digits");
                        }
                        exp += 1;
                    } else if c != b'0' {
                        return Err("has too many significant digits");
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                b'e' | b'E' => break,
                _ => return Err("must be a JSON number"),
            }
            i += 1;
        }
        if !seen_digit {
            return Err("must be a JSON number");
        }
        if i < b.len() {
            let e: i32 = text[i + 1..]
                .trim_start_matches('+')
                .parse()
                .map_err(|_| "must be a JSON number")?;
            if !(-400..=400).contains(&e) {
                return Err("is out of range");
            }
            exp += e;
        }
        Ok(Dec { digits, exp })
    }

    /// The largest integer ≤ the value, saturating at `u64::MAX`.
    pub fn floor_u64(self) -> u64 {
        if self.digits == 0 {
            return 0;
        }
        if self.exp >= 0 {
            let Some(scale) = 10u128.checked_pow(self.exp as u32) else {
                return u64::MAX;
            };
            return self
                .digits
                .checked_mul(scale)
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(u64::MAX);
        }
        match 10u128.checked_pow((-self.exp) as u32) {
            Some(d) => u64::try_from(self.digits / d).unwrap_or(u64::MAX),
            None => 0,
        }
    }

    /// Exact comparison.
    pub fn cmp_exact(self, other: Dec) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self.digits == 0, other.digits == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Compare magnitudes first (number of integer digits), then digit strings.
        let len = |d: u128| d.to_string().len() as i32;
        let (ma, mb) = (len(self.digits) + self.exp, len(other.digits) + other.exp);
        if ma != mb {
            return ma.cmp(&mb);
        }
        let (mut a, mut b) = (self.digits.to_string(), other.digits.to_string());
        let width = a.len().max(b.len());
        while a.len() < width {
            a.push('0');
        }
        while b.len() < width {
            b.push('0');
        }
        a.cmp(&b)
    }
}

/// An exact multiplier `numerator / 10^scale` (e.g. `1.1` = 11 / 10^1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Multiplier {
    numerator: i128,
    scale: u32,
}

impl Multiplier {
    /// The identity.
    pub const ONE: Multiplier = Multiplier {
        numerator: 1,
        scale: 0,
    };

    /// Parses a non-negative JSON number with at most 24 fractional digits.
    pub(crate) fn parse(text: &str) -> Result<Multiplier, String> {
        let raw = Cents::from_cents_literal(text, false).map_err(|e| e.to_string())?;
        let mut numerator = raw.raw();
        let mut scale = crate::money::CENTS_SCALE;
        while scale > 0 && numerator % 10 == 0 {
            numerator /= 10;
            scale -= 1;
        }
        Ok(Multiplier { numerator, scale })
    }

    /// Fractional digits of the multiplier.
    pub(crate) fn scale(self) -> u32 {
        self.scale
    }

    /// True for exactly 1.
    pub(crate) fn is_one(self) -> bool {
        self.scale == 0 && self.numerator == 1
    }

    /// `amount × self`, exact; `None` on overflow or when the product needs more digits than
    /// [`Cents`] holds (rate-card validation rules that out for registry rates).
    pub(crate) fn apply(self, amount: Cents) -> Option<Cents> {
        if self.is_one() {
            return Some(amount);
        }
        amount.checked_mul_ratio(self.numerator, 10i128.checked_pow(self.scale)?)
    }
}

impl std::fmt::Display for Multiplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c =
            Cents::from_raw(self.numerator * 10i128.pow(crate::money::CENTS_SCALE - self.scale));
        write!(f, "{c}")
    }
}

/// Number of fractional digits of a cent the amount needs (0..=24).
pub(crate) fn cent_digits(c: Cents) -> u32 {
    let mut m = c.raw();
    if m == 0 {
        return 0;
    }
    let mut digits = crate::money::CENTS_SCALE;
    while digits > 0 && m % 10 == 0 {
        m /= 10;
        digits -= 1;
    }
    digits
}

/// Formats an amount of cents as US dollars, exactly (`0.0003` cents → `0.000003`).
pub fn usd_string(c: Cents) -> String {
    let neg = c.raw() < 0;
    let abs = c.raw().unsigned_abs();
    let unit = 10u128.pow(crate::money::CENTS_SCALE + 2);
    let int = abs / unit;
    let mut frac = abs % unit;
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if frac != 0 {
        let mut width = (crate::money::CENTS_SCALE + 2) as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        s.push('.');
        s.push_str(&format!("{frac:0width$}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_floor_and_compare() {
        let d = |s| Dec::parse(s).unwrap();
        assert_eq!(d("256000.0").floor_u64(), 256_000);
        assert_eq!(d("2.5").floor_u64(), 2);
        assert_eq!(d("1e6").floor_u64(), 1_000_000);
        assert_eq!(d("1e40").floor_u64(), u64::MAX);
        assert_eq!(d("0.0").floor_u64(), 0);
        assert_eq!(d("-0").floor_u64(), 0);
        assert!(Dec::parse("-1").is_err());
        assert!(Dec::parse("\"1\"").is_err());
        use std::cmp::Ordering::*;
        assert_eq!(d("2.3").cmp_exact(d("2.7")), Less);
        assert_eq!(d("32000").cmp_exact(d("3.2e4")), Equal);
        assert_eq!(d("0").cmp_exact(d("0.5")), Less);
        assert_eq!(d("100").cmp_exact(d("99.99")), Greater);
    }

    #[test]
    fn multipliers_are_exact() {
        let m = Multiplier::parse("1.1").unwrap();
        assert_eq!(m.scale(), 1);
        // 300 cents × 1.1 = 330 cents.
        let c = m.apply(Cents::from_whole_cents(300)).unwrap();
        assert_eq!(c.to_string(), "330");
        assert_eq!(Multiplier::parse("2.0").unwrap().scale(), 0);
        assert!(Multiplier::parse("-1").is_err());
        assert_eq!(m.to_string(), "1.1");
    }

    #[test]
    fn usd_formatting() {
        let c = Cents::from_usd_literal("3e-06").unwrap();
        assert_eq!(usd_string(c), "0.000003");
        assert_eq!(usd_string(Cents::from_usd_literal("12").unwrap()), "12");
        assert_eq!(cent_digits(c), 4);
    }
}
