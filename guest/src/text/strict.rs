//! Strict mode's semantic checks: what the formats forbid beyond syntax.
//!
//! Invariant: consulted only when `ParseOptions::strict` is set, so lenient
//! parsing never pays for it. Rules follow OpenMetrics 1.0 (and its reference
//! parser's reading of it): value ranges per type, required labels, label-group
//! contiguity and timestamp order, histogram bucket structure, name clashes.
//! 0.0.4 gets the histogram/summary structure rules only.

use std::borrow::Cow;
use std::collections::HashSet;

use super::error::ErrorKind;
use super::labels::Labels;
use super::model::{MetricType, Sample};
use super::value::parse_value;

/// Every family name and the sample names it owns, across the exposition
/// (OpenMetrics only: 0.0.4 writers emit `x_created` as its own gauge family).
#[derive(Default)]
pub(crate) struct Names {
    seen: HashSet<String>,
}

impl Names {
    /// Records family `name`'s names; any already taken is a clash.
    pub(crate) fn register(&mut self, name: &str, ty: MetricType) -> Result<(), ErrorKind> {
        for suffix in std::iter::once(&"").chain(ty.suffixes()) {
            if !self.seen.insert(format!("{name}{suffix}")) {
                return Err(ErrorKind::NameClash);
            }
        }
        Ok(())
    }
}

/// Checks within one family, fed its samples in order.
#[derive(Default)]
pub(crate) struct FamilyCheck<'a> {
    /// The previous sample's labels and which label its group ignores: the
    /// allocation-free "same group" test for the common case (same order).
    prev: Option<(Labels<'a>, Option<Skip>)>,
    /// The current label group (labels minus `le`/`quantile`/state), encoded.
    group: Option<String>,
    /// Groups finished earlier in this family.
    done: HashSet<String>,
    /// The previous sample's timestamp in the current group.
    ts: Option<i64>,
    /// The histogram run (one group at one timestamp) being checked.
    hist: Option<HistRun>,
}

/// The label a group ignores.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    Le,
    Quantile,
    /// The stateset's own name.
    Family,
}

impl Skip {
    fn name(self, family: &str) -> &str {
        match self {
            Skip::Le => "le",
            Skip::Quantile => "quantile",
            Skip::Family => family,
        }
    }
}

/// Whether two label sets, each minus its skipped label, are equal in written order.
fn same_in_order(
    a: &Labels<'_>,
    a_skip: Option<&str>,
    b: &Labels<'_>,
    b_skip: Option<&str>,
) -> bool {
    let a = a.iter().filter(|(n, _)| Some(n.as_ref()) != a_skip);
    let b = b.iter().filter(|(n, _)| Some(n.as_ref()) != b_skip);
    a.eq(b)
}

/// One histogram data point: buckets, count and sum of one group at one time.
#[derive(Clone, Copy, Default)]
struct HistRun {
    /// OpenMetrics pairs `_sum` with `_count` and forbids `_sum` with negative
    /// buckets; 0.0.4 does not (prometheus_client omits `_sum` there).
    om: bool,
    ts: Option<i64>,
    last_le: Option<f64>,
    last_bucket: f64,
    count: Option<f64>,
    negative_buckets: bool,
    sum: bool,
    gsum: bool,
    negative_gsum: bool,
}

impl HistRun {
    fn check(&self) -> Result<(), ErrorKind> {
        if self.last_le != Some(f64::INFINITY) {
            return Err(ErrorKind::MissingInfBucket);
        }
        if self.count.is_some_and(|c| c != self.last_bucket) {
            return Err(ErrorKind::CountMismatch);
        }
        if !self.om {
            return Ok(());
        }
        if (self.sum || self.gsum) && self.count.is_none() {
            return Err(ErrorKind::SumWithoutCount);
        }
        if !(self.sum || self.gsum) && self.count.is_some() {
            return Err(ErrorKind::CountWithoutSum);
        }
        if self.negative_buckets && self.sum {
            return Err(ErrorKind::SumWithNegativeBuckets);
        }
        if !self.negative_buckets && self.negative_gsum {
            return Err(ErrorKind::NegativeGsum);
        }
        Ok(())
    }
}

/// Counter-like: neither NaN nor negative.
fn counter_like(v: f64) -> bool {
    v >= 0.0
}

/// An `le` or `quantile` value: a number, infinities spelled `+Inf`/`-Inf`, no NaN.
fn threshold(s: &str) -> Option<f64> {
    let v = parse_value(s.as_bytes())?;
    if v.is_nan() || (v.is_infinite() && s != "+Inf" && s != "-Inf") {
        return None;
    }
    Some(v)
}

impl<'a> FamilyCheck<'a> {
    /// Checks one sample that belongs to family `name` of type `ty` by `suffix`.
    pub(crate) fn sample(
        &mut self,
        om: bool,
        name: &str,
        ty: MetricType,
        suffix: &str,
        s: &Sample<'a>,
    ) -> Result<(), ErrorKind> {
        use MetricType::*;
        if !om {
            return check_004(ty, suffix, s);
        }
        let v = s.value;
        let histogram = matches!(ty, Histogram | GaugeHistogram);
        if om {
            let ok = match (ty, suffix) {
                (Counter, "_total") => counter_like(v),
                (Histogram, "_bucket" | "_count" | "_sum") => counter_like(v),
                (GaugeHistogram, "_bucket" | "_gcount") => counter_like(v),
                (GaugeHistogram, "_gsum") => !v.is_nan(),
                (Summary, "_sum" | "_count") => counter_like(v),
                (Summary, "") if v < 0.0 => return Err(ErrorKind::NegativeQuantileValue),
                (Info, _) if v != 1.0 => return Err(ErrorKind::InvalidInfoValue),
                (StateSet, _) if v != 0.0 && v != 1.0 => {
                    return Err(ErrorKind::InvalidStateSetValue);
                }
                _ => true,
            };
            if !ok {
                return Err(ErrorKind::InvalidCounterValue);
            }
            let exemplar_ok = matches!(
                (ty, suffix),
                (Counter, "_total") | (Histogram | GaugeHistogram, "_bucket")
            );
            if s.exemplar.is_some() && !exemplar_ok {
                return Err(ErrorKind::ExemplarNotAllowed);
            }
        }
        let mut le = None;
        let mut skip: Option<Skip> = None;
        match (ty, suffix) {
            (Histogram | GaugeHistogram, "_bucket") => {
                let raw = s.labels.get("le").ok_or(ErrorKind::MissingLe)?;
                le = Some(threshold(&raw).ok_or(ErrorKind::InvalidLe)?);
                skip = Some(Skip::Le);
            }
            (Summary, "") => {
                let raw = s.labels.get("quantile").ok_or(ErrorKind::MissingQuantile)?;
                let q = threshold(&raw).ok_or(ErrorKind::InvalidQuantile)?;
                if !(0.0..=1.0).contains(&q) {
                    return Err(ErrorKind::InvalidQuantile);
                }
                skip = Some(Skip::Quantile);
            }
            (StateSet, _) if om => {
                if s.labels.get(name).is_none() {
                    return Err(ErrorKind::MissingStateLabel);
                }
                skip = Some(Skip::Family);
            }
            _ => {}
        }
        if !om && !histogram {
            return Ok(());
        }
        let skip_name = skip.map(|k| k.name(name));
        // Info families form one group; otherwise try the in-order comparison
        // with the previous sample before building a sorted key.
        let fast_same = self.group.is_some()
            && (ty == Info
                || self.prev.is_some_and(|(labels, k)| {
                    same_in_order(&labels, k.map(|k| k.name(name)), &s.labels, skip_name)
                }));
        self.prev = Some((s.labels, skip));
        let mut key = None;
        let same_group = fast_same || {
            let k = if ty == Info {
                String::new()
            } else {
                group_key(&s.labels, skip_name)
            };
            let same = self.group.as_deref() == Some(k.as_str());
            key = Some(k);
            same
        };
        if om {
            if same_group {
                if self.ts.is_some() != s.timestamp_ms.is_some() {
                    return Err(ErrorKind::MixedTimestamps);
                }
                if ty != Info && self.ts > s.timestamp_ms {
                    return Err(ErrorKind::TimestampBackwards);
                }
            } else if key.as_ref().is_some_and(|k| self.done.contains(k)) {
                return Err(ErrorKind::InterleavedGroup);
            }
            self.ts = s.timestamp_ms;
        }
        if histogram {
            let fresh = !same_group || self.hist.is_some_and(|h| h.ts != s.timestamp_ms);
            if fresh {
                if let Some(h) = self.hist.take() {
                    h.check()?;
                }
                self.hist = Some(HistRun {
                    om,
                    ts: s.timestamp_ms,
                    ..HistRun::default()
                });
            }
            if let Some(h) = self.hist.as_mut() {
                feed(h, suffix, le, v)?;
            }
        }
        if !same_group && let Some(key) = key {
            // Retire the previous group (there is none before the first sample).
            let old = self.group.replace(key);
            if let Some(old) = old {
                self.done.insert(old);
            }
        }
        Ok(())
    }

    /// End of the family: checks the last histogram run.
    pub(crate) fn finish(&mut self) -> Result<(), ErrorKind> {
        match self.hist.take() {
            Some(h) => h.check(),
            None => Ok(()),
        }
    }
}

/// Strict 0.0.4: what both of Prometheus' Go parsers, or the stricter one
/// (`expfmt`, which `promtool` uses), refuse in a sample. Bucket order, `+Inf`
/// and `_count` agreement are not checked: neither Go parser does, and the
/// policy is to refuse nothing that both accept (see README, "Strict 0.0.4").
fn check_004(ty: MetricType, suffix: &str, s: &Sample<'_>) -> Result<(), ErrorKind> {
    use MetricType::*;
    if s.labels.get("__name__").is_some() {
        return Err(ErrorKind::ReservedLabelName);
    }
    match ty {
        Histogram | GaugeHistogram => {
            if let Some(le) = s.labels.get("le") {
                parse_value(le.as_bytes()).ok_or(ErrorKind::InvalidLe)?;
            }
            if matches!(suffix, "_bucket" | "_count") && s.value < 0.0 {
                return Err(ErrorKind::InvalidCounterValue);
            }
        }
        Summary => {
            if let Some(q) = s.labels.get("quantile") {
                parse_value(q.as_bytes()).ok_or(ErrorKind::InvalidQuantile)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Adds one histogram sample to its run.
fn feed(h: &mut HistRun, suffix: &str, le: Option<f64>, v: f64) -> Result<(), ErrorKind> {
    match suffix {
        "_bucket" => {
            let b = le.unwrap_or(f64::NAN);
            if b < 0.0 {
                h.negative_buckets = true;
            }
            if h.last_le.is_some_and(|prev| b <= prev) {
                return Err(ErrorKind::BucketsOutOfOrder);
            }
            if v < h.last_bucket {
                return Err(ErrorKind::BucketsNotCumulative);
            }
            h.last_le = Some(b);
            h.last_bucket = v;
        }
        "_count" | "_gcount" => h.count = Some(v),
        "_sum" => h.sum = true,
        "_gsum" => {
            h.gsum = true;
            h.negative_gsum |= v < 0.0;
        }
        _ => {}
    }
    Ok(())
}

/// An order-independent encoding of a label set minus `skip`:
/// sorted `len:name len:value` pairs.
fn group_key(labels: &Labels<'_>, skip: Option<&str>) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = labels
        .iter()
        .filter(|(n, _)| Some(n.as_ref()) != skip)
        .collect();
    pairs.sort_unstable();
    let mut key = String::new();
    for (n, v) in &pairs {
        use std::fmt::Write;
        let _ = write!(key, "{}:{}{}:{}", n.len(), n, v.len(), v);
    }
    key
}
