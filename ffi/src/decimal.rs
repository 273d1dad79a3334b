//! `tg_decimal`: an exact amount of cents with a fixed layout (no floats cross the boundary).

use crate::boundary::{Failure, FfiResult, OutBuf, boundary, input_str, require_out, write_out};
use crate::error::tg_error;
use crate::status::*;
use tollgate_engine::money::{AmountError, CENTS_SCALE, Cents};

/// Fractional digits of a cent in a [`tg_decimal`] mantissa: the value in cents is
/// `mantissa / 10^TG_CENTS_SCALE`. Fixed; part of the ABI.
pub const TG_CENTS_SCALE: u32 = 24;
const _: () = assert!(TG_CENTS_SCALE == CENTS_SCALE);

/// Longest text [`tg_decimal_format`] writes (sign, 15 integer digits, point, 24 fractional
/// digits), rounded up. A buffer of this size always suffices.
pub const TG_DECIMAL_STRING_MAX: usize = 48;

/// Longest text [`tg_decimal_parse`] accepts, in bytes.
pub const TG_MAX_DECIMAL_TEXT_BYTES: usize = 128;

/// An exact amount of money in **cents**, fixed point: a signed 128-bit two's-complement
/// mantissa split into a signed high and an unsigned low 64-bit half, with the fixed scale
/// `TG_CENTS_SCALE` (24):
///
/// `mantissa = hi * 2^64 + lo`, `cents = mantissa / 10^24`.
///
/// Example: 0.4245 cents is mantissa 4245 × 10^20 = `{ .hi = 23012, .lo = 0x30ECA69BA8500000 }`.
/// Use `tg_decimal_format` / `tg_decimal_parse` to convert to and from decimal text, or any
/// big-integer type. Plain data; copy freely.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tg_decimal {
    /// High 64 bits of the mantissa (signed: carries the sign).
    pub hi: i64,
    /// Low 64 bits of the mantissa.
    pub lo: u64,
}

impl tg_decimal {
    /// The exact C form of a Rust amount.
    #[inline]
    pub const fn from_cents(c: Cents) -> tg_decimal {
        let m = c.raw();
        tg_decimal {
            hi: (m >> 64) as i64,
            lo: m as u64,
        }
    }

    /// The exact Rust amount of a C value (every bit pattern is a valid amount).
    #[inline]
    pub const fn to_cents(self) -> Cents {
        Cents::from_raw(((self.hi as i128) << 64) | self.lo as i128)
    }
}

pub(crate) fn amount_failure(e: AmountError, what: &str) -> Failure {
    let status = match e {
        AmountError::OutOfRange => TG_ERR_OVERFLOW,
        _ => TG_ERR_INVALID_INPUT,
    };
    Failure::owned(status, format!("{what}: {e}"))
}

/// Writes the exact decimal text of `value` in cents, shortest form, no exponent (`"300"`,
/// `"0.4245"`, `"-12.5"`), into `out[0..out_cap]`, not NUL-terminated; `*out_len` gets its
/// length. At most `TG_DECIMAL_STRING_MAX` bytes.
///
/// Returns `TG_OK`; `TG_ERR_NULL` (`out_len` NULL, or `out` NULL with `out_cap > 0`);
/// `TG_ERR_BUFFER_TOO_SMALL` (`*out_len` = needed length). Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_decimal_format(
    value: tg_decimal,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: documented contract of the arguments.
        let out = unsafe { OutBuf::new(out, out_cap, out_len)? };
        out.write(value.to_cents().to_string().as_bytes())
    })
}

/// Writes the exact decimal text of `count` amounts, each as [`tg_decimal_format`] writes it,
/// separated by `'\n'` (none after the last), into `out[0..out_cap]`; `*out_len` gets the
/// length. The i-th amount is the `tg_decimal` at `base + i * stride` bytes, so the costs of
/// a batch are formatted in place: `tg_decimals_format(&results[0].cost_cents, n,
/// sizeof(tg_price_out), …)`. `stride` must be at least `sizeof(tg_decimal)` and a multiple
/// of 8 (its alignment). `count * (TG_DECIMAL_STRING_MAX + 1)` bytes always suffice; a
/// smaller `out_cap` that turns out too small reports the exact length needed. `count` 0
/// writes nothing (`base` may then be NULL). For bindings whose per-call cost dominates
/// (one crossing for a whole batch instead of one per amount).
///
/// Returns `TG_OK`; `TG_ERR_NULL` (`base` NULL with `count > 0`, `out_len` NULL, `out` NULL
/// with `out_cap > 0`); `TG_ERR_INVALID_INPUT` (bad `stride`); `TG_ERR_LIMIT` (`count` above
/// `TG_MAX_BATCH_ITEMS`); `TG_ERR_BUFFER_TOO_SMALL`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_decimals_format(
    base: *const tg_decimal,
    count: usize,
    stride: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contract of the arguments.
        let out = unsafe { OutBuf::new(out, out_cap, out_len)? };
        if count > crate::price::TG_MAX_BATCH_ITEMS {
            return Err(Failure::owned(
                TG_ERR_LIMIT,
                format!(
                    "count: {count} exceeds TG_MAX_BATCH_ITEMS ({})",
                    crate::price::TG_MAX_BATCH_ITEMS
                ),
            ));
        }
        if count == 0 {
            return out.write(b"");
        }
        if base.is_null() {
            return Err(Failure::new(TG_ERR_NULL, "base: pointer is NULL"));
        }
        if stride < size_of::<tg_decimal>() || !stride.is_multiple_of(8) {
            return Err(Failure::owned(
                TG_ERR_INVALID_INPUT,
                format!("stride: {stride} is not a multiple of 8 of at least 16"),
            ));
        }
        let mut text = Vec::with_capacity(count * 8);
        for i in 0..count {
            // SAFETY: the caller provides `count` values `stride` bytes apart from `base`,
            // each a valid, aligned tg_decimal (every bit pattern is an amount).
            let v = unsafe {
                base.cast::<u8>()
                    .add(i * stride)
                    .cast::<tg_decimal>()
                    .read()
            };
            if i > 0 {
                text.push(b'\n');
            }
            v.to_cents().write_text(&mut text);
        }
        out.write(&text)
    })
}

/// Parses decimal text in **cents** (`"12.5"`, `"-3"`, `"1e-6"`; at most 24 fractional digits
/// after applying the exponent; no rounding ever) into `*out`.
///
/// `text` is `(pointer, length)`, UTF-8, at most `TG_MAX_DECIMAL_TEXT_BYTES`.
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_LIMIT`; `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_INVALID_INPUT` (not a number, or too many fractional digits); `TG_ERR_OVERFLOW`.
/// `*out` is written only on success; `err` (may be NULL) only on failure.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_decimal_parse(
    text: *const u8,
    text_len: usize,
    out: *mut tg_decimal,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contract of the arguments.
        let text = unsafe { input_str(text, text_len, TG_MAX_DECIMAL_TEXT_BYTES, "text")? };
        let cents = Cents::from_cents_literal(text, true).map_err(|e| amount_failure(e, "text"))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, tg_decimal::from_cents(cents)) };
        FfiResult::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(v: tg_decimal) -> String {
        let mut buf = [0u8; TG_DECIMAL_STRING_MAX];
        let mut len = 0;
        let s = unsafe { tg_decimal_format(v, buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(s, TG_OK);
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    fn parse(text: &str) -> Result<tg_decimal, (i32, String)> {
        let mut out = tg_decimal { hi: 7, lo: 7 };
        let mut e = tg_error::empty();
        let s = unsafe { tg_decimal_parse(text.as_ptr(), text.len(), &mut out, &mut e) };
        if s == TG_OK {
            Ok(out)
        } else {
            assert_eq!(
                out,
                tg_decimal { hi: 7, lo: 7 },
                "output written on failure"
            );
            Err((s, e.message_str().to_string()))
        }
    }

    #[test]
    fn layout_is_two_halves_of_an_i128() {
        // 1 cent = 10^24 = 0xD3C2_1BCE_CCED_A100_0000 = 54210 * 2^64 + 0x1BCE_CCED_A100_0000.
        let one = parse("1").unwrap();
        assert_eq!(one.hi, 0xD3C2);
        assert_eq!(one.lo, 0x1BCE_CCED_A100_0000);
        // -1e-24 cent = mantissa -1 = all ones.
        let tiny = parse("-0.000000000000000000000001").unwrap();
        assert_eq!(
            tiny,
            tg_decimal {
                hi: -1,
                lo: u64::MAX
            }
        );
        assert_eq!(std::mem::size_of::<tg_decimal>(), 16);
    }

    #[test]
    fn format_is_exact_and_shortest() {
        assert_eq!(format(parse("0.4245").unwrap()), "0.4245");
        assert_eq!(format(parse("300").unwrap()), "300");
        assert_eq!(format(parse("-12.50").unwrap()), "-12.5");
        assert_eq!(
            format(parse("1e-24").unwrap()),
            "0.000000000000000000000001"
        );
        assert_eq!(format(tg_decimal::default()), "0");
        // The extreme mantissas fit TG_DECIMAL_STRING_MAX.
        let min = tg_decimal {
            hi: i64::MIN,
            lo: 0,
        };
        assert_eq!(format(min), "-170141183460469.231731687303715884105728");
        assert!(format(min).len() <= TG_DECIMAL_STRING_MAX);
    }

    #[test]
    fn bad_text_is_rejected_precisely() {
        assert_eq!(parse("abc").unwrap_err().0, TG_ERR_INVALID_INPUT);
        assert_eq!(
            parse("0.0000000000000000000000001").unwrap_err(),
            (
                TG_ERR_INVALID_INPUT,
                "text: has more fractional digits than the engine holds exactly (24 digits of a cent)"
                    .to_string()
            )
        );
        assert_eq!(parse("1e20").unwrap_err().0, TG_ERR_OVERFLOW);
        assert_eq!(parse("").unwrap_err().0, TG_ERR_INVALID_INPUT);
        let mut out = tg_decimal::default();
        let bad = [0xC3u8];
        let s = unsafe { tg_decimal_parse(bad.as_ptr(), 1, &mut out, std::ptr::null_mut()) };
        assert_eq!(s, TG_ERR_INVALID_UTF8);
        let s = unsafe {
            tg_decimal_parse(b"1".as_ptr(), 1, std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(s, TG_ERR_NULL);
    }

    #[test]
    fn many_amounts_format_in_place() {
        // Amounts 48 bytes apart, as the cost_cents of tg_price_out results are.
        #[repr(C)]
        struct Row {
            cost: tg_decimal,
            other: [u64; 4],
        }
        let rows: Vec<Row> = ["0.4245", "300", "-12.5", "0"]
            .iter()
            .map(|t| Row {
                cost: parse(t).unwrap(),
                other: [u64::MAX; 4],
            })
            .collect();
        let mut buf = [0u8; 64];
        let mut len = 0;
        let mut e = tg_error::empty();
        let s = unsafe {
            tg_decimals_format(
                &rows[0].cost,
                rows.len(),
                size_of::<Row>(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
                &mut e,
            )
        };
        assert_eq!(s, TG_OK);
        assert_eq!(&buf[..len], b"0.4245\n300\n-12.5\n0");
        // Too small: the exact length needed, nothing written.
        let mut small = [0u8; 4];
        let s = unsafe {
            tg_decimals_format(
                &rows[0].cost,
                4,
                48,
                small.as_mut_ptr(),
                4,
                &mut len,
                &mut e,
            )
        };
        // "0.4245\n300\n-12.5\n0": 6 + 1 + 3 + 1 + 5 + 1 + 1 = 18 bytes.
        assert_eq!((s, len, small), (TG_ERR_BUFFER_TOO_SMALL, 18, [0; 4]));
        let s = unsafe {
            tg_decimals_format(&rows[0].cost, 4, 12, buf.as_mut_ptr(), 64, &mut len, &mut e)
        };
        assert_eq!(s, TG_ERR_INVALID_INPUT);
        let s = unsafe {
            tg_decimals_format(
                std::ptr::null(),
                1,
                16,
                buf.as_mut_ptr(),
                64,
                &mut len,
                &mut e,
            )
        };
        assert_eq!(s, TG_ERR_NULL);
        let s = unsafe {
            tg_decimals_format(
                std::ptr::null(),
                0,
                0,
                buf.as_mut_ptr(),
                64,
                &mut len,
                &mut e,
            )
        };
        assert_eq!((s, len), (TG_OK, 0));
    }

    #[test]
    fn small_buffer_reports_needed_length() {
        let mut buf = [0u8; 2];
        let mut len = 0;
        let v = parse("0.4245").unwrap();
        let s = unsafe { tg_decimal_format(v, buf.as_mut_ptr(), 2, &mut len) };
        assert_eq!((s, len), (TG_ERR_BUFFER_TOO_SMALL, 6));
        assert_eq!(buf, [0, 0]);
    }
}
