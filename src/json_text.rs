//! Hand-written JSON text for the hot output paths (`tollgate price`, the C ABI's JSON price
//! path): one reused byte buffer, no `serde_json::Value`. Amounts are exact decimal strings.

use crate::money::{CENTS_SCALE, Cents};

/// Exact decimal text of an amount in cents, shortest form (same as `Cents`' `Display`).
pub(crate) fn write_cents(out: &mut Vec<u8>, c: Cents) {
    const HALF: u128 = 1_000_000_000_000; // 10^12: the 24 fractional digits as two u64 halves
    let raw = c.raw();
    if raw < 0 {
        out.push(b'-');
    }
    let abs = raw.unsigned_abs();
    let unit = 10u128.pow(CENTS_SCALE);
    let int = abs / unit;
    // |raw| ≤ i128::MAX, so the whole cents are at most 1.7 × 10^14: always a u64.
    write_u64(out, u64::try_from(int).unwrap_or(u64::MAX));
    let frac = abs % unit;
    if frac != 0 {
        let mut digits = [b'0'; CENTS_SCALE as usize];
        let (hi, lo) = ((frac / HALF) as u64, (frac % HALF) as u64);
        fill_digits(&mut digits[..12], hi);
        fill_digits(&mut digits[12..], lo);
        let width = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
        out.push(b'.');
        out.extend_from_slice(&digits[..width]);
    }
}

/// Writes `v` right-aligned into `buf` (zero-padded).
fn fill_digits(buf: &mut [u8], mut v: u64) {
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Decimal digits of `v`.
fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `v` as 16 lower-case hex digits.
pub(crate) fn write_hex16(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xf) as usize]);
    }
}

/// A JSON string literal with the mandatory escapes.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    // Fast path (vectorizes): nothing to escape.
    if !b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_text_matches_display() {
        for s in [
            "0",
            "300",
            "0.4245",
            "12.000000000000000000000001",
            "-5.5",
            "0.000020000000000000002",
        ] {
            let c: Cents = s.parse().unwrap();
            let mut out = Vec::new();
            write_cents(&mut out, c);
            assert_eq!(String::from_utf8(out).unwrap(), c.to_string());
        }
        for c in [Cents::from_raw(i128::MAX), Cents::from_raw(i128::MIN)] {
            let mut out = Vec::new();
            write_cents(&mut out, c);
            assert_eq!(String::from_utf8(out).unwrap(), c.to_string());
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\""
        );
    }

    #[test]
    fn hex_and_integers() {
        let mut out = Vec::new();
        write_hex16(&mut out, 0xab);
        out.push(b' ');
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "00000000000000ab 0 18446744073709551615"
        );
    }
}
