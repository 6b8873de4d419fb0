//! How the pages write numbers: template filters that format (never
//! compute) a figure from an API answer.
//!
//! Invariant: an absent figure (`null`, missing, not a number) is written
//! as "—", never as 0; a present one keeps its sign and order of magnitude.

use minijinja::Environment;
use minijinja::value::Value;

/// What an absent figure is written as.
pub const ABSENT: &str = "—";

/// Register the filters `num`, `secs`, `pct` and `ago`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("num", |v: Value| figure(&v).map_or(ABSENT.into(), number));
    env.add_filter("secs", |v: Value| figure(&v).map_or(ABSENT.into(), seconds));
    env.add_filter("pct", |v: Value| figure(&v).map_or(ABSENT.into(), percent));
    env.add_filter("ago", |v: Value| {
        figure(&v).map_or(ABSENT.into(), |s| format!("{} ago", seconds(s)))
    });
}

/// The number a template value holds, if it holds one.
fn figure(v: &Value) -> Option<f64> {
    f64::try_from(v.clone()).ok().filter(|f| f.is_finite())
}

/// A plain figure with three significant digits or its integer part.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v.fract() == 0.0 || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// A duration in seconds, as ms below one second.
pub fn seconds(v: f64) -> String {
    if v.abs() < 1.0 && v != 0.0 {
        format!("{} ms", number(v * 1000.0))
    } else {
        format!("{} s", number(v))
    }
}

/// A fraction (0 to 1) as a percentage.
pub fn percent(v: f64) -> String {
    format!("{} %", number(v * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(7.0), "7");
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.1234), "0.123");
        assert_eq!(seconds(0.25), "250 ms");
        assert_eq!(seconds(2.5), "2.50 s");
        assert_eq!(percent(0.5), "50 %");
        assert_eq!(percent(0.125), "12.5 %");
        assert_eq!(figure(&Value::from(())), None);
        assert_eq!(figure(&Value::from(2.0)), Some(2.0));
    }
}
