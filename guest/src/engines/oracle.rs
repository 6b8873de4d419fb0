//! The slow, obviously correct mapping path, kept to check the fast one
//! ([`super::map`]) against: every sample of every family hashed by name,
//! histograms read with a map keyed by owned label sets, every lookup a
//! formatted string, and detection counting every family of every engine.
//!
//! Guarantees: this is the mapper as it was before the one-pass index
//! (`super::kept`), folds shared; [`map`] must answer exactly what
//! [`super::map`] answers for every input (the engines' tests and the fuzz
//! targets' `map_*` checks compare them snapshot for snapshot).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::detect::{self, MapError};
use super::kit::EngineSpec;
use super::list::{AUTO, ENGINES, find};
use super::series::{Lookup, Point, unescape};
use crate::distribution::{Bucket, from_histogram, from_summary, parse_bound};
use crate::snapshot::Distribution;
use crate::snapshot::EngineSnapshot;
use crate::text::{Family, MetricType};

/// Map parsed families as [`super::map`] does, the slow way.
///
/// # Errors
/// As [`super::detect`] describes.
pub fn map(families: &[Family<'_>], engine: &str) -> Result<EngineSnapshot, MapError> {
    let spec = detect(families, engine)?;
    let ix = Index::new(families, spec, engine != AUTO);
    Ok(spec.fold(&ix))
}

/// Detection by counting each engine's families.
///
/// # Errors
/// As [`super::detect`] describes.
pub fn detect(families: &[Family<'_>], requested: &str) -> Result<&'static EngineSpec, MapError> {
    let owns = |e: &EngineSpec, family: &Family<'_>| {
        let owned = |name: &str| {
            e.prefixes.iter().any(|p| name.starts_with(p))
                || (requested != AUTO && e.owns_requested_only(name))
        };
        owned(&family.name) || family.samples.iter().any(|s| owned(&s.name))
    };
    let count = |e: &EngineSpec| families.iter().filter(|f| owns(e, f)).count();
    if requested != AUTO {
        let spec = find(requested).ok_or_else(|| MapError::UnknownEngine(requested.into()))?;
        return if count(spec) > 0 {
            Ok(spec)
        } else {
            Err(detect::not_requested(spec, families))
        };
    }
    let present: Vec<&'static EngineSpec> = ENGINES.iter().filter(|e| count(e) > 0).collect();
    detect::decide(&present, families)
}

/// Samples of an exposition, grouped by exact series name.
struct Index<'f, 'a> {
    spec: &'static EngineSpec,
    /// The engine was requested by id (its requested-only names count).
    requested: bool,
    by_name: HashMap<Cow<'f, str>, Vec<Point<'a>>>,
    /// The declared type of the family each series name was found in.
    types: HashMap<Cow<'f, str>, MetricType>,
}

impl<'f, 'a> Index<'f, 'a> {
    /// Index every sample of `families` by its series name, and also by its
    /// declared colon name when it is an escape of one ([`unescape`]).
    fn new(families: &'f [Family<'a>], spec: &'static EngineSpec, requested: bool) -> Self {
        let escaped: HashMap<String, &'f str> = families
            .iter()
            .filter(|f| f.name.contains(':'))
            .map(|f| (f.name.replace(':', "_"), f.name.as_ref()))
            .collect();
        let mut by_name: HashMap<Cow<'f, str>, Vec<Point<'a>>> = HashMap::new();
        let mut types: HashMap<Cow<'f, str>, MetricType> = HashMap::new();
        for family in families {
            for sample in &family.samples {
                let name: &'f str = sample.name.as_ref();
                by_name
                    .entry(Cow::Borrowed(name))
                    .or_default()
                    .push(sample.into());
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
                        .push(sample.into());
                }
            }
        }
        Index {
            spec,
            requested,
            by_name,
            types,
        }
    }

    fn owned(&self, name: &str) -> bool {
        self.spec.prefixes.iter().any(|p| name.starts_with(p))
            || (self.requested && self.spec.owns_requested_only(name))
    }
}

impl<'a> Lookup<'a> for Index<'_, 'a> {
    fn get(&self, name: &str) -> &[Point<'a>] {
        self.by_name.get(name).map_or(&[], |v| v.as_slice())
    }

    fn has_suffixed(&self, base: &str, suffix: &str) -> bool {
        !self.get(&format!("{base}{suffix}")).is_empty()
    }

    fn is_counter(&self, metric: &str) -> bool {
        let name = metric.split('{').next().unwrap_or(metric);
        self.types.get(name) == Some(&MetricType::Counter)
    }

    fn earliest_created(&self) -> Option<f64> {
        self.by_name
            .iter()
            .filter(|(name, _)| name.ends_with("_created") && self.owned(name))
            .flat_map(|(_, samples)| samples.iter().map(|s| s.value))
            .filter(|v| v.is_finite())
            .reduce(f64::min)
    }

    fn model_names(&self) -> Vec<String> {
        let Some(label) = self.spec.model_label else {
            return Vec::new();
        };
        let mut out = BTreeSet::new();
        for (name, samples) in &self.by_name {
            if self.owned(name) {
                out.extend(
                    samples
                        .iter()
                        .filter_map(|s| s.labels.get(label).map(|v| v.into_owned())),
                );
            }
        }
        out.into_iter().collect()
    }

    fn distribution_of(&self, base: &str) -> Option<Distribution> {
        of(self, base)
    }
}

/// The histogram or summary called `base` in `ix`, summed over every label:
/// a histogram when `base_bucket` series exist, otherwise a summary from
/// `base_count`, `base_sum` and the `base{quantile=…}` series.
fn of(ix: &Index<'_, '_>, base: &str) -> Option<Distribution> {
    let count = super::series::sum(ix.get(&format!("{base}_count")));
    let sum = super::series::sum(ix.get(&format!("{base}_sum")));
    let bucket_samples = ix.get(&format!("{base}_bucket"));
    if !bucket_samples.is_empty() {
        // Each series' bounds, keyed by its labels other than `le`.
        let mut layouts: BTreeMap<Vec<(String, String)>, Vec<u64>> = BTreeMap::new();
        let buckets: Vec<Bucket> = bucket_samples
            .iter()
            .filter_map(|s| {
                let le = parse_bound(&s.labels.get("le")?)?;
                let key = s
                    .labels
                    .iter()
                    .filter(|(n, _)| n != "le")
                    .map(|(n, v)| (n.into_owned(), v.into_owned()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                layouts.entry(key).or_default().push(le.to_bits());
                Some(Bucket { le, count: s.value })
            })
            .collect();
        let mut d = from_histogram(&buckets, count, sum)?;
        let mut sets = layouts.into_values().map(|mut v| {
            v.sort_unstable();
            v
        });
        if let Some(first) = sets.next()
            && sets.any(|other| other != first)
        {
            // Ranks bucketed differently: a sum per `le` is no histogram.
            d.buckets.clear();
        }
        return Some(d);
    }
    let quantiles: Vec<(f64, f64)> = ix
        .get(base)
        .iter()
        .filter_map(|s| Some((parse_bound(&s.labels.get("quantile")?)?, s.value)))
        .collect();
    Some(from_summary(&quantiles, count?, sum?))
}
