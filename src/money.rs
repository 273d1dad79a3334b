//! Exact money: [`Cents`], a fixed-point amount with 24 fractional digits of a cent.
//!
//! Every rate in the LiteLLM registry has at most 24 fractional digits of a US dollar, so a
//! rate expressed in cents has at most 22, and `count × rate` is exact at 24 digits with two
//! digits of headroom (batch halving, a one-digit multiplier such as `1.1`). The mantissa is an
//! `i128`, which holds ±1.7 × 10^14 cents (± 1.7 trillion USD) — far beyond any single event or
//! ledger total; every operation is checked and reports overflow instead of wrapping.
//!
//! [`Cents`] converts losslessly to [`rust_decimal::Decimal`] (the public money type of the
//! surrounding API) whenever the value has at most 28 significant digits, which every realistic
//! amount has. Nothing here ever goes through `f32`/`f64`.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// Number of fractional digits of a cent held by [`Cents`].
pub const CENTS_SCALE: u32 = 24;

/// `10^CENTS_SCALE`: the mantissa of one cent.
pub const ONE_CENT: i128 = 10i128.pow(CENTS_SCALE);

/// An exact amount of money in cents (USD × 100), fixed-point with [`CENTS_SCALE`] fractional
/// digits. Negative values are allowed (margins); costs and revenues are never negative.
///
/// ```
/// use tollgate_engine::money::Cents;
/// let rate = Cents::from_usd_literal("3e-06").unwrap(); // $3 per million tokens
/// let cost = rate.checked_mul_count(1_000_000).unwrap();
/// assert_eq!(cost.to_string(), "300");
/// assert_eq!(cost.to_decimal().unwrap(), rust_decimal::Decimal::from(300));
/// // Debug shows the amount too, not the raw mantissa:
/// assert_eq!(format!("{cost:?}"), "Cents(300)");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(i128);

impl Cents {
    /// Appends the exact decimal text of the amount (as [`Display`](fmt::Display) writes it)
    /// to `out`, without the formatting machinery: for hot output paths that write many
    /// amounts into one buffer.
    ///
    /// ```
    /// use tollgate_engine::money::Cents;
    /// let mut out = Vec::new();
    /// "0.4245".parse::<Cents>().unwrap().write_text(&mut out);
    /// out.push(b' ');
    /// "-12.5".parse::<Cents>().unwrap().write_text(&mut out);
    /// assert_eq!(out, b"0.4245 -12.5");
    /// ```
    pub fn write_text(self, out: &mut Vec<u8>) {
        crate::json_text::write_cents(out, self);
    }
}

impl fmt::Debug for Cents {
    /// `Cents(0.4245)`: the exact amount in cents, as [`Display`](fmt::Display) writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cents({self})")
    }
}

/// Why a decimal text or value could not become an exact [`Cents`] amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// The text is not a decimal number (`"abc"`, `""`, `"1.2.3"`).
    NotANumber,
    /// The amount is below zero where only non-negative amounts are allowed.
    Negative,
    /// The amount needs more fractional digits than [`Cents`] holds, so it would be rounded.
    TooPrecise,
    /// The amount is outside the range of [`Cents`] (about ±1.7 × 10^14 cents).
    OutOfRange,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmountError::NotANumber => "not a decimal number",
            AmountError::Negative => "must not be negative",
            AmountError::TooPrecise => {
                "has more fractional digits than the engine holds exactly (24 digits of a cent)"
            }
            AmountError::OutOfRange => "is out of range (|amount| must be below 1.7e14 cents)",
        })
    }
}

impl std::error::Error for AmountError {}

impl Cents {
    /// Zero cents.
    pub const ZERO: Cents = Cents(0);

    /// Builds an amount from its raw mantissa (units of 10^-24 cent).
    pub const fn from_raw(mantissa: i128) -> Cents {
        Cents(mantissa)
    }

    /// The raw mantissa in units of 10^-24 cent.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// A whole number of cents.
    pub const fn from_whole_cents(cents: i64) -> Cents {
        Cents(cents as i128 * ONE_CENT)
    }

    /// Parses a decimal literal in **US dollars** (`"3e-06"`, `"2.0000000000000002E-7"`,
    /// `"0.5"`) exactly into cents. Negative literals are rejected: rates are never negative.
    pub fn from_usd_literal(text: &str) -> Result<Cents, AmountError> {
        parse_scaled(text, CENTS_SCALE as i32 + 2, false).map(Cents)
    }

    /// Parses a decimal literal in **cents** (`"12.5"`, `"1e2"`) exactly. `allow_negative`
    /// selects whether a leading `-` is accepted.
    pub fn from_cents_literal(text: &str, allow_negative: bool) -> Result<Cents, AmountError> {
        parse_scaled(text, CENTS_SCALE as i32, allow_negative).map(Cents)
    }

    /// Converts a [`Decimal`] amount of cents exactly.
    pub fn from_decimal(value: Decimal) -> Result<Cents, AmountError> {
        let scale = value.scale();
        let mantissa = value.mantissa();
        if scale > CENTS_SCALE {
            let drop = 10i128.pow(scale - CENTS_SCALE);
            if mantissa % drop != 0 {
                return Err(AmountError::TooPrecise);
            }
            return Ok(Cents(mantissa / drop));
        }
        mantissa
            .checked_mul(10i128.pow(CENTS_SCALE - scale))
            .map(Cents)
            .ok_or(AmountError::OutOfRange)
    }

    /// Converts to a [`Decimal`] exactly, with trailing zeros removed. Fails with
    /// [`AmountError::TooPrecise`] only when the value has more than 28 significant digits.
    pub fn to_decimal(self) -> Result<Decimal, AmountError> {
        let mut m = self.0;
        let mut scale = CENTS_SCALE;
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        Decimal::try_from_i128_with_scale(m, scale).map_err(|_| AmountError::TooPrecise)
    }

    /// `self × count`, checked. Used for `tokens × rate`.
    #[inline]
    pub fn checked_mul_count(self, count: u64) -> Option<Cents> {
        self.0.checked_mul(count as i128).map(Cents)
    }

    /// `self + other`, checked.
    #[inline]
    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    /// `self − other`, checked.
    #[inline]
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// `self × numerator / denominator`, only when the result is exact (no remainder);
    /// `None` on overflow or when the division would round.
    pub fn checked_mul_ratio(self, numerator: i128, denominator: i128) -> Option<Cents> {
        let product = self.0.checked_mul(numerator)?;
        if denominator == 0 || product % denominator != 0 {
            return None;
        }
        Some(Cents(product / denominator))
    }

    /// True when the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// True when the amount is exactly zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Rounds half-to-even to `digits` fractional digits of a cent (for display to humans only;
    /// the ledger never rounds). `digits` above [`CENTS_SCALE`] returns the value unchanged.
    pub fn round_half_even(self, digits: u32) -> Cents {
        if digits >= CENTS_SCALE {
            return self;
        }
        let unit = 10i128.pow(CENTS_SCALE - digits);
        let q = self.0.div_euclid(unit);
        let r = self.0.rem_euclid(unit);
        let twice = r * 2;
        let up = twice > unit || (twice == unit && q % 2 != 0);
        Cents((q + i128::from(up)) * unit)
    }
}

impl fmt::Display for Cents {
    /// Exact decimal text in cents, shortest form: `300`, `0.4245`, `-12.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let unit = ONE_CENT as u128;
        let int = abs / unit;
        let mut frac = abs % unit;
        if neg {
            f.write_str("-")?;
        }
        write!(f, "{int}")?;
        if frac != 0 {
            let mut width = CENTS_SCALE as usize;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        Ok(())
    }
}

impl FromStr for Cents {
    type Err = AmountError;
    /// Parses a decimal amount of cents; negative values allowed.
    fn from_str(s: &str) -> Result<Cents, AmountError> {
        Cents::from_cents_literal(s, true)
    }
}

/// Parses a JSON-style decimal literal (`-?digits(.digits)?([eE][+-]?digits)?`) into an integer
/// scaled by `10^scale`, exactly. Rejects anything that would need rounding.
fn parse_scaled(text: &str, scale: i32, allow_negative: bool) -> Result<i128, AmountError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if bytes.first() == Some(&b'-') {
        neg = true;
        i = 1;
    } else if bytes.first() == Some(&b'+') {
        i = 1;
    }
    let mut digits: i128 = 0;
    let mut n_digits = 0usize;
    let mut frac_digits: i32 = 0;
    let mut seen_dot = false;
    let mut significant = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'0'..=b'9' => {
                n_digits += 1;
                if b != b'0' {
                    significant = true;
                }
                // Leading zeros cost nothing; beyond 38 significant digits we cannot be exact.
                if significant {
                    digits = digits
                        .checked_mul(10)
                        .and_then(|d| d.checked_add(i128::from(b - b'0')))
                        .ok_or(AmountError::OutOfRange)?;
                }
                if seen_dot {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(AmountError::NotANumber),
        }
        i += 1;
    }
    if n_digits == 0 {
        return Err(AmountError::NotANumber);
    }
    let mut exp: i32 = 0;
    if i < bytes.len() {
        // exponent
        i += 1;
        let mut exp_neg = false;
        match bytes.get(i) {
            Some(b'-') => {
                exp_neg = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        while i < bytes.len() {
            let b = bytes[i];
            if !b.is_ascii_digit() {
                return Err(AmountError::NotANumber);
            }
            exp = exp
                .checked_mul(10)
                .and_then(|e| e.checked_add(i32::from(b - b'0')))
                .filter(|e| *e < 10_000)
                .ok_or(AmountError::OutOfRange)?;
            i += 1;
        }
        if i == start {
            return Err(AmountError::NotANumber);
        }
        if exp_neg {
            exp = -exp;
        }
    }
    if neg && digits != 0 && !allow_negative {
        return Err(AmountError::Negative);
    }
    // value = digits × 10^(exp − frac_digits); we want value × 10^scale.
    let shift = exp - frac_digits + scale;
    let scaled = if shift >= 0 {
        if digits == 0 {
            0
        } else {
            let p = u32::try_from(shift).map_err(|_| AmountError::OutOfRange)?;
            10i128
                .checked_pow(p)
                .and_then(|m| digits.checked_mul(m))
                .ok_or(AmountError::OutOfRange)?
        }
    } else {
        let p = u32::try_from(-shift).map_err(|_| AmountError::TooPrecise)?;
        match 10i128.checked_pow(p) {
            Some(d) if digits % d == 0 => digits / d,
            _ if digits == 0 => 0,
            _ => return Err(AmountError::TooPrecise),
        }
    };
    Ok(if neg { -scaled } else { scaled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_amount_in_cents() {
        // 0.4245 cents is the mantissa 4245 * 10^20; Debug must not print that raw number.
        let c: Cents = "0.4245".parse().unwrap();
        assert_eq!(format!("{c:?}"), "Cents(0.4245)");
        let neg: Cents = "-12.5".parse().unwrap();
        assert_eq!(format!("{:?}", Some(neg)), "Some(Cents(-12.5))");
    }

    #[test]
    fn usd_literals_are_exact() {
        // 2.0000000000000002E-7 USD = 0.000020000000000000002 cents (hand-shifted by 2 places).
        let c = Cents::from_usd_literal("2.0000000000000002E-7").unwrap();
        assert_eq!(c.to_string(), "0.000020000000000000002");
        assert_eq!(
            Cents::from_usd_literal("3e-06").unwrap().to_string(),
            "0.0003"
        );
        assert_eq!(
            Cents::from_usd_literal("1.875e-06").unwrap().to_string(),
            "0.0001875"
        );
        assert_eq!(Cents::from_usd_literal("0.0").unwrap(), Cents::ZERO);
        assert_eq!(Cents::from_usd_literal("-0").unwrap(), Cents::ZERO);
        assert_eq!(Cents::from_usd_literal("1").unwrap().to_string(), "100");
    }

    #[test]
    fn literal_errors_are_precise() {
        assert_eq!(
            Cents::from_usd_literal("-3e-06"),
            Err(AmountError::Negative)
        );
        assert_eq!(Cents::from_usd_literal("abc"), Err(AmountError::NotANumber));
        assert_eq!(Cents::from_usd_literal(""), Err(AmountError::NotANumber));
        assert_eq!(Cents::from_usd_literal("1e"), Err(AmountError::NotANumber));
        assert_eq!(
            Cents::from_usd_literal("1.2.3"),
            Err(AmountError::NotANumber)
        );
        // 27 fractional digits of a dollar = 25 of a cent: one too many.
        assert_eq!(
            Cents::from_usd_literal("0.000000000000000000000000001"),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Cents::from_usd_literal("1e30"),
            Err(AmountError::OutOfRange)
        );
    }

    #[test]
    fn display_and_decimal_round_trip() {
        let c: Cents = "-12.5".parse().unwrap();
        assert_eq!(c.to_string(), "-12.5");
        assert_eq!(c.to_decimal().unwrap().to_string(), "-12.5");
        assert_eq!(
            Cents::from_decimal(Decimal::new(4245, 4))
                .unwrap()
                .to_string(),
            "0.4245"
        );
    }

    #[test]
    fn half_even_rounding() {
        let r = |s: &str, d| s.parse::<Cents>().unwrap().round_half_even(d).to_string();
        assert_eq!(r("0.125", 2), "0.12");
        assert_eq!(r("0.135", 2), "0.14");
        assert_eq!(r("-0.125", 2), "-0.12");
        assert_eq!(r("2.5", 0), "2");
        assert_eq!(r("3.5", 0), "4");
    }
}
