//! Query parameters as the API spells them: durations, times and label
//! filters, read in one place for every room, and times written back the
//! same way.
//!
//! Invariant: a parameter is either parsed whole or refused with a typed
//! problem (`invalid-duration`, `invalid-time`, `invalid-limit` as 422; a
//! label filter that is not `name=value` as 400 `invalid-query`); nothing
//! here reads the store
//! or the registry, so a room validates every parameter before it does.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;

use crate::history;
use crate::problem::Problem;

/// The longest range or span accepted.
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 24 * 3600);
/// The latest time accepted, in ms since the epoch: the last millisecond of
/// year 9999, the end of RFC 3339's range (so every time can be written
/// back, and sums of it and a bounded span stay far from `i64::MAX`).
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// A window's range when none is given.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(300);

/// A 422 problem of `kind`.
pub fn invalid(kind: &str, detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, kind, detail)
}

/// A duration: humantime (`5m`, `1h30m`, `500ms`) or plain seconds; over 0
/// and at most [`MAX_SPAN`].
pub fn parse_duration(name: &str, text: &str) -> Result<Duration, Problem> {
    let parsed = match text.trim().parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).ok(),
        Err(_) => humantime::parse_duration(text.trim()).ok(),
    };
    match parsed {
        Some(d) if !d.is_zero() && d <= MAX_SPAN => Ok(d),
        Some(_) => Err(invalid(
            "invalid-duration",
            format!("`{name}` must be over 0 and at most 366 days, not `{text}`"),
        )),
        None => Err(invalid(
            "invalid-duration",
            format!("`{name}`: `{text}` is not a duration (e.g. `5m`, `90s`, `300`)"),
        )),
    }
}

/// The duration parameter `name`, or `default` when it is absent.
pub fn duration_or(name: &str, text: Option<&str>, default: Duration) -> Result<Duration, Problem> {
    text.map_or(Ok(default), |t| parse_duration(name, t))
}

/// A time: RFC 3339 (`2026-12-02T08:00:00Z`) or Unix seconds, as
/// milliseconds since the epoch; from 1970 to the end of year 9999
/// ([`MAX_TIME_MS`]).
pub fn parse_time(name: &str, text: &str) -> Result<i64, Problem> {
    let t = text.trim();
    let ms = match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() => Some((secs * 1000.0) as i64),
        Ok(_) => None,
        Err(_) => humantime::parse_rfc3339_weak(t).ok().map(history::millis),
    };
    match ms {
        Some(ms) if (0..=MAX_TIME_MS).contains(&ms) => Ok(ms),
        Some(_) => Err(invalid(
            "invalid-time",
            format!("`{name}`: `{text}` is outside 1970-01-01 to 9999-12-31T23:59:59.999Z"),
        )),
        None => Err(invalid(
            "invalid-time",
            format!("`{name}`: `{text}` is neither RFC 3339 nor Unix seconds"),
        )),
    }
}

/// `?from=&to=`: `to` defaults to now, `from` to `default_from(to)`; `from`
/// after `to` or more than [`MAX_SPAN`] before it is 422 `invalid-range`.
pub fn span(
    from: Option<&str>,
    to: Option<&str>,
    default_from: impl FnOnce(i64) -> i64,
) -> Result<(i64, i64), Problem> {
    let to = time_or("to", to, now_ms())?;
    let from = time_or("from", from, default_from(to))?;
    if from > to {
        return Err(invalid(
            "invalid-range",
            format!("`from` ({}) is after `to` ({})", rfc3339(from), rfc3339(to)),
        ));
    }
    if to - from > millis_of(MAX_SPAN) {
        return Err(invalid(
            "invalid-range",
            "from `from` to `to` is over 366 days".into(),
        ));
    }
    Ok((from, to))
}

/// The time parameter `name`, or `default` (ms since the epoch) when it is
/// absent.
pub fn time_or(name: &str, text: Option<&str>, default: i64) -> Result<i64, Problem> {
    text.map_or(Ok(default), |t| parse_time(name, t))
}

/// A count of results: a whole number from 1 to `max`, or `default` when
/// the parameter is absent; anything else is 422 `invalid-limit`.
pub fn limit_or(
    name: &str,
    text: Option<&str>,
    default: usize,
    max: usize,
) -> Result<usize, Problem> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 && n <= max as u64 => Ok(n as usize),
        _ => Err(invalid(
            "invalid-limit",
            format!("`{name}` must be a whole number from 1 to {max}, not `{text}`"),
        )),
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    history::millis(SystemTime::now())
}

/// `d` in milliseconds.
pub fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A time (ms since the epoch) as the API writes it: RFC 3339 UTC,
/// milliseconds; a time outside RFC 3339's range is written as its nearest
/// end (never a panic).
pub fn rfc3339(ms: i64) -> String {
    let ms = u64::try_from(ms.clamp(0, MAX_TIME_MS)).unwrap_or(0);
    llm_metrics_host::json::timestamp(ms)
}

/// `label=name=value`: only targets whose label `name` is `value`; without
/// the parameter, every target.
#[derive(Clone, Copy, Debug, Default)]
pub struct LabelFilter<'a>(Option<(&'a str, &'a str)>);

impl<'a> LabelFilter<'a> {
    /// The filter the `label` parameter asks for.
    pub fn parse(text: Option<&'a str>) -> Result<Self, Problem> {
        match text {
            None => Ok(LabelFilter(None)),
            Some(l) => l
                .split_once('=')
                .map(|p| LabelFilter(Some(p)))
                .ok_or_else(|| {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid-query",
                        "label must be written name=value",
                    )
                }),
        }
    }

    /// Whether a target with `labels` passes.
    pub fn admits(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0
            .is_none_or(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn label_filters() {
        let labels = BTreeMap::from([("pool".to_string(), "a".to_string())]);
        assert!(LabelFilter::parse(None).unwrap().admits(&labels));
        assert!(LabelFilter::parse(Some("pool=a")).unwrap().admits(&labels));
        assert!(!LabelFilter::parse(Some("pool=b")).unwrap().admits(&labels));
        assert!(!LabelFilter::parse(Some("zone=a")).unwrap().admits(&labels));
        // The value may hold `=`; the name may not.
        assert!(
            !LabelFilter::parse(Some("pool=a=b"))
                .unwrap()
                .admits(&labels)
        );
        let refused = LabelFilter::parse(Some("pool")).unwrap_err();
        assert_eq!(
            (refused.status, refused.kind.as_str()),
            (StatusCode::BAD_REQUEST, "invalid-query")
        );
    }

    #[test]
    fn limits() {
        assert_eq!(limit_or("limit", None, 100, 1000).unwrap(), 100);
        assert_eq!(limit_or("limit", Some(" 7 "), 100, 1000).unwrap(), 7);
        assert_eq!(limit_or("limit", Some("1000"), 100, 1000).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "1.5", "many", ""] {
            let p = limit_or("limit", Some(bad), 100, 1000).unwrap_err();
            assert_eq!(
                (p.status, p.kind.as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid-limit"),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(
            parse_duration("range", "5m").unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            parse_duration("range", " 90 ").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_duration("range", "0").unwrap_err().kind,
            "invalid-duration"
        );
        assert_eq!(
            parse_duration("range", "367d").unwrap_err().kind,
            "invalid-duration"
        );
        assert_eq!(
            duration_or("range", None, DEFAULT_RANGE).unwrap(),
            DEFAULT_RANGE
        );
        assert_eq!(parse_time("at", "1.5").unwrap(), 1500);
        let at = parse_time("at", "2026-12-02T08:00:00Z").unwrap();
        assert_eq!(rfc3339(at), "2026-12-02T08:00:00.000Z");
        assert_eq!(
            parse_time("at", "yesterday").unwrap_err().kind,
            "invalid-time"
        );
        assert_eq!(time_or("at", None, 7).unwrap(), 7);
        for past_9999 in ["253402300800", "9999999999999", "1e300", "NaN", "-1"] {
            assert_eq!(
                parse_time("at", past_9999).unwrap_err().kind,
                "invalid-time",
                "{past_9999}"
            );
        }
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
