//! The one-pass index: the series an engine's alias table names, kept from
//! one walk over the parsed samples, and the distributions read from them.
//!
//! Guarantees: answers exactly what indexing every sample by name would
//! (the test-only `oracle` does that, and the tests compare the two on every
//! fixture and on generated expositions): names match exactly, an escaped
//! sample name is also kept under its declared colon name
//! ([`super::series::unescape`]), samples stay in input order per name, and
//! sums add in that order. Only names in the engine's [`Table`] are kept: a
//! fold asking for another name is a bug (checked in debug builds). Label
//! sets are walked once per kept sample a fold reads; a name is looked up
//! (a binary search of the table) once per run of equal sample names; no
//! lookup allocates.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use super::buckets::Buckets;
use super::distribution::{from_summary, parse_bound};
use super::series::{DIST_SUFFIXES, Kind, Lookup, sum, unescape};
use super::snapshot::Distribution;
use super::{ENGINES, EngineSpec, PROCESS_START};
use crate::text::{Family, MetricType, Sample, same_bytes};

/// Every series name an engine reads, sorted: each alias-table name (a
/// distribution's base name and its `_count`, `_sum` and `_bucket` series)
/// and `process_start_time_seconds`. A name's slot is its position.
pub(crate) struct Table {
    names: Vec<String>,
    /// Per slot, what the name is to a distribution.
    role: Vec<Role>,
}

/// What a table name is to a distribution alias.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Role {
    /// A distribution's base name.
    base: bool,
    /// A distribution's `_bucket` series.
    bucket: bool,
}

impl Table {
    fn build(spec: &EngineSpec) -> Table {
        let mut names: Vec<(String, Role)> = vec![(PROCESS_START.to_string(), Role::default())];
        for alias in spec.table {
            let dist = alias.kind == Kind::Distribution;
            for name in alias.names {
                let base = Role {
                    base: dist,
                    bucket: false,
                };
                names.push((name.to_string(), base));
                if dist {
                    names.extend(DIST_SUFFIXES.iter().map(|s| {
                        let role = Role {
                            base: false,
                            bucket: *s == "_bucket",
                        };
                        (format!("{name}{s}"), role)
                    }));
                }
            }
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        // A name listed twice keeps one slot, with every role it has.
        names.dedup_by(|b, a| {
            let same = a.0 == b.0;
            if same {
                a.1.base |= b.1.base;
                a.1.bucket |= b.1.bucket;
            }
            same
        });
        Table {
            role: names.iter().map(|n| n.1).collect(),
            names: names.into_iter().map(|n| n.0).collect(),
        }
    }

    /// The table of `spec` (built once per process).
    fn of(spec: &EngineSpec) -> &'static Table {
        static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| ENGINES.iter().map(Table::build).collect());
        let i = ENGINES
            .iter()
            .position(|e| e.id == spec.id)
            .expect("specs come from ENGINES");
        &tables[i]
    }

    /// The slot of `name`.
    fn slot(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }

    /// The slot of `base` followed by `suffix`, without building the name.
    fn slot_suffixed(&self, base: &str, suffix: &str) -> Option<usize> {
        self.names
            .binary_search_by(|n| cmp_concat(n.as_bytes(), base.as_bytes(), suffix.as_bytes()))
            .ok()
    }
}

/// `name` compared with the concatenation `base` + `suffix`.
fn cmp_concat(name: &[u8], base: &[u8], suffix: &[u8]) -> Ordering {
    let k = name.len().min(base.len());
    match name[..k].cmp(&base[..k]) {
        Ordering::Equal if name.len() < base.len() => Ordering::Less,
        Ordering::Equal => name[base.len()..].cmp(suffix),
        other => other,
    }
}

/// What the pass knows about one sample name (computed once per run of
/// samples with that name).
#[derive(Default)]
struct NameFacts {
    /// The slot of the name itself.
    slot: Option<usize>,
    /// The slot of its declared colon name, when it is an escape of one.
    declared_slot: Option<usize>,
    /// Names with a blank (quoted UTF-8 names) are not in any table but may
    /// be asked about by `is_counter` (ratio fields name `a / b`): the name
    /// itself and the declared name, when they have one.
    odd: [Option<String>; 2],
    /// The name (or its declared name) is the engine's: its model label counts.
    model: bool,
    /// The name (or its declared name) is one of the engine's `*_created`.
    created: bool,
}

/// How many names' facts the pass keeps besides the current one's.
const RECENT: usize = 4;

/// The series an engine reads, kept from one pass over the samples.
pub(crate) struct Kept<'f, 'a> {
    table: &'static Table,
    /// Per slot, the samples of that name in input order.
    series: Vec<Vec<&'f Sample<'a>>>,
    /// Per slot, the declared type of the family its first sample was in.
    types: Vec<Option<MetricType>>,
    /// Types of the odd (blank-containing) names, first family wins.
    odd_types: Vec<(String, MetricType)>,
    /// The earliest finite `*_created` value of the engine's series.
    created: Option<f64>,
    /// The engine's model-label values.
    models: BTreeSet<Cow<'a, str>>,
    /// Per `_bucket` slot, its buckets summed as the pass read them.
    buckets: Vec<Option<Buckets<'a>>>,
    /// Per slot, the distribution of a base name, computed once.
    dists: Vec<OnceCell<Option<Distribution>>>,
}

impl<'f, 'a> Kept<'f, 'a> {
    /// One pass over `families`' samples, keeping what `spec` reads.
    pub(crate) fn new(families: &'f [Family<'a>], spec: &'static EngineSpec) -> Self {
        let table = Table::of(spec);
        let slots = table.names.len();
        let mut k = Kept {
            table,
            series: vec![Vec::new(); slots],
            types: vec![None; slots],
            odd_types: Vec::new(),
            created: None,
            models: BTreeSet::new(),
            buckets: (0..slots).map(|_| None).collect(),
            dists: (0..slots).map(|_| OnceCell::new()).collect(),
        };
        let escaped: HashMap<String, &'f str> = families
            .iter()
            .filter(|f| f.name.contains(':'))
            .map(|f| (f.name.replace(':', "_"), f.name.as_ref()))
            .collect();
        let owned = |name: &str| spec.prefixes.iter().any(|p| name.starts_with(p));
        let facts = |name: &str| {
            let declared = (!escaped.is_empty() && !name.contains(':'))
                .then(|| unescape(&escaped, name))
                .flatten();
            let mine = |n: &str| owned(n);
            let created = |n: &str| n.ends_with("_created") && owned(n);
            let odd = |n: &str| n.contains(' ').then(|| n.to_string());
            NameFacts {
                slot: table.slot(name),
                declared_slot: declared.as_deref().and_then(|d| table.slot(d)),
                model: spec.model_label.is_some()
                    && (mine(name) || declared.as_deref().is_some_and(mine)),
                created: created(name) || declared.as_deref().is_some_and(created),
                odd: [odd(name), declared.as_deref().and_then(odd)],
            }
        };
        let mut last: Option<&'f str> = None;
        let mut cur = NameFacts::default();
        let mut recent: Vec<(&'f str, NameFacts)> = Vec::with_capacity(RECENT);
        let mut last_model: Option<Cow<'a, str>> = None;
        // The raw text of the last model label pair read, `name="value"`.
        let mut model_pair: Option<&'a str> = None;
        for family in families {
            for sample in &family.samples {
                let name: &'f str = &sample.name;
                if !last.is_some_and(|l| same_bytes(l.as_bytes(), name.as_bytes())) {
                    // Histograms cycle through `_bucket`, `_count`, `_sum`:
                    // the facts of the last few names are kept.
                    let new = match recent
                        .iter()
                        .position(|(n, _)| same_bytes(n.as_bytes(), name.as_bytes()))
                    {
                        Some(i) => recent.remove(i).1,
                        None => facts(name),
                    };
                    let old = std::mem::replace(&mut cur, new);
                    if let Some(l) = last {
                        if recent.len() == RECENT {
                            recent.remove(0);
                        }
                        recent.push((l, old));
                    }
                    last = Some(name);
                }
                for slot in [cur.slot, cur.declared_slot].into_iter().flatten() {
                    k.series[slot].push(sample);
                    k.types[slot].get_or_insert(family.metric_type);
                    if table.role[slot].bucket {
                        k.buckets[slot].get_or_insert_with(Buckets::new).add(sample);
                    }
                }
                for odd in cur.odd.iter().flatten() {
                    if !k.odd_types.iter().any(|(n, _)| n == odd) {
                        k.odd_types.push((odd.clone(), family.metric_type));
                    }
                }
                if cur.model
                    && let Some(label) = spec.model_label
                    && !model_pair.is_some_and(|p| {
                        let raw = sample.labels.as_raw_str().as_bytes();
                        raw.get(..p.len())
                            .is_some_and(|head| same_bytes(head, p.as_bytes()))
                    })
                    && let Some(value) = sample.labels.get(label)
                {
                    // When the model label is the first pair and plain, the
                    // next samples starting with the same pair have it too.
                    model_pair = sample
                        .labels
                        .plain_at(0)
                        .filter(|(n, v, _)| n == &label && v == &value)
                        .map(|(n, v, _)| &sample.labels.as_raw_str()[..n.len() + v.len() + 3]);
                    if last_model.as_ref() != Some(&value) {
                        k.models.insert(value.clone());
                        last_model = Some(value);
                    }
                }
                if cur.created && sample.value.is_finite() {
                    k.created = Some(k.created.map_or(sample.value, |c| c.min(sample.value)));
                }
            }
        }
        k
    }

    /// The samples of slot `slot`.
    fn at(&self, slot: Option<usize>) -> &[&Sample<'a>] {
        slot.map_or(&[], |i| self.series[i].as_slice())
    }

    /// The distribution of `base`, computed from the kept series.
    fn compute(&self, base: &str) -> Option<Distribution> {
        let count = sum(self.get_suffixed(base, "_count"));
        let total = sum(self.get_suffixed(base, "_sum"));
        let buckets = self.get_suffixed(base, "_bucket");
        if !buckets.is_empty() {
            let slot = self.table.slot_suffixed(base, "_bucket")?;
            return self.buckets[slot]
                .as_ref()?
                .distribution(buckets, count, total);
        }
        let quantiles: Vec<(f64, f64)> = self
            .get(base)
            .iter()
            .filter_map(|s| Some((parse_bound(&s.labels.get("quantile")?)?, s.value)))
            .collect();
        Some(from_summary(&quantiles, count?, total?))
    }
}

impl<'a> Lookup<'a> for Kept<'_, 'a> {
    fn get(&self, name: &str) -> &[&Sample<'a>] {
        let slot = self.table.slot(name);
        debug_assert!(slot.is_some(), "{name} is not in the engine's table");
        self.at(slot)
    }

    fn get_suffixed(&self, base: &str, suffix: &str) -> &[&Sample<'a>] {
        let slot = self.table.slot_suffixed(base, suffix);
        debug_assert!(
            slot.is_some(),
            "{base}{suffix} is not in the engine's table"
        );
        self.at(slot)
    }

    fn is_counter(&self, metric: &str) -> bool {
        let name = metric.split('{').next().unwrap_or(metric);
        let ty = match self.table.slot(name) {
            Some(i) => self.types[i],
            None => self
                .odd_types
                .iter()
                .find(|(n, _)| n == name)
                .map(|&(_, t)| t),
        };
        ty == Some(MetricType::Counter)
    }

    fn earliest_created(&self) -> Option<f64> {
        self.created
    }

    fn model_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.to_string()).collect()
    }

    fn distribution_of(&self, base: &str) -> Option<Distribution> {
        let slot = self.table.slot(base);
        debug_assert!(
            slot.is_some_and(|i| self.table.role[i].base),
            "{base} is not a distribution of the engine's table"
        );
        match slot {
            Some(i) => self.dists[i].get_or_init(|| self.compute(base)).clone(),
            None => self.compute(base),
        }
    }
}
