//! What a fold reads: the [`Lookup`] of an exposition's series by exact name,
//! the alias-table rows that name them, and the label aggregations the
//! mappers share.
//!
//! Guarantees: a lookup matches a series name exactly, never by prefix, so
//! `vllm:prompt_tokens_created` (a unix timestamp) can never be read as
//! `vllm:prompt_tokens_total`. Lookups go by *sample* name across all
//! families, so they work whether the parser put a sample under the family the
//! `# TYPE` line named (0.0.4: `x_total` family, OpenMetrics: `x` family) or
//! under a family of its own. Every aggregation returns `None` when no series
//! of that name exists; it never invents a 0. The one rename is undoing
//! OpenMetrics name escaping (`sglang_x` under `# TYPE sglang:x`), and only for
//! names a `# TYPE`/`# HELP` line declares with the colon ([`unescape`]).
//! Nothing here allocates to look a name up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::snapshot::{Distribution, LabeledValue, MetricValue};
use crate::text::{Labels, Sample};

/// How an alias name is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A counter or gauge: the name is the exposed series name (counters
    /// with their `_total` where the engine adds one).
    Series,
    /// A histogram or summary: the name is the base, exposed as
    /// `name_bucket`/`name{quantile}` plus `name_sum` and `name_count`.
    Distribution,
}

/// One row of an engine's alias table: a canonical field and the exposed
/// names that carry it, in order of preference (newest name first).
#[derive(Debug)]
pub(crate) struct Alias {
    /// The canonical field name, as reported in an engine group.
    pub(crate) field: &'static str,
    /// How the names are looked up.
    pub(crate) kind: Kind,
    /// Accepted exposed names, preferred first.
    pub(crate) names: &'static [&'static str],
}

/// An alias-table row read as plain series (counters, gauges, info).
pub(crate) const fn series(field: &'static str, names: &'static [&'static str]) -> Alias {
    Alias {
        field,
        kind: Kind::Series,
        names,
    }
}

/// An alias-table row read as a histogram or summary.
pub(crate) const fn dist(field: &'static str, names: &'static [&'static str]) -> Alias {
    Alias {
        field,
        kind: Kind::Distribution,
        names,
    }
}

/// The series suffixes a distribution's base name is exposed with.
pub(crate) const DIST_SUFFIXES: [&str; 3] = ["_count", "_sum", "_bucket"];

/// Series-name suffixes a family's samples may add to its name.
pub(crate) const SUFFIXES: [&str; 6] = ["", "_total", "_bucket", "_sum", "_count", "_created"];

/// The declared colon name of an escaped sample name: prometheus_client ≥
/// 0.23 answering an OpenMetrics `Accept` writes `sglang:num_running_reqs`
/// as `sglang_num_running_reqs` while `# TYPE` keeps the colon. `escaped`
/// maps each declared colon family name, escaped, to the declared name.
pub(crate) fn unescape<V: AsRef<str>>(escaped: &HashMap<String, V>, name: &str) -> Option<String> {
    SUFFIXES.iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        escaped
            .get(base)
            .map(|declared| format!("{}{suffix}", declared.as_ref()))
    })
}

/// What a fold reads of a sample: its labels and its value (the name is the
/// one it was looked up by).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Point<'a> {
    /// The label set (validated; decoded lazily).
    pub(crate) labels: Labels<'a>,
    /// The value.
    pub(crate) value: f64,
}

impl<'a> From<&Sample<'a>> for Point<'a> {
    fn from(s: &Sample<'a>) -> Self {
        Point {
            labels: s.labels,
            value: s.value,
        }
    }
}

/// A field's value and the exposed metric it was read from.
pub(crate) type Found = (String, MetricValue);

/// An exposition's series as a fold sees them.
///
/// [`super::kept::Kept`] answers from the series the engine's alias table
/// names, kept while the parser reads them; the test-only `oracle` answers
/// from every sample.
pub(crate) trait Lookup<'a> {
    /// Every sample called exactly `name` (empty when absent), in input order.
    fn get(&self, name: &str) -> &[Point<'a>];
    /// Whether any sample is called exactly `base` followed by `suffix`.
    fn has_suffixed(&self, base: &str, suffix: &str) -> bool;
    /// Whether the series `metric` names (a series name, or a selector
    /// `name{label="value"}`) sits in a family declared `counter`.
    fn is_counter(&self, metric: &str) -> bool;
    /// The earliest `*_created` value among the engine's own series, or
    /// `None` when the exposition has none (multiprocess mode, V0, TGI…).
    fn earliest_created(&self) -> Option<f64>;
    /// The distinct values, sorted, of the engine's model label over the
    /// engine's own series (empty for an engine without one).
    fn model_names(&self) -> Vec<String>;
    /// The histogram or summary called `base`, summed over every label (see
    /// [`super::distribution`]); `None` when neither is exposed.
    fn distribution_of(&self, base: &str) -> Option<Distribution>;
}

/// What the folds take: any [`Lookup`].
pub(crate) type Index<'i, 'a> = dyn Lookup<'a> + 'i;

// The readers below run once per field per call, never per sample: they are
// kept out of line (`#[inline(never)]`, as `GroupBuilder`'s methods) so that
// each engine's `map` calls them rather than carrying a copy per field, which
// kept the component under its 600 KB budget (issue 20, BENCHMARKS.md).
impl<'a> dyn Lookup<'a> + '_ {
    /// Whether any sample is called exactly `name`.
    #[inline(never)]
    pub(crate) fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The first name of `alias` the exposition carries.
    #[inline(never)]
    pub(crate) fn resolve(&self, alias: &Alias) -> Option<&'static str> {
        alias.names.iter().copied().find(|n| match alias.kind {
            Kind::Series => self.has(n),
            Kind::Distribution => DIST_SUFFIXES
                .iter()
                .any(|suffix| self.has_suffixed(n, suffix)),
        })
    }

    /// The sum of every series called `name`, over all labels.
    #[inline(never)]
    pub(crate) fn sum(&self, name: &str) -> Option<f64> {
        sum(self.get(name))
    }

    /// The sum of the series called `name` whose label `label` is one of
    /// `values`; `None` when no such series exists.
    #[inline(never)]
    pub(crate) fn sum_where(&self, name: &str, label: &str, values: &[&str]) -> Option<f64> {
        let mut total = None;
        for s in self.get(name) {
            if s.labels
                .get(label)
                .is_some_and(|v| values.contains(&v.as_ref()))
            {
                *total.get_or_insert(0.0) += s.value;
            }
        }
        total
    }

    /// The mean of the series called `name` whose label `label` is `value`.
    #[inline(never)]
    pub(crate) fn mean_where(&self, name: &str, label: &str, value: &str) -> Option<f64> {
        let (mut total, mut n) = (0.0, 0usize);
        for s in self.get(name) {
            if s.labels.get(label).is_some_and(|v| v == value) {
                total += s.value;
                n += 1;
            }
        }
        (n > 0).then(|| total / n as f64)
    }

    /// The largest of the series called `name` whose label `label` is `value`.
    #[inline(never)]
    pub(crate) fn max_where(&self, name: &str, label: &str, value: &str) -> Option<f64> {
        self.get(name)
            .iter()
            .filter(|s| s.labels.get(label).is_some_and(|v| v == value))
            .map(|s| s.value)
            .reduce(f64::max)
    }

    /// The mean over every series called `name`.
    #[inline(never)]
    pub(crate) fn mean(&self, name: &str) -> Option<f64> {
        let samples = self.get(name);
        sum(samples).map(|total| total / samples.len() as f64)
    }

    /// The largest value over every series called `name`.
    #[inline(never)]
    pub(crate) fn max(&self, name: &str) -> Option<f64> {
        self.get(name).iter().map(|s| s.value).reduce(f64::max)
    }

    /// The series called `name` with the largest value (the first on ties).
    #[inline(never)]
    pub(crate) fn argmax(&self, name: &str) -> Option<&Point<'a>> {
        let mut best: Option<&Point<'a>> = None;
        for s in self.get(name) {
            if best.is_none_or(|b| s.value > b.value) {
                best = Some(s);
            }
        }
        best
    }

    /// Series called `name` summed per value of `label` (over every other
    /// label), sorted by that value. Series without the label are skipped;
    /// `None` when no series carries it.
    #[inline(never)]
    pub(crate) fn by_label(&self, name: &str, label: &str) -> Option<Vec<LabeledValue>> {
        let mut groups: BTreeMap<std::borrow::Cow<'a, str>, f64> = BTreeMap::new();
        for s in self.get(name) {
            if let Some(key) = s.labels.get(label) {
                *groups.entry(key).or_insert(0.0) += s.value;
            }
        }
        (!groups.is_empty()).then(|| {
            groups
                .into_iter()
                .map(|(key, value)| LabeledValue {
                    key: key.into_owned(),
                    value,
                })
                .collect()
        })
    }

    /// The distinct values of `label` over the series called `name`, sorted.
    #[inline(never)]
    pub(crate) fn distinct(&self, name: &str, label: &str) -> BTreeSet<std::borrow::Cow<'a, str>> {
        // Inserted one by one: `collect` would bulk-build the set through a
        // stable sort, a copy of which the component would carry for this
        // call alone (~7 KB).
        let mut values = BTreeSet::new();
        for s in self.get(name) {
            if let Some(value) = s.labels.get(label) {
                values.insert(value);
            }
        }
        values
    }

    /// The distribution of the first name of `alias` the exposition carries.
    #[inline(never)]
    pub(crate) fn distribution(&self, alias: &Alias) -> Option<(&'static str, Distribution)> {
        let name = self.resolve(alias)?;
        Some((name, self.distribution_of(name)?))
    }

    /// Apply `read` to the first name of `alias` the exposition carries.
    #[inline(never)]
    pub(crate) fn read(
        &self,
        alias: &Alias,
        read: impl FnOnce(&Self, &'static str) -> Option<MetricValue>,
    ) -> Option<Found> {
        let name = self.resolve(alias)?;
        Some((name.to_string(), read(self, name)?))
    }

    /// `alias` summed over every label, as a number field.
    #[inline(never)]
    pub(crate) fn read_sum(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.sum(n).map(MetricValue::Number))
    }

    /// `alias` averaged over its series, as a number field.
    #[inline(never)]
    pub(crate) fn read_mean(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.mean(n).map(MetricValue::Number))
    }

    /// The largest series of `alias`, as a number field.
    #[inline(never)]
    pub(crate) fn read_max(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.max(n).map(MetricValue::Number))
    }

    /// `alias` summed per value of `label`, as a by-label field.
    #[inline(never)]
    pub(crate) fn read_by(&self, alias: &Alias, label: &str) -> Option<Found> {
        self.read(alias, |ix, n| {
            ix.by_label(n, label)
                .map(|v| MetricValue::ByLabel(label.to_string(), v))
        })
    }

    /// `alias` as a distribution field.
    #[inline(never)]
    pub(crate) fn read_dist(&self, alias: &Alias) -> Option<Found> {
        self.distribution(alias)
            .map(|(n, d)| (n.to_string(), MetricValue::Distribution(d)))
    }
}

/// The sum of `samples`' values, `None` when there is none.
pub(crate) fn sum(samples: &[Point<'_>]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().map(|s| s.value).sum())
}
