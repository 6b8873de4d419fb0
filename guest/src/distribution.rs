//! Histograms and summaries reduced to a [`Distribution`].
//!
//! Guarantees: quantiles are computed exactly as Prometheus'
//! `histogram_quantile` does for classic buckets (buckets sorted by bound,
//! equal bounds merged, counts forced monotonic, linear interpolation inside
//! the bucket, lower bound 0 for the first bucket unless its upper bound is
//! ≤ 0, a rank in the `+Inf` bucket answers the highest finite bound). Series
//! of one histogram are summed per `le` over every other label (vLLM's
//! `engine` and `model_name`, TGI's `method`). Windows of several instances
//! are summed only where their bucket layouts agree ([`merge_windows`]).
//! Nothing here invents a value: no observations, no `+Inf` bucket or no
//! quantile series gives `None`.

pub use crate::snapshot::Bucket;
use crate::snapshot::{Bounds, Distribution};

/// The `q`-quantile (0 ≤ q ≤ 1) of cumulative `buckets`, as Prometheus'
/// `histogram_quantile` computes it. The buckets may come in any order and may
/// repeat a bound (repeats are added together, i.e. the caller passes series of
/// several label sets). `None` where Prometheus answers NaN: no `+Inf` bucket,
/// fewer than two buckets, no observations, or `q` outside 0..=1 or NaN.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let merged = merge(buckets);
    quantile_sorted(q, &merged).map(|(v, _)| v)
}

/// Sort by bound, add up equal bounds, and force the counts to be monotonic
/// (Prometheus does the same for scrapes that race with observations).
fn merge(buckets: &[Bucket]) -> Vec<Bucket> {
    let mut merged = sum_by_le(buckets);
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        max = max.max(b.count);
        b.count = max;
    }
    merged
}

/// Sorts buckets by bound, equal bounds in their order (a stable sort): the
/// one sort of buckets in the crate, so the component carries one copy of it.
pub(crate) fn sort_by_le(buckets: &mut [Bucket]) {
    buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
}

/// Sort by bound and add up equal bounds (Prometheus' `sum by (le)`); a NaN
/// bound is dropped. Counts are kept as exposed, so that two snapshots' buckets
/// can be subtracted before [`histogram_quantile`] forces monotonicity, as
/// `histogram_quantile(q, rate(x_bucket[w]))` does.
pub fn sum_by_le(buckets: &[Bucket]) -> Vec<Bucket> {
    let mut sorted: Vec<Bucket> = buckets.iter().copied().filter(|b| !b.le.is_nan()).collect();
    sort_by_le(&mut sorted);
    let mut merged: Vec<Bucket> = Vec::with_capacity(sorted.len());
    for b in sorted {
        match merged.last_mut() {
            Some(last) if last.le == b.le => last.count += b.count,
            _ => merged.push(b),
        }
    }
    merged
}

/// `histogram_quantile` over buckets already sorted, merged and monotonic,
/// with the bucket the value was interpolated in.
fn quantile_sorted(q: f64, buckets: &[Bucket]) -> Option<(f64, Bounds)> {
    let last = buckets.last()?;
    if last.le != f64::INFINITY || buckets.len() < 2 {
        return None;
    }
    let observations = last.count;
    if observations <= 0.0 || observations.is_nan() {
        return None;
    }
    let mut rank = q * observations;
    // The first bucket whose cumulative count reaches the rank (searching all
    // but the +Inf bucket, like Prometheus' sort.Search over len-1).
    let b = buckets[..buckets.len() - 1]
        .iter()
        .position(|bk| bk.count >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        // In the +Inf bucket: the highest finite bound, though the value is
        // above it.
        let highest = buckets[buckets.len() - 2].le;
        let bucket = Bounds {
            lower: highest,
            upper: f64::INFINITY,
        };
        return Some((highest, bucket));
    }
    if b == 0 && buckets[0].le <= 0.0 {
        let bucket = Bounds {
            lower: f64::NEG_INFINITY,
            upper: buckets[0].le,
        };
        return Some((buckets[0].le, bucket));
    }
    let end = buckets[b].le;
    let mut start = 0.0;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].le;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    // Infinite counts or an `le="-Inf"` bucket make the interpolation NaN,
    // where Prometheus answers NaN too: no quantile, rather than a NaN one.
    let v = start + (end - start) * (rank / count);
    let bucket = Bounds {
        lower: start,
        upper: end,
    };
    (!v.is_nan()).then_some((v, bucket))
}

/// A distribution from cumulative buckets plus `_count` and `_sum`. `count`
/// falls back to the `+Inf` bucket when `_count` is absent; without a count or
/// a sum there is no distribution. The distribution keeps the buckets summed
/// per `le` ([`sum_by_le`]).
pub fn from_histogram(
    buckets: &[Bucket],
    count: Option<f64>,
    sum: Option<f64>,
) -> Option<Distribution> {
    from_summed(sum_by_le(buckets), count, sum)
}

/// [`from_histogram`] of buckets already summed per `le` ([`sum_by_le`]).
pub(crate) fn from_summed(
    summed: Vec<Bucket>,
    count: Option<f64>,
    sum: Option<f64>,
) -> Option<Distribution> {
    let merged = merge(&summed);
    let inf = merged
        .last()
        .filter(|b| b.le == f64::INFINITY)
        .map(|b| b.count);
    let count = count.or(inf)?;
    let sum = sum?;
    let quantile = |q| {
        if count > 0.0 {
            quantile_sorted(q, &merged)
        } else {
            None
        }
    };
    let (p50, p90, p99) = (quantile(0.5), quantile(0.9), quantile(0.99));
    Some(Distribution {
        count,
        sum,
        mean: mean(sum, count),
        p50: p50.map(|(v, _)| v),
        p90: p90.map(|(v, _)| v),
        p99: p99.map(|(v, _)| v),
        p50_bucket: p50.map(|(_, b)| b),
        p90_bucket: p90.map(|(_, b)| b),
        p99_bucket: p99.map(|(_, b)| b),
        buckets: summed,
    })
}

/// A distribution from a summary's `_count`, `_sum` and the quantile series
/// (`(quantile, value)` pairs, one per label set). A quantile is `None` when it
/// is not exposed, NaN, exposed by more than one label set (quantiles cannot
/// be added up), or when there are no observations.
pub fn from_summary(quantiles: &[(f64, f64)], count: f64, sum: f64) -> Distribution {
    let pick = |q: f64| {
        let mut found = quantiles.iter().filter(|(qq, _)| *qq == q);
        match (found.next(), found.next()) {
            (Some(&(_, v)), None) if count > 0.0 && !v.is_nan() => Some(v),
            _ => None,
        }
    };
    Distribution {
        count,
        sum,
        mean: mean(sum, count),
        p50: pick(0.5),
        p90: pick(0.9),
        p99: pick(0.99),
        p50_bucket: None,
        p90_bucket: None,
        p99_bucket: None,
        buckets: Vec::new(),
    }
}

fn mean(sum: f64, count: f64) -> Option<f64> {
    (count > 0.0).then(|| sum / count)
}

/// One instance's distribution over a window, as [`merge_windows`] takes
/// it.
#[derive(Clone, Copy, Debug)]
pub struct WindowPart<'a> {
    /// The bucket increases over the window, summed per `le` and sorted (a
    /// window distribution's `buckets`); empty for a summary.
    pub buckets: &'a [Bucket],
    /// Observations in the window.
    pub count: f64,
    /// Their sum.
    pub sum: f64,
    /// The window's length in seconds.
    pub seconds: f64,
}

/// What [`merge_windows`] made of several instances' windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The distribution of the members' per-second rates summed: `buckets`,
    /// `count` and `sum` are per second (`sum by (le) (rate(x_bucket[w]))`),
    /// and the quantiles and mean are those of the summed rates, as
    /// [`histogram_quantile`] gives them. `None` when no part was summed.
    pub distribution: Option<Distribution>,
    /// The parts summed (indices into the input), in input order.
    pub members: Vec<usize>,
    /// The parts left out (indices): a bucket layout other than the
    /// members', or no positive, finite length.
    pub mismatched: Vec<usize>,
}

/// Several instances' distributions over a window, summed as
/// `histogram_quantile(q, sum by (le) (rate(x_bucket[w])))` does: each
/// part's bucket increases, count and sum divided by its window's length,
/// then added per `le`, then quantiles by the one interpolation here
/// ([`histogram_quantile`]'s). Only parts whose bucket bounds agree are
/// added: the layout most parts share (on a tie, the earliest part's);
/// the others are reported in [`Merged::mismatched`], never mixed in.
/// Summaries (no buckets) share the empty layout: their rates add up, with
/// a mean but no quantiles.
pub fn merge_windows(parts: &[WindowPart<'_>]) -> Merged {
    let usable = |p: &WindowPart<'_>| p.seconds.is_finite() && p.seconds > 0.0;
    let same_layout = |a: &[Bucket], b: &[Bucket]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.le == y.le)
    };
    // The layout most usable parts share; the earliest wins a tie.
    let mut best: Option<(usize, usize)> = None;
    for (i, p) in parts.iter().enumerate().filter(|(_, p)| usable(p)) {
        let shared = parts
            .iter()
            .filter(|o| usable(o) && same_layout(o.buckets, p.buckets))
            .count();
        if best.is_none_or(|(_, n)| shared > n) {
            best = Some((i, shared));
        }
    }
    let Some((reference, _)) = best else {
        return Merged {
            distribution: None,
            members: Vec::new(),
            mismatched: (0..parts.len()).collect(),
        };
    };
    let layout = parts[reference].buckets;
    let (mut members, mut mismatched) = (Vec::new(), Vec::new());
    let mut buckets: Vec<Bucket> = layout
        .iter()
        .map(|b| Bucket {
            le: b.le,
            count: 0.0,
        })
        .collect();
    let (mut count, mut sum) = (0.0, 0.0);
    for (i, p) in parts.iter().enumerate() {
        if !usable(p) || !same_layout(p.buckets, layout) {
            mismatched.push(i);
            continue;
        }
        members.push(i);
        for (total, b) in buckets.iter_mut().zip(p.buckets) {
            total.count += b.count / p.seconds;
        }
        count += p.count / p.seconds;
        sum += p.sum / p.seconds;
    }
    let distribution = if layout.is_empty() {
        Some(from_summary(&[], count, sum))
    } else {
        from_summed(buckets, Some(count), Some(sum))
    };
    Merged {
        distribution,
        members,
        mismatched,
    }
}

/// Parse an `le` or `quantile` label value as Prometheus does (Go's
/// `ParseFloat`): the exposition's own number spellings, through the parser's
/// one number reader (`text::parse_value`), so label bounds and sample values
/// can never disagree on what a number is.
pub fn parse_bound(text: &str) -> Option<f64> {
    crate::text::parse_value(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(le: f64, count: f64) -> Bucket {
        Bucket { le, count }
    }

    const INF: f64 = f64::INFINITY;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn interpolates_inside_the_bucket() {
        // le 0.1:10, 0.5:30, 1:40, +Inf:40 (40 observations).
        // p50: rank 20 → bucket (0.1, 0.5] holding 30-10=20; rank inside it 20-10=10
        //      → 0.1 + 0.4 * 10/20 = 0.3.
        // p90: rank 36 → bucket (0.5, 1] holding 10; 36-30=6 → 0.5 + 0.5 * 6/10 = 0.8.
        // p99: rank 39.6 → same bucket; 9.6/10 → 0.5 + 0.5 * 0.96 = 0.98.
        let h = [b(0.1, 10.0), b(0.5, 30.0), b(1.0, 40.0), b(INF, 40.0)];
        assert!(close(histogram_quantile(0.5, &h), 0.3));
        assert!(close(histogram_quantile(0.9, &h), 0.8));
        assert!(close(histogram_quantile(0.99, &h), 0.98));
    }

    #[test]
    fn first_bucket_starts_at_zero() {
        // le 2:8, +Inf:8. p50: rank 4 in bucket (0, 2] of 8 → 0 + 2 * 4/8 = 1.
        let h = [b(2.0, 8.0), b(INF, 8.0)];
        assert!(close(histogram_quantile(0.5, &h), 1.0));
        // First bound ≤ 0 answers the bound itself: le -1:5, 3:10, +Inf:10,
        // p25 → rank 2.5 ≤ 5 in bucket 0 → -1.
        let h = [b(-1.0, 5.0), b(3.0, 10.0), b(INF, 10.0)];
        assert_eq!(histogram_quantile(0.25, &h), Some(-1.0));
    }

    #[test]
    fn rank_in_inf_bucket_answers_highest_finite_bound() {
        // le 1:2, 5:4, +Inf:10. p50: rank 5 > 4 → +Inf bucket → 5.
        let h = [b(1.0, 2.0), b(5.0, 4.0), b(INF, 10.0)];
        assert_eq!(histogram_quantile(0.5, &h), Some(5.0));
    }

    #[test]
    fn nan_cases_are_none() {
        assert_eq!(histogram_quantile(0.5, &[]), None);
        assert_eq!(histogram_quantile(0.5, &[b(INF, 3.0)]), None); // one bucket
        assert_eq!(histogram_quantile(0.5, &[b(1.0, 3.0), b(2.0, 3.0)]), None); // no +Inf
        assert_eq!(histogram_quantile(0.5, &[b(1.0, 0.0), b(INF, 0.0)]), None); // empty
        assert_eq!(histogram_quantile(1.5, &[b(1.0, 1.0), b(INF, 1.0)]), None);
        // Found by the map_tgi fuzz target: an infinite bucket count.
        let h = [b(1.0, INF), b(2.0, 5.0), b(INF, 5.0)];
        assert_eq!(histogram_quantile(0.5, &h), None);
        // And an `le="-Inf"` bucket below a populated one.
        let h = [b(f64::NEG_INFINITY, 0.0), b(1.0, 2.0), b(INF, 2.0)];
        for q in [0.0, 0.5, 0.99] {
            assert!(
                histogram_quantile(q, &h).is_none_or(|v| !v.is_nan()),
                "q={q}"
            );
        }
    }

    #[test]
    fn sums_series_of_equal_bounds_in_any_order() {
        // Two engines: A = {1:1, 2:3, +Inf:4}, B = {1:3, 2:5, +Inf:6}, shuffled.
        // Merged: 1:4, 2:8, +Inf:10. p50: rank 5 in (1, 2] holding 4; 5-4=1
        // → 1 + 1 * 1/4 = 1.25.
        let h = [
            b(INF, 4.0),
            b(2.0, 5.0),
            b(1.0, 1.0),
            b(INF, 6.0),
            b(2.0, 3.0),
            b(1.0, 3.0),
        ];
        assert!(close(histogram_quantile(0.5, &h), 1.25));
    }

    #[test]
    fn non_monotonic_counts_are_clamped() {
        // le 1:5, 2:4 (raced), +Inf:10 → 1:5, 2:5, +Inf:10. p40: rank 4 ≤ 5 →
        // bucket (0, 1] → 1 * 4/5 = 0.8.
        let h = [b(1.0, 5.0), b(2.0, 4.0), b(INF, 10.0)];
        assert!(close(histogram_quantile(0.4, &h), 0.8));
    }

    #[test]
    fn histogram_distribution() {
        // 40 observations summing to 14: mean 0.35; quantiles as above.
        let h = [b(0.1, 10.0), b(0.5, 30.0), b(1.0, 40.0), b(INF, 40.0)];
        let d = from_histogram(&h, Some(40.0), Some(14.0)).unwrap();
        assert_eq!((d.count, d.sum), (40.0, 14.0));
        assert!(close(d.mean, 0.35));
        assert!(close(d.p50, 0.3));
        // Count from +Inf when `_count` is missing; no sum → no distribution.
        assert_eq!(from_histogram(&h, None, Some(14.0)).unwrap().count, 40.0);
        assert_eq!(from_histogram(&h, Some(40.0), None), None);
        // No observations: count 0, everything else None.
        let empty = [b(1.0, 0.0), b(INF, 0.0)];
        let d = from_histogram(&empty, Some(0.0), Some(0.0)).unwrap();
        assert_eq!((d.mean, d.p50, d.p90, d.p99), (None, None, None, None));
    }

    #[test]
    fn summary_distribution() {
        let q = [(0.0, 0.0), (0.5, 2.0), (0.9, 3.0), (0.99, 4.0), (1.0, 4.0)];
        let d = from_summary(&q, 10.0, 25.0);
        assert_eq!(
            (d.mean, d.p50, d.p90, d.p99),
            (Some(2.5), Some(2.0), Some(3.0), Some(4.0))
        );
        // No quantile lines (vLLM's http_request_size_bytes): count/sum/mean only.
        let d = from_summary(&[], 4.0, 10.0);
        assert_eq!((d.mean, d.p50), (Some(2.5), None));
        // Two label sets for one quantile cannot be combined.
        assert_eq!(from_summary(&[(0.5, 1.0), (0.5, 2.0)], 4.0, 4.0).p50, None);
        assert_eq!(from_summary(&[(0.5, f64::NAN)], 4.0, 4.0).p50, None);
        assert_eq!(from_summary(&q, 0.0, 0.0).p50, None);
    }

    #[test]
    fn windows_of_several_instances_sum_their_rates_per_le() {
        // A: 10 s, increases 0.1:2, 0.5:6, +Inf:10 → rates 0.2, 0.6, 1.
        // B: 5 s, increases 0.1:0, 0.5:5, +Inf:5 → rates 0, 1, 1.
        // Summed: 0.1:0.2, 0.5:1.6, +Inf:2. p50: rank 1 in (0.1, 0.5]
        // holding 1.4; 0.8/1.4 → 0.1 + 0.4 * 0.8/1.4.
        let a = [b(0.1, 2.0), b(0.5, 6.0), b(INF, 10.0)];
        let bb = [b(0.1, 0.0), b(0.5, 5.0), b(INF, 5.0)];
        let parts = [
            WindowPart {
                buckets: &a,
                count: 10.0,
                sum: 3.0,
                seconds: 10.0,
            },
            WindowPart {
                buckets: &bb,
                count: 5.0,
                sum: 2.0,
                seconds: 5.0,
            },
        ];
        let m = merge_windows(&parts);
        assert_eq!(
            (m.members.as_slice(), m.mismatched.as_slice()),
            (&[0, 1][..], &[][..])
        );
        let d = m.distribution.unwrap();
        assert!(
            (d.count - 2.0).abs() < 1e-12 && (d.sum - 0.7).abs() < 1e-12,
            "{d:?}"
        );
        assert!(close(d.mean, 0.35));
        let summed = [b(0.1, 0.2), b(0.5, 1.6), b(INF, 2.0)];
        assert_eq!(d.p50, histogram_quantile(0.5, &summed));
        assert!(close(d.p50, 0.1 + 0.4 * 0.8 / 1.4));
        assert_eq!(d.p99, histogram_quantile(0.99, &summed));
        assert_eq!(d.buckets.len(), 3);
    }

    #[test]
    fn other_layouts_are_reported_not_mixed() {
        let a = [b(0.1, 2.0), b(INF, 4.0)];
        let c = [b(0.2, 2.0), b(INF, 4.0)];
        let part = |buckets| WindowPart {
            buckets,
            count: 4.0,
            sum: 1.0,
            seconds: 2.0,
        };
        // Two share a layout: the third is left out.
        let m = merge_windows(&[part(&c), part(&a), part(&a)]);
        assert_eq!((m.members, m.mismatched), (vec![1, 2], vec![0]));
        assert_eq!(m.distribution.unwrap().buckets, [b(0.1, 2.0), b(INF, 4.0)]);
        // A tie: the earliest part's layout.
        let m = merge_windows(&[part(&c), part(&a)]);
        assert_eq!((m.members, m.mismatched), (vec![0], vec![1]));
        // No usable length: nothing summed, nothing invented.
        let bad = WindowPart {
            seconds: 0.0,
            ..part(&a)
        };
        let m = merge_windows(&[bad]);
        assert_eq!((m.distribution, m.mismatched), (None, vec![0]));
        // Summaries: rates and mean, no quantiles.
        let s = WindowPart {
            buckets: &[],
            count: 4.0,
            sum: 2.0,
            seconds: 2.0,
        };
        let d = merge_windows(&[s, s]).distribution.unwrap();
        assert_eq!((d.count, d.sum, d.mean, d.p50), (4.0, 2.0, Some(0.5), None));
    }

    #[test]
    fn bounds() {
        assert_eq!(parse_bound("1.0"), Some(1.0));
        assert_eq!(
            parse_bound("0.00015000000000000001"),
            Some(0.00015000000000000001)
        );
        assert_eq!(parse_bound("1e+06"), Some(1e6));
        assert_eq!(parse_bound("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_bound("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_bound("NaN").unwrap().is_nan());
        // Go's ParseFloat spellings, which Prometheus accepts for `le`.
        assert_eq!(parse_bound("inf"), Some(f64::INFINITY));
        assert_eq!(parse_bound("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_bound(""), None);
        assert_eq!(parse_bound("+"), None);
        assert_eq!(parse_bound("0x10"), None);
        assert_eq!(parse_bound("1_000"), None);
        assert_eq!(parse_bound(" 1"), None);
    }
}
