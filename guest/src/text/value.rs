//! The one place exposition numbers become `f64`.
//!
//! Invariant: only the formats' spellings are accepted — `[+-]digits[.digits][e[+-]digits]`
//! (either side of the point may be empty, not both), case-insensitive `[+-]Inf`/`[+-]Infinity`
//! and unsigned `NaN` (Go's `ParseFloat` specials, which 0.0.4 and OpenMetrics both use).
//! Hex floats, `_` separators and whitespace are rejected. `f64::from_str` is called only
//! here, and only on text this module has already validated.

/// Powers of ten exactly representable as `f64` (the fast path's range).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a sample or exemplar value: a decimal number or a `NaN`/`Inf` spelling.
#[inline]
pub(crate) fn parse_value(s: &[u8]) -> Option<f64> {
    match parse_real(s) {
        Some(v) => Some(v),
        None => parse_special(s),
    }
}

/// Parses `NaN`, `[+-]Inf` and `[+-]Infinity`, case-insensitively.
fn parse_special(s: &[u8]) -> Option<f64> {
    if s.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    let (neg, rest) = match s.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, s),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else {
        None
    }
}

/// Parses a finite-spelled decimal number (no `NaN`/`Inf`): OpenMetrics timestamps,
/// and the first attempt for values. May still return ±∞ when the exponent overflows.
#[inline]
pub(crate) fn parse_real(s: &[u8]) -> Option<f64> {
    let (neg, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    // Digits accumulate wrapping; more than 19 digits take the slow path below.
    let mut mantissa: u64 = 0;
    let int_start = i;
    while let Some(&b) = s.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let mut digits = i - int_start;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while let Some(&b) = s.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        frac = i - frac_start;
        digits += frac;
    }
    if digits == 0 {
        return None;
    }
    let mut exp10: i64 = -(frac as i64);
    if let Some(b'e' | b'E') = s.get(i) {
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&b) = s.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // Saturate: anything past 10^6 is already 0 or infinity.
            e = (e * 10 + i64::from(d)).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if eneg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    // Clinger's fast path: an exact mantissa times an exact power of ten rounds once.
    if digits <= 19 && mantissa < (1u64 << 53) {
        let m = mantissa as f64;
        let v = if mantissa == 0 {
            Some(0.0)
        } else if (0..=22).contains(&exp10) {
            POW10.get(exp10 as usize).map(|p| m * p)
        } else if (-22..0).contains(&exp10) {
            POW10.get((-exp10) as usize).map(|p| m / p)
        } else {
            None
        };
        if let Some(v) = v {
            return Some(if neg { -v } else { v });
        }
    }
    // The syntax is already checked; std's parser accepts this subset exactly.
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

/// Parses a 0.0.4 timestamp: an optionally signed decimal integer of milliseconds.
/// `Err(true)` means the syntax was fine but the number overflows `i64`.
pub(crate) fn parse_int(s: &[u8]) -> Result<i64, bool> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(false);
    }
    let mut v: i64 = 0;
    let mut overflow = false;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(false);
        }
        // Accumulate negatively so i64::MIN is reachable.
        match v.checked_mul(10).and_then(|x| x.checked_sub(i64::from(d))) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    if overflow {
        return Err(true);
    }
    if neg {
        Ok(v)
    } else {
        v.checked_neg().ok_or(true)
    }
}

/// Converts OpenMetrics float seconds to milliseconds, rounding to nearest.
/// Finite values beyond the `i64` range saturate (the format puts no bound on
/// timestamps and the conformance suite accepts 1.2e19 s); non-finite → `None`.
pub(crate) fn seconds_to_ms(secs: f64) -> Option<i64> {
    if !secs.is_finite() {
        return None;
    }
    // `as` saturates, so this cannot wrap.
    Some((secs * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-1", -1.0),
            ("+1.5", 1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1.5E-3", 0.0015),
            ("0000000000000000000000000000000000000000001.2e-1", 0.12),
            ("9223372036854775808", 9223372036854775808.0),
            (
                "12345678901234567890.1234567890",
                12345678901234567890.123456789,
            ),
            ("0.013300656000000001", 0.013300656000000001),
            ("2.478268416e+09", 2.478268416e9),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Inf", f64::INFINITY),
            ("infinity", f64::INFINITY),
            ("1e400", f64::INFINITY),
        ];
        for &(s, want) in ok {
            assert_eq!(parse_value(s.as_bytes()), Some(want), "{s}");
        }
        assert!(parse_value(b"NaN").unwrap().is_nan());
        assert!(parse_value(b"nan").unwrap().is_nan());
        for bad in [
            "", "+", "-", ".", "e3", "1e", "1e+", "0x1p-3", "1_2", "+NaN", "1 ", " 1", "1.1.1",
            "infinit", "0b1", "1z", "--1",
        ] {
            assert_eq!(
                parse_value(bad.as_bytes()).map(f64::to_bits),
                None,
                "{bad:?}"
            );
        }
        assert_eq!(parse_real(b"Inf"), None);
    }

    #[test]
    fn fast_path_agrees_with_std() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = x % 1_000_000_000_000;
            let frac = (x >> 40) % 100000;
            for s in [
                format!("{int}"),
                format!("{int}.{frac}"),
                format!("0.{frac:05}"),
                format!("{}e-{}", frac, x % 30),
                format!("{}.{}e{}", x % 1000, frac, x % 25),
            ] {
                let want: f64 = s.parse().unwrap();
                assert_eq!(parse_value(s.as_bytes()), Some(want), "{s}");
            }
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), Err(true));
        assert_eq!(parse_int(b"1.5"), Err(false));
        assert_eq!(parse_int(b"-"), Err(false));
        assert_eq!(seconds_to_ms(1.1), Some(1100));
        assert_eq!(seconds_to_ms(-1.1), Some(-1100));
        assert_eq!(seconds_to_ms(1e30), Some(i64::MAX));
        assert_eq!(seconds_to_ms(f64::NAN), None);
    }
}
