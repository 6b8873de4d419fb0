//! Invariants of `text::parse`, `text::Parser` and `engines::map` on arbitrary
//! bytes, beyond "does not panic".
//!
//! Invariant kept: a check fails only on a broken promise of the guest:
//! errors carry 1-based positions; the pull parser fails exactly when the
//! syntax does; every label set yields exactly `len()` distinct names; strict
//! success implies lenient success with the same samples; `map` and `detect`
//! agree, `map` answers as the slow `engines::oracle` does, the streaming
//! `map_text` as parsing then `map` do (parse errors included), the direct
//! `compact::parse` as `compact::oracle::build` after parsing does (records,
//! strings and errors), and a snapshot holds no figure without observations
//! behind it.

use llm_metrics_guest::compact::{self, CompactError};
use llm_metrics_guest::engines::{self, Distribution, EngineSnapshot, MetricValue};
use llm_metrics_guest::text::{
    self, Entry, Exposition, Format, Labels, ParseError, ParseOptions, Parser,
};

/// A sample reduced to comparable owned parts (NaN compared by bits).
type SampleKey = (
    String,
    Vec<(String, String)>,
    u64,
    Option<i64>,
    Option<(Vec<(String, String)>, u64, Option<i64>)>,
);

fn options(format: Format, strict: bool) -> ParseOptions<'static> {
    ParseOptions {
        format,
        strict,
        content_type: None,
    }
}

fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Decodes a label set, checking `len()`, uniqueness of names and `get`.
pub fn labels(l: &Labels<'_>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = l
        .iter()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    assert!(
        pairs.iter().all(|(n, _)| !n.is_empty()),
        "an empty label name"
    );
    assert_eq!(
        pairs.len(),
        l.len(),
        "label iter vs len: {:?}",
        l.as_raw_str()
    );
    assert_eq!(l.is_empty(), pairs.is_empty());
    for (i, (n, v)) in pairs.iter().enumerate() {
        assert!(
            pairs[..i].iter().all(|(m, _)| m != n),
            "duplicate label {n:?} accepted in {:?}",
            l.as_raw_str()
        );
        assert_eq!(l.get(n).as_deref(), Some(v.as_str()));
    }
    pairs
}

fn key(s: &text::Sample<'_>) -> SampleKey {
    (
        s.name.to_string(),
        labels(&s.labels),
        bits(s.value),
        s.timestamp_ms,
        s.exemplar
            .as_ref()
            .map(|x| (labels(&x.labels), bits(x.value), x.timestamp_ms)),
    )
}

/// Checks an accepted exposition and returns its samples, in family order.
fn samples(x: &Exposition<'_>, format: Format) -> Vec<SampleKey> {
    assert_eq!(x.format, format, "format not the one requested");
    let mut out = Vec::new();
    for f in &x.families {
        // Found by this target: `{""} 1` was accepted (FUZZING.md, "Findings").
        assert!(!f.name.is_empty(), "a family without a name");
        for s in &f.samples {
            assert!(
                s.name.starts_with(&*f.name),
                "sample {} in family {}",
                s.name,
                f.name
            );
            out.push(key(s));
        }
    }
    out
}

/// Runs the pull parser: the number of samples and the first error.
fn pull(data: &[u8], opts: &ParseOptions<'_>) -> (usize, Option<ParseError>) {
    let mut n = 0;
    for entry in Parser::new(data, opts) {
        match entry {
            Ok(Entry::Sample(_)) => n += 1,
            Ok(_) => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// One mode of [`parse`](text::parse) against the pull parser and the
/// direct compact path against its oracle; the samples on success.
fn one_mode(data: &[u8], format: Format, strict: bool) -> Option<Vec<SampleKey>> {
    let opts = options(format, strict);
    let res = text::parse(data, &opts);
    let (n, pulled) = pull(data, &opts);
    let slow = res
        .as_ref()
        .map_err(|e| CompactError::Parse(*e))
        .and_then(|x| compact::oracle::build(data, x).map_err(CompactError::TooLarge));
    assert_eq!(
        format!("{:?}", compact::parse(data, &opts)),
        format!("{slow:?}"),
        "the direct compact path differs from the oracle"
    );
    match res {
        Ok(x) => {
            assert_eq!(pulled, None, "parse accepted what the pull parser rejects");
            let keys = samples(&x, format);
            assert_eq!(keys.len(), n, "families lost or invented samples");
            Some(keys)
        }
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "position {e:?}");
            assert!(!e.to_string().is_empty());
            // A grouping rule may fail before a later syntax error.
            if let Some(p) = pulled {
                assert!(p == e || e.line <= p.line, "pull {p} vs parse {e}");
            }
            None
        }
    }
}

/// Both modes of `parse` for one format, plus the pull parser.
pub fn parse_both_modes(data: &[u8], format: Format) {
    let lenient = one_mode(data, format, false);
    if let Some(mut strict) = one_mode(data, format, true) {
        let Some(mut lenient) = lenient else {
            panic!("strict accepted what lenient rejects");
        };
        // Lenient merges what strict keeps apart, so compare as multisets.
        strict.sort_by_cached_key(|k| format!("{k:?}"));
        lenient.sort_by_cached_key(|k| format!("{k:?}"));
        assert_eq!(strict, lenient, "strict and lenient samples differ");
    }
}

fn check_distribution(d: &Distribution) {
    assert_eq!(d.mean.is_some(), d.count > 0.0, "mean without observations");
    for q in [d.p50, d.p90, d.p99] {
        assert!(
            q.is_none() || d.count > 0.0,
            "quantile without observations"
        );
        assert!(!q.is_some_and(f64::is_nan), "NaN quantile");
    }
}

fn check_snapshot(s: &EngineSnapshot) {
    assert!(
        s.model_names.windows(2).all(|w| w[0] < w[1]),
        "model names not sorted and unique: {:?}",
        s.model_names
    );
    let l = &s.latency;
    for d in [
        &l.time_to_first_token_seconds,
        &l.inter_token_latency_seconds,
        &l.e2e_request_latency_seconds,
        &l.queue_time_seconds,
    ]
    .into_iter()
    .flatten()
    {
        check_distribution(d);
    }
    for g in &s.engine_metrics {
        assert!(!g.fields.is_empty(), "empty group {}", g.name);
        for f in &g.fields {
            match &f.value {
                MetricValue::Distribution(d) => check_distribution(d),
                MetricValue::ByLabel(_, v) => assert!(
                    v.windows(2).all(|w| w[0].key <= w[1].key),
                    "keys not sorted in {}",
                    f.name
                ),
                _ => {}
            }
        }
    }
}

/// `engines::map` with `engine` on whatever lenient auto-detecting `parse`
/// accepts, checked against `engines::detect`.
pub fn map_engine(data: &[u8], engine: &str) {
    let opts = options(Format::Auto, false);
    let streamed = engines::map_text(data, &opts, engine);
    let x = match text::parse(data, &opts) {
        Ok(x) => x,
        Err(e) => {
            assert_eq!(streamed.err(), Some(e), "map_text and parse fail apart");
            return;
        }
    };
    let fams = &x.families;
    let detected = engines::detect(fams, engine);
    let mapped = engines::map(fams, engine);
    // The one-pass mapper answers as the oracle (every sample indexed) does.
    // Debug text compares NaN equal to NaN; the earliest `*_created` is
    // compared with -0 as +0, since the oracle takes the minimum in hash
    // order, where -0 and +0 tie either way.
    let key = |r: &Result<EngineSnapshot, engines::MapError>| {
        let mut r = r.clone();
        if let Ok(s) = &mut r {
            s.incarnation.created_seconds = s.incarnation.created_seconds.map(|v| v + 0.0);
        }
        format!("{r:?}")
    };
    let streamed = streamed.expect("map_text fails where parse succeeds");
    assert_eq!(
        key(&streamed),
        key(&mapped),
        "map_text and parse-then-map disagree"
    );
    assert_eq!(
        key(&mapped),
        key(&engines::oracle::map(fams, engine)),
        "the one-pass mapper and the oracle disagree"
    );
    match mapped {
        Ok(snap) => {
            let d = detected.expect("map succeeded where detect failed");
            assert_eq!(snap.engine, d.id);
            check_snapshot(&snap);
            if engine == engines::AUTO {
                // Auto is the detected engine, requested by name. Debug text
                // compares NaN equal to NaN.
                let named = engines::map(fams, d.id).expect("named engine fails");
                assert_eq!(format!("{snap:?}"), format!("{named:?}"));
            }
        }
        Err(e) => {
            assert_eq!(
                Err(e.clone()),
                detected.map(|_| ()),
                "map and detect disagree"
            );
            assert!(!e.to_string().is_empty());
        }
    }
}
