//! A histogram's bucket series summed per `le` as a pass reads them, with
//! each label set's bounds kept to check that the layouts agree.
//!
//! Guarantees: the result is exactly what collecting every bucket and
//! calling [`crate::distribution::from_histogram`] gives (the oracle does
//! that): each bound's sum starts at its first count and adds the others in
//! input order, as `sum_by_le` does; bounds are told apart by their bits,
//! and the one case where `sum_by_le` merges two (`-0` and `+0`) is added
//! up in its order (the -0 sum, then every +0 count). No sample is kept. A
//! label set is compared with the previous bucket's by its raw text around
//! the `le` pair, and decoded only when it differs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::series::Point;
use crate::distribution::{Bucket, from_summed, parse_bound, sort_by_le};
use crate::snapshot::Distribution;
use crate::text::same_bytes;

/// A label set as sorted, distinct `(name, value)` pairs.
type LabelSet<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// One distinct `le` text seen, its bound and its running sum's index.
struct LeText<'a> {
    text: Cow<'a, str>,
    /// The parsed bound and its index in the sums (`usize::MAX` for NaN,
    /// which no sum keeps), `None` when not a number.
    bound: Option<(f64, usize)>,
}

/// The running state of one histogram's buckets.
pub(crate) struct Buckets<'a> {
    /// Sums per distinct bound (by bits), in order of first appearance; a
    /// sum starts at its first count, as `sum_by_le`'s does (so -0 stays -0).
    sums: Vec<(f64, Option<f64>)>,
    les: Vec<LeText<'a>>,
    /// Where in `les` the next bucket's text probably is.
    guess: usize,
    /// Layouts by label set (other than `le`), keyed by the sorted pairs.
    layouts: BTreeMap<LabelSet<'a>, usize>,
    /// Per layout, the bounds' bits.
    bounds: Vec<Vec<u64>>,
    /// The raw text around the `le` pair of the last bucket given a layout.
    prev: Option<(&'a str, &'a str)>,
    /// The last bucket's layout (`usize::MAX` before the first).
    layout: usize,
    /// Every count of a `+0` bound, in input order: when `-0` bounds exist
    /// too, `sum_by_le` adds these one by one after all the `-0` counts.
    plus_zero: Vec<f64>,
}

impl<'a> Buckets<'a> {
    /// No bucket yet.
    pub(crate) fn new() -> Self {
        Buckets {
            sums: Vec::new(),
            les: Vec::new(),
            guess: 0,
            layouts: BTreeMap::new(),
            bounds: Vec::new(),
            prev: None,
            layout: usize::MAX,
            plus_zero: Vec::new(),
        }
    }

    /// Add one `_bucket` sample (skipped without a numeric `le`, as the
    /// oracle skips it).
    #[inline]
    pub(crate) fn add(&mut self, s: Point<'a>) {
        // The `le` pair where the last bucket had it, after the same text
        // (the same plain pairs): a run of one series' buckets.
        let at_prev = self.prev.and_then(|(before, prev_after)| {
            let raw = s.labels.as_raw_str();
            if !raw
                .as_bytes()
                .get(..before.len())
                .is_some_and(|head| same_bytes(head, before.as_bytes()))
            {
                return None;
            }
            let (n, le, next) = s.labels.plain_at(before.len())?;
            let after = &raw[next..];
            same_bytes(n.as_bytes(), b"le").then(|| {
                (
                    le,
                    (before, after),
                    same_bytes(after.as_bytes(), prev_after.as_bytes()),
                )
            })
        });
        let (le, around, same) = match at_prev {
            Some((le, around, same)) => (Cow::Borrowed(le), Some(around), same),
            None => match s.labels.find_plain("le") {
                Some(Some((le, before, after))) => {
                    let around = Some((before, after));
                    (Cow::Borrowed(le), around, around == self.prev)
                }
                Some(None) => return,
                None => match s.labels.get("le") {
                    Some(le) => (le, None, false),
                    None => return,
                },
            },
        };
        let at = self.bound_of(le);
        let Some((v, i)) = self.les[at].bound else {
            return;
        };
        if !same || self.layout == usize::MAX {
            // Another label set than the last bucket's (or one not known to
            // be the same): find its layout by its sorted pairs.
            let mut key: Vec<_> = s.labels.iter().filter(|(n, _)| n != "le").collect();
            // Equal pairs are the same text: the order among them is moot.
            key.sort_unstable();
            key.dedup();
            let bounds = &mut self.bounds;
            self.layout = *self.layouts.entry(key).or_insert_with(|| {
                bounds.push(Vec::new());
                bounds.len() - 1
            });
            self.prev = around;
        }
        self.bounds[self.layout].push(v.to_bits());
        if let Some((_, sum)) = self.sums.get_mut(i) {
            *sum = Some(sum.map_or(s.value, |c| c + s.value));
        }
        if v.to_bits() == 0 {
            self.plus_zero.push(s.value);
        }
    }

    /// The index in `les` of `le`: the text seen at this position of the
    /// layout last time, else any text seen, else parsed now.
    #[inline]
    fn bound_of(&mut self, le: Cow<'a, str>) -> usize {
        let at = match self.les.get(self.guess) {
            Some(l) if same_text(&l.text, &le) => self.guess,
            _ => match self.les.iter().position(|l| same_text(&l.text, &le)) {
                Some(i) => i,
                None => {
                    let sums = &mut self.sums;
                    let bound = parse_bound(&le).map(|v| {
                        let i = if v.is_nan() {
                            usize::MAX
                        } else {
                            sums.iter()
                                .position(|b| b.0.to_bits() == v.to_bits())
                                .unwrap_or_else(|| {
                                    sums.push((v, None));
                                    sums.len() - 1
                                })
                        };
                        (v, i)
                    });
                    self.les.push(LeText { text: le, bound });
                    self.les.len() - 1
                }
            },
        };
        self.guess = at + 1;
        at
    }

    /// The distribution of these buckets with the histogram's `_count` and
    /// `_sum`.
    pub(crate) fn distribution(
        &self,
        count: Option<f64>,
        total: Option<f64>,
    ) -> Option<Distribution> {
        let mut summed: Vec<Bucket> = self
            .sums
            .iter()
            .filter_map(|&(le, count)| Some(Bucket { le, count: count? }))
            .collect();
        if summed.iter().filter(|b| b.le == 0.0).count() > 1 {
            // Both -0 and +0: `sum_by_le` adds them as one bound (spelled
            // -0), the -0 sum first and then every +0 count in input order.
            summed.retain(|b| b.le.to_bits() != 0);
            if let Some(zero) = summed.iter_mut().find(|b| b.le == 0.0) {
                for c in &self.plus_zero {
                    zero.count += c;
                }
            }
        }
        sort_by_le(&mut summed);
        let mut d = from_summed(summed, count, total)?;
        let mut sets = self.layouts.values().map(|&i| {
            let mut v = self.bounds[i].clone();
            v.sort_unstable();
            v
        });
        if let Some(first) = sets.next()
            && sets.any(|other| other != first)
        {
            // Ranks bucketed differently: a sum per `le` is no histogram.
            d.buckets.clear();
        }
        Some(d)
    }
}

/// `a == b`, compared inline: `le` texts are a few bytes long.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}
