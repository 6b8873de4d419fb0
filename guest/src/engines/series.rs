//! An exact-name index over every parsed sample, and the label aggregations
//! the mappers share.
//!
//! Guarantees: a lookup matches a series name exactly, never by prefix, so
//! `vllm:prompt_tokens_created` (a unix timestamp) can never be read as
//! `vllm:prompt_tokens_total`. Lookups go by *sample* name across all
//! families, so they work whether the parser put a sample under the family the
//! `# TYPE` line named (0.0.4: `x_total` family, OpenMetrics: `x` family) or
//! under a family of its own. Every aggregation returns `None` when no series
//! of that name exists; it never invents a 0. The one rename is undoing
//! OpenMetrics name escaping (`sglang_x` under `# TYPE sglang:x`), and only for
//! names a `# TYPE`/`# HELP` line declares with the colon.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::distribution;
use super::snapshot::{Distribution, LabeledValue, MetricValue};
use crate::text::{Family, MetricType, Sample};

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

/// The declared colon name of an escaped sample name (see [`Index::new`]).
fn unescape(escaped: &HashMap<String, &str>, name: &str) -> Option<String> {
    SUFFIXES.iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        escaped
            .get(base)
            .map(|declared| format!("{declared}{suffix}"))
    })
}

/// A field's value and the exposed metric it was read from.
pub(crate) type Found = (String, MetricValue);

/// Samples of an exposition, grouped by exact series name.
pub(crate) struct Index<'f, 'a> {
    by_name: HashMap<Cow<'f, str>, Vec<&'f Sample<'a>>>,
    /// The declared type of the family each series name was found in.
    types: HashMap<Cow<'f, str>, MetricType>,
}

/// Series-name suffixes a family's samples may add to its name.
const SUFFIXES: [&str; 6] = ["", "_total", "_bucket", "_sum", "_count", "_created"];

impl<'f, 'a> Index<'f, 'a> {
    /// Index every sample of `families` by its series name.
    ///
    /// prometheus_client ≥ 0.23 answering an OpenMetrics `Accept` escapes
    /// sample names (`sglang:num_running_reqs` is written
    /// `sglang_num_running_reqs`) while `# TYPE` keeps the colon. A sample
    /// whose name is exactly such an escape of a declared family name (plus a
    /// series suffix) is also indexed under the declared, colon name, so the
    /// alias tables match it; nothing else is renamed.
    pub(crate) fn new(families: &'f [Family<'a>]) -> Self {
        let escaped: HashMap<String, &'f str> = families
            .iter()
            .filter(|f| f.name.contains(':'))
            .map(|f| (f.name.replace(':', "_"), f.name.as_ref()))
            .collect();
        let mut by_name: HashMap<Cow<'f, str>, Vec<&'f Sample<'a>>> = HashMap::new();
        let mut types: HashMap<Cow<'f, str>, MetricType> = HashMap::new();
        for family in families {
            for sample in &family.samples {
                let name: &'f str = sample.name.as_ref();
                by_name.entry(Cow::Borrowed(name)).or_default().push(sample);
                types
                    .entry(Cow::Borrowed(name))
                    .or_insert(family.metric_type);
                if !escaped.is_empty()
                    && !name.contains(':')
                    && let Some(declared) = unescape(&escaped, name)
                {
                    types
                        .entry(Cow::Owned(declared.clone()))
                        .or_insert(family.metric_type);
                    by_name
                        .entry(Cow::Owned(declared))
                        .or_default()
                        .push(sample);
                }
            }
        }
        Index { by_name, types }
    }

    /// Whether the series `metric` names (a series name, or a selector
    /// `name{label="value"}`) sits in a family declared `counter`.
    pub(crate) fn is_counter(&self, metric: &str) -> bool {
        let name = metric.split('{').next().unwrap_or(metric);
        self.types.get(name) == Some(&MetricType::Counter)
    }

    /// The earliest `*_created` value among series whose name starts with
    /// one of `prefixes` (the engine's own counters and histograms), or
    /// `None` when the exposition has none (multiprocess mode, V0, TGI…).
    pub(crate) fn earliest_created(&self, prefixes: &[&str]) -> Option<f64> {
        self.by_name
            .iter()
            .filter(|(name, _)| {
                name.ends_with("_created") && prefixes.iter().any(|p| name.starts_with(p))
            })
            .flat_map(|(_, samples)| samples.iter().map(|s| s.value))
            .filter(|v| v.is_finite())
            .reduce(f64::min)
    }

    /// Every sample called exactly `name` (empty when absent), in input order.
    pub(crate) fn get(&self, name: &str) -> &[&'f Sample<'a>] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether any sample is called exactly `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The first name of `alias` the exposition carries.
    pub(crate) fn resolve(&self, alias: &Alias) -> Option<&'static str> {
        alias.names.iter().copied().find(|n| match alias.kind {
            Kind::Series => self.has(n),
            Kind::Distribution => ["_count", "_sum", "_bucket"]
                .iter()
                .any(|suffix| self.has(&format!("{n}{suffix}"))),
        })
    }

    /// The sum of every series called `name`, over all labels.
    pub(crate) fn sum(&self, name: &str) -> Option<f64> {
        let samples = self.get(name);
        (!samples.is_empty()).then(|| samples.iter().map(|s| s.value).sum())
    }

    /// The sum of the series called `name` whose label `label` is one of
    /// `values`; `None` when no such series exists.
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
    pub(crate) fn max_where(&self, name: &str, label: &str, value: &str) -> Option<f64> {
        self.get(name)
            .iter()
            .filter(|s| s.labels.get(label).is_some_and(|v| v == value))
            .map(|s| s.value)
            .reduce(f64::max)
    }

    /// The mean over every series called `name`.
    pub(crate) fn mean(&self, name: &str) -> Option<f64> {
        let samples = self.get(name);
        self.sum(name).map(|total| total / samples.len() as f64)
    }

    /// The largest value over every series called `name`.
    pub(crate) fn max(&self, name: &str) -> Option<f64> {
        self.get(name).iter().map(|s| s.value).reduce(f64::max)
    }

    /// The series called `name` with the largest value (the first on ties).
    pub(crate) fn argmax(&self, name: &str) -> Option<&'f Sample<'a>> {
        let mut best: Option<&'f Sample<'a>> = None;
        for &s in self.get(name) {
            if best.is_none_or(|b| s.value > b.value) {
                best = Some(s);
            }
        }
        best
    }

    /// Series called `name` summed per value of `label` (over every other
    /// label), sorted by that value. Series without the label are skipped;
    /// `None` when no series carries it.
    pub(crate) fn by_label(&self, name: &str, label: &str) -> Option<Vec<LabeledValue>> {
        let mut groups: BTreeMap<String, f64> = BTreeMap::new();
        for s in self.get(name) {
            if let Some(key) = s.labels.get(label) {
                *groups.entry(key.into_owned()).or_insert(0.0) += s.value;
            }
        }
        (!groups.is_empty()).then(|| {
            groups
                .into_iter()
                .map(|(key, value)| LabeledValue { key, value })
                .collect()
        })
    }

    /// The distinct values of `label` over the series called `name`, sorted.
    pub(crate) fn distinct(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.get(name)
            .iter()
            .filter_map(|s| s.labels.get(label).map(|v| v.into_owned()))
            .collect()
    }

    /// The distinct values of `label` over every indexed series whose name
    /// passes `keep`, sorted.
    pub(crate) fn distinct_all(
        &self,
        keep: impl Fn(&str) -> bool,
        label: &str,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (name, samples) in &self.by_name {
            if keep(name) {
                out.extend(
                    samples
                        .iter()
                        .filter_map(|s| s.labels.get(label).map(|v| v.into_owned())),
                );
            }
        }
        out
    }

    /// The distribution of the first name of `alias` the exposition carries.
    pub(crate) fn distribution(&self, alias: &Alias) -> Option<(&'static str, Distribution)> {
        let name = self.resolve(alias)?;
        Some((name, distribution::of(self, name)?))
    }

    /// Apply `read` to the first name of `alias` the exposition carries.
    pub(crate) fn read(
        &self,
        alias: &Alias,
        read: impl FnOnce(&Self, &'static str) -> Option<MetricValue>,
    ) -> Option<Found> {
        let name = self.resolve(alias)?;
        Some((name.to_string(), read(self, name)?))
    }

    /// `alias` summed over every label, as a number field.
    pub(crate) fn read_sum(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.sum(n).map(MetricValue::Number))
    }

    /// `alias` averaged over its series, as a number field.
    pub(crate) fn read_mean(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.mean(n).map(MetricValue::Number))
    }

    /// The largest series of `alias`, as a number field.
    pub(crate) fn read_max(&self, alias: &Alias) -> Option<Found> {
        self.read(alias, |ix, n| ix.max(n).map(MetricValue::Number))
    }

    /// `alias` summed per value of `label`, as a by-label field.
    pub(crate) fn read_by(&self, alias: &Alias, label: &str) -> Option<Found> {
        self.read(alias, |ix, n| {
            ix.by_label(n, label)
                .map(|v| MetricValue::ByLabel(label.to_string(), v))
        })
    }

    /// `alias` as a distribution field.
    pub(crate) fn read_dist(&self, alias: &Alias) -> Option<Found> {
        self.distribution(alias)
            .map(|(n, d)| (n.to_string(), MetricValue::Distribution(d)))
    }
}
