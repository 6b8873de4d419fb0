//! The streaming index: the series the engines' alias tables name, kept as
//! the parser hands each sample over (a [`Sink`]), and the distributions
//! read from them. No other sample is stored.
//!
//! Guarantees: answers exactly what indexing every parsed sample by name
//! would (the test-only `oracle` does that, and the tests compare the two on
//! every fixture and on generated expositions): names match exactly, an
//! escaped sample name is also kept under its declared colon name
//! ([`super::series::unescape`]), samples stay in input order per name, and
//! sums add in that order. A family's type is read at the end (it may change
//! while the parse goes on). Escapes are resolved against the colon families
//! declared so far; when a colon family turns up after a sample it would
//! have renamed, the pass says so ([`Kept::late`]) and the caller runs it
//! again with every escape known up front. Only names in the [`Table`] are
//! kept, for every engine that may be asked (all of them under `auto`): a
//! fold asking for another name is a bug (checked in debug builds).
//! `_bucket` series are summed as read ([`Buckets`]), never stored. A name is
//! looked up (a binary search of the table) once per run of equal sample
//! names; no lookup allocates.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap, HashSet};

use super::buckets::Buckets;
use super::kit::EngineSpec;
use super::list::{ALL, AUTO, ENGINES, EngineBits};
use super::series::{Lookup, Point, SUFFIXES, sum, unescape};
use super::table::Table;
use crate::distribution::{from_summary, parse_bound};
use crate::snapshot::Distribution;
use crate::text::{Family, MetricType, Sample, Sink, same_bytes};

/// No family yet.
const NONE: u32 = u32::MAX;

/// What the pass knows about one sample name (computed once per run of
/// samples with that name).
#[derive(Clone, Default)]
struct Facts {
    /// The slot of the name itself, when a wanted engine reads it.
    slot: Option<usize>,
    /// The slot of its declared colon name, when it is an escape of one.
    declared_slot: Option<usize>,
    /// Engines (bit per [`ENGINES`] index) whose model label the name's
    /// samples carry: the name (or its declared name) is theirs.
    model: EngineBits,
    /// Engines of which the name (or its declared name) is a `*_created`.
    created: EngineBits,
}

/// How many names' facts the pass keeps besides the current one's.
const RECENT: usize = 4;

/// The series the engines read, kept while the parser runs.
pub(crate) struct Kept<'a> {
    table: &'static Table,
    /// Engines whose series are kept (bit `i`: `ENGINES[i]`).
    wanted: EngineBits,
    /// The engine being read, once [`Kept::select`] was told it.
    engine: usize,
    /// Declared colon family names, escaped → declared (a later family
    /// with the same escape wins, as when collecting them all).
    escaped: HashMap<String, String>,
    /// The first bytes of the keys of `escaped`: a name starting otherwise
    /// is no escape (saves hashing every plain name six times).
    escaped_heads: FirstBytes,
    /// The escapes were given up front: families are not looked at.
    seeded: bool,
    /// Unless seeded: every sample name without a colon seen so far, and
    /// their first bytes.
    plain: HashSet<Cow<'a, str>>,
    plain_heads: FirstBytes,
    late: bool,
    /// Engines owning a sample name seen.
    present: EngineBits,
    /// Per slot, the samples of that name in input order (none for `_bucket`).
    series: Vec<Vec<Point<'a>>>,
    /// Per slot, the family of its first sample.
    first_family: Vec<u32>,
    /// Per slot, its family's type (filled by `select`).
    types: Vec<Option<MetricType>>,
    /// Names with a blank (quoted UTF-8 names) are in no table but may be
    /// asked about by `is_counter` (ratio fields name `a / b`): the first
    /// family of each.
    odd: Vec<(String, u32)>,
    odd_types: Vec<(String, MetricType)>,
    /// Per engine, the earliest finite `*_created` value of its series.
    created: Vec<Option<f64>>,
    /// Per engine, its model-label values.
    models: Vec<BTreeSet<Cow<'a, str>>>,
    /// Per engine, the last model value added, and the raw label text up to
    /// the end of the last model pair read when every pair up to it is plain
    /// (`engine="0",model_name="m"`): a label text starting with it has the
    /// same model.
    last_model: Vec<Option<Cow<'a, str>>>,
    model_pair: Vec<Option<&'a str>>,
    /// Per engine, the last model pair read when it ended its label text
    /// (`model_name="m"`): a label text ending with `,` and that pair, or
    /// being that pair, has the same model ([`ends_with_pair`]).
    model_tail: Vec<Option<&'a str>>,
    /// Per `_bucket` slot, its buckets summed as the pass read them (boxed:
    /// most slots have none, and a call should not zero them all).
    buckets: Vec<Option<Box<Buckets<'a>>>>,
    /// Per slot, the distribution of a base name, computed once (allocated
    /// by `select`).
    dists: Vec<OnceCell<Option<Distribution>>>,
    last: Option<Cow<'a, str>>,
    cur: Facts,
    recent: Vec<(Cow<'a, str>, Facts)>,
}

/// A set of bytes.
#[derive(Clone, Copy, Default)]
struct FirstBytes([u64; 4]);

impl FirstBytes {
    /// Adds the first byte of `s`.
    fn add(&mut self, s: &str) {
        if let Some(&b) = s.as_bytes().first() {
            self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    /// Whether the first byte of `s` was added.
    fn has(&self, s: &str) -> bool {
        s.as_bytes()
            .first()
            .is_some_and(|&b| self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0)
    }
}

/// The escapes of `families`' colon names, as [`Kept::new`] takes them.
pub(crate) fn escapes(families: &[Family<'_>]) -> HashMap<String, String> {
    families
        .iter()
        .filter(|f| f.name.contains(':'))
        .map(|f| (f.name.replace(':', "_"), f.name.to_string()))
        .collect()
}

/// `a == b`, inline ([`same_bytes`]).
#[inline]
fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// Whether the label text `raw` ends with the pair `pair` (`name="value"`,
/// the value without escapes), as its own pair: `raw` is the pair, or ends
/// with `,` and the pair. In a label list the parser accepted, that pair is
/// a real one, never the tail of a quoted value: inside a value its `"`s
/// would be escaped, and a value's closing quote is followed by `,` or the
/// end, never by the rest of a pair. Names are unique, so it is the label.
#[inline]
fn ends_with_pair(raw: &str, pair: &str) -> bool {
    let (raw, pair) = (raw.as_bytes(), pair.as_bytes());
    let Some(start) = raw.len().checked_sub(pair.len()) else {
        return false;
    };
    same_bytes(&raw[start..], pair) && (start == 0 || raw[start - 1] == b',')
}

/// The engines owning `name` by prefix.
fn owners(name: &str) -> EngineBits {
    let first = name.as_bytes().first().copied();
    let mut bits = 0;
    for (i, e) in ENGINES.iter().enumerate() {
        if e.prefixes
            .iter()
            .any(|p| p.as_bytes().first().copied() == first && name.starts_with(p))
        {
            bits |= 1 << i;
        }
    }
    bits
}

impl<'a> Kept<'a> {
    /// An empty index for `requested` (an engine id or `auto`); `escapes`
    /// when every colon family is known up front ([`escapes`]).
    pub(crate) fn new(requested: &str, escapes: Option<HashMap<String, String>>) -> Self {
        let table = Table::get();
        let slots = table.len();
        let wanted = if requested == AUTO {
            ALL
        } else {
            ENGINES
                .iter()
                .position(|e| e.id == requested)
                .map_or(0, |i| 1 << i)
        };
        let n = ENGINES.len();
        let seeded = escapes.is_some();
        let escaped = escapes.unwrap_or_default();
        let mut escaped_heads = FirstBytes::default();
        for key in escaped.keys() {
            escaped_heads.add(key);
        }
        Kept {
            table,
            wanted,
            engine: 0,
            seeded,
            escaped,
            escaped_heads,
            plain: HashSet::new(),
            plain_heads: FirstBytes::default(),
            late: false,
            present: 0,
            series: (0..slots).map(|_| Vec::new()).collect(),
            first_family: vec![NONE; slots],
            types: Vec::new(),
            odd: Vec::new(),
            odd_types: Vec::new(),
            created: vec![None; n],
            models: (0..n).map(|_| BTreeSet::new()).collect(),
            last_model: vec![None; n],
            model_pair: vec![None; n],
            model_tail: vec![None; n],
            buckets: (0..slots).map(|_| None).collect(),
            dists: Vec::new(),
            last: None,
            cur: Facts::default(),
            recent: Vec::with_capacity(RECENT),
        }
    }

    /// A colon family turned up after a sample name its escape would have
    /// renamed: the pass must be run again with [`escapes`] given.
    pub(crate) fn late(&self) -> bool {
        self.late
    }

    /// The slot of `name` if a wanted engine reads it.
    fn wanted_slot(&self, name: &str) -> Option<usize> {
        self.table
            .slot(name)
            .filter(|&i| self.table.engines(i) & self.wanted != 0)
    }

    /// The facts of `s`'s name, first seen in family `family`.
    fn facts(&mut self, s: &Sample<'a>, family: u32) -> Facts {
        let name = &s.name;
        let colon = name.contains(':');
        if !self.seeded && !colon {
            self.plain.insert(name.clone());
            self.plain_heads.add(name);
        }
        let declared = (!colon && self.escaped_heads.has(name))
            .then(|| unescape(&self.escaped, name))
            .flatten();
        let mine = self.owners(name);
        self.present |= mine;
        let theirs = declared.as_deref().map_or(0, |d| self.owners(d));
        let created = |n: &str, bits: EngineBits| if n.ends_with("_created") { bits } else { 0 };
        let mut model = 0;
        for (i, e) in ENGINES.iter().enumerate() {
            if e.model_label.is_some() {
                model |= (mine | theirs) & (1 << i);
            }
        }
        for odd in [Some(name.as_ref()), declared.as_deref()]
            .into_iter()
            .flatten()
        {
            if odd.contains(' ') && !self.odd.iter().any(|(n, _)| n == odd) {
                self.odd.push((odd.to_string(), family));
            }
        }
        Facts {
            slot: self.wanted_slot(name),
            declared_slot: declared.as_deref().and_then(|d| self.wanted_slot(d)),
            model: model & self.wanted,
            created: (created(name, mine) | declared.as_deref().map_or(0, |d| created(d, theirs)))
                & self.wanted,
        }
    }

    /// Makes the facts of `s`'s name current.
    #[inline]
    fn switch(&mut self, s: &Sample<'a>, family: u32) {
        let name = &s.name;
        if self
            .last
            .as_ref()
            .is_some_and(|l| same_bytes(l.as_bytes(), name.as_bytes()))
        {
            return;
        }
        // Histograms cycle through `_bucket`, `_count`, `_sum`: the facts
        // of the last few names are kept.
        let new = match self
            .recent
            .iter()
            .position(|(n, _)| same_bytes(n.as_bytes(), name.as_bytes()))
        {
            Some(i) => self.recent.remove(i).1,
            None => self.facts(s, family),
        };
        let old = std::mem::replace(&mut self.cur, new);
        if let Some(l) = self.last.replace(name.clone()) {
            if self.recent.len() == RECENT {
                self.recent.remove(0);
            }
            self.recent.push((l, old));
        }
    }

    /// Takes sample `s` of family `family`.
    #[inline]
    pub(crate) fn add(&mut self, family: usize, s: Sample<'a>) {
        let family = family as u32;
        self.switch(&s, family);
        let mut models = self.cur.model;
        while models != 0 {
            let e = models.trailing_zeros() as usize;
            models &= models - 1;
            self.model(e, &s);
        }
        let mut created = self.cur.created;
        if created != 0 && s.value.is_finite() {
            while created != 0 {
                let e = created.trailing_zeros() as usize;
                created &= created - 1;
                let c = &mut self.created[e];
                *c = Some(c.map_or(s.value, |c| c.min(s.value)));
            }
        }
        let point = Point::from(&s);
        for slot in [self.cur.slot, self.cur.declared_slot]
            .into_iter()
            .flatten()
        {
            if self.first_family[slot] == NONE {
                self.first_family[slot] = family;
            }
            if self.table.role(slot).bucket {
                self.buckets[slot]
                    .get_or_insert_with(|| Box::new(Buckets::new()))
                    .add(point);
            } else {
                self.series[slot].push(point);
            }
        }
    }

    /// Reads engine `e`'s model label off `s`.
    #[inline]
    fn model(&mut self, e: usize, s: &Sample<'a>) {
        let Some(label) = ENGINES[e].model_label else {
            return;
        };
        let raw = s.labels.as_raw_str();
        if self.model_pair[e].is_some_and(|p| {
            raw.as_bytes()
                .get(..p.len())
                .is_some_and(|head| same_bytes(head, p.as_bytes()))
        }) || self.model_tail[e].is_some_and(|t| ends_with_pair(raw, t))
        {
            return;
        }
        self.read_model(e, label, s);
    }

    /// [`Kept::model`] when no shortcut applies: reads the label (out of
    /// line, so that the per-sample shortcuts stay small in `add`).
    #[inline(never)]
    fn read_model(&mut self, e: usize, label: &str, s: &Sample<'a>) {
        let raw = s.labels.as_raw_str();
        // When the pairs up to the model label's are plain, the next samples
        // whose label text starts with the same text up to the end of that
        // pair have the same value; when the model pair is the last one
        // (vLLM's order: `engine="0",le="…",model_name="m"`), so do the next
        // samples whose label text ends with that pair.
        let (value, upto, tail) = match s.labels.find_plain(label) {
            Some(Some((value, before, after))) => (
                Cow::Borrowed(value),
                raw.get(..raw.len() - after.len()),
                raw.get(before.len()..).filter(|_| after.is_empty()),
            ),
            Some(None) => return,
            None => match s.labels.get(label) {
                Some(value) => (value, None, None),
                None => return,
            },
        };
        self.model_pair[e] = upto;
        self.model_tail[e] = tail;
        if !self.last_model[e].as_ref().is_some_and(|l| same(l, &value)) {
            self.models[e].insert(value.clone());
            self.last_model[e] = Some(value);
        }
    }

    /// The engines whose families appear: owners of a sample name seen, or
    /// of a family name among `families` (the families the parse found).
    pub(crate) fn present(&self, families: &[Family<'_>]) -> EngineBits {
        families
            .iter()
            .fold(self.present, |bits, f| bits | self.owners(&f.name))
    }

    /// The engines owning `name`: by prefix, and the requested engine by its
    /// [`EngineSpec::requested_only`] names.
    fn owners(&self, name: &str) -> EngineBits {
        let requested = if self.wanted != ALL && self.wanted != 0 {
            let i = self.wanted.trailing_zeros() as usize;
            EngineBits::from(ENGINES[i].owns_requested_only(name)) << i
        } else {
            0
        };
        owners(name) | requested
    }

    /// The index ready for `spec`'s fold: reads go to `spec`'s series, and
    /// the types of their families are read off `families`.
    pub(crate) fn select(mut self, spec: &EngineSpec, families: &[Family<'_>]) -> Self {
        self.engine = ENGINES
            .iter()
            .position(|e| e.id == spec.id)
            .expect("specs come from ENGINES");
        let ty = |i: u32| families.get(i as usize).map(|f| f.metric_type);
        self.types = self.first_family.iter().map(|&i| ty(i)).collect();
        self.dists = (0..self.table.len()).map(|_| OnceCell::new()).collect();
        self.odd_types = std::mem::take(&mut self.odd)
            .into_iter()
            .filter_map(|(n, i)| Some((n, ty(i)?)))
            .collect();
        self
    }

    /// The slot of `name`, if the engine read reads it.
    fn slot(&self, name: &str) -> Option<usize> {
        self.table
            .slot(name)
            .filter(|&i| self.table.engines(i) & (1 << self.engine) != 0)
    }

    /// The slot of `base` followed by `suffix`, if the engine read reads it.
    fn slot_suffixed(&self, base: &str, suffix: &str) -> Option<usize> {
        self.table
            .slot_suffixed(base, suffix)
            .filter(|&i| self.table.engines(i) & (1 << self.engine) != 0)
    }

    /// The samples of `slot`.
    fn at(&self, slot: Option<usize>) -> &[Point<'a>] {
        slot.map_or(&[], |i| self.series[i].as_slice())
    }

    /// The distribution of `base`, computed from the kept series.
    fn compute(&self, base: &str) -> Option<Distribution> {
        let count = sum(self.at(self.slot_suffixed(base, "_count")));
        let total = sum(self.at(self.slot_suffixed(base, "_sum")));
        if self.has_suffixed(base, "_bucket") {
            let slot = self.slot_suffixed(base, "_bucket")?;
            return self.buckets[slot].as_ref()?.distribution(count, total);
        }
        let quantiles: Vec<(f64, f64)> = self
            .get(base)
            .iter()
            .filter_map(|s| Some((parse_bound(&s.labels.get("quantile")?)?, s.value)))
            .collect();
        Some(from_summary(&quantiles, count?, total?))
    }
}

impl<'a> Sink<'a> for Kept<'a> {
    fn family(&mut self, families: &[Family<'a>], i: usize) {
        let name = &families[i].name;
        if self.seeded || !name.contains(':') {
            return;
        }
        let escaped = name.replace(':', "_");
        if self.plain_heads.has(&escaped)
            && SUFFIXES
                .iter()
                .any(|s| self.plain.contains(format!("{escaped}{s}").as_str()))
        {
            self.late = true;
        }
        self.escaped_heads.add(&escaped);
        self.escaped.insert(escaped, name.to_string());
    }

    #[inline]
    fn sample(&mut self, _: &mut [Family<'a>], i: usize, s: Sample<'a>) {
        self.add(i, s);
    }
}

impl<'a> Lookup<'a> for Kept<'a> {
    fn get(&self, name: &str) -> &[Point<'a>] {
        let slot = self.slot(name);
        debug_assert!(
            slot.is_some_and(|i| !self.table.role(i).bucket),
            "{name} is not a series of the engine's table"
        );
        self.at(slot)
    }

    fn has_suffixed(&self, base: &str, suffix: &str) -> bool {
        let slot = self.slot_suffixed(base, suffix);
        debug_assert!(
            slot.is_some(),
            "{base}{suffix} is not in the engine's table"
        );
        slot.is_some_and(|i| self.first_family[i] != NONE)
    }

    fn is_counter(&self, metric: &str) -> bool {
        let name = metric.split('{').next().unwrap_or(metric);
        let ty = match self.slot(name) {
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
        self.created[self.engine]
    }

    fn model_names(&self) -> Vec<String> {
        self.models[self.engine]
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    fn distribution_of(&self, base: &str) -> Option<Distribution> {
        let slot = self.slot(base);
        debug_assert!(
            slot.is_some_and(|i| self.table.role(i).base),
            "{base} is not a distribution of the engine's table"
        );
        match slot {
            Some(i) => self.dists[i].get_or_init(|| self.compute(base)).clone(),
            None => self.compute(base),
        }
    }
}
