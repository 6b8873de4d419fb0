//! Engine mappers: parsed exposition families → an [`EngineSnapshot`].
//!
//! Guarantees: engines are data. [`ENGINES`] lists every supported engine
//! with its id, the family-name prefixes that identify it and its alias table;
//! nothing outside that list names an engine. The engine is either requested
//! by id or detected from the family names present: text showing no engine is
//! [`MapError::UnrecognizedEngine`] (saying which prefixes were looked for),
//! text showing two engines is [`MapError::MixedEngines`] (never a guess), an
//! id not in the list is [`MapError::UnknownEngine`]. Every figure in a
//! snapshot is read from a series whose name matches exactly, and anything the
//! engine does not expose is `None` (or a left-out field), never 0. Engine
//! metric names appear only in the per-engine files, one alias table plus one
//! fold each.

use std::fmt;

use crate::text::{self, Family, ParseError, ParseOptions, Parser};

mod buckets;
#[cfg(test)]
mod differential;
mod kept;
mod llamacpp;
#[cfg(any(test, feature = "oracle"))]
pub mod oracle;
mod series;
mod sglang;
mod table;
mod tgi;
mod triton;
mod trtllm_serve;
mod vllm;

// The snapshot types and the quantile math sit below the engines (`window`
// reads them without the mappers); re-exported so `engines::` keeps naming them.
pub use crate::distribution;
pub use crate::snapshot::{
    Bucket, Distribution, EngineField, EngineGroup, EngineSnapshot, Incarnation, LabeledValue,
    Latency, Load, MetricValue, Totals,
};

/// The id that asks for detection instead of naming an engine.
pub const AUTO: &str = "auto";

/// One supported engine: how it is recognized and how it is mapped.
pub struct EngineSpec {
    /// The id callers pass and snapshots report, e.g. `sglang`.
    pub id: &'static str,
    /// A display name, e.g. `SGLang`.
    pub name: &'static str,
    /// The versions the mapper was written against.
    pub versions: &'static str,
    /// Family-name prefixes that identify the engine.
    pub prefixes: &'static [&'static str],
    /// The alias table: every exposed name the mapper reads.
    pub(crate) table: &'static [&'static series::Alias],
    /// The label that names the served model, read over every series of
    /// the engine's own families (`None`: the engine exposes none).
    pub model_label: Option<&'static str>,
    /// The fold from the kept series to a snapshot.
    pub(crate) map: fn(&series::Index<'_, '_>) -> EngineSnapshot,
}

impl EngineSpec {
    /// Renamed metrics read as one field, as `old -> new` (one entry per
    /// older name, newest name on the right).
    pub fn aliases(&self) -> Vec<String> {
        let mut out = Vec::new();
        for alias in self.table {
            if let Some((newest, older)) = alias.names.split_first() {
                out.extend(older.iter().map(|old| format!("{old} -> {newest}")));
            }
        }
        out
    }
}

impl fmt::Debug for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSpec")
            .field("id", &self.id)
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

/// Every supported engine, in the order `engines` lists them.
pub static ENGINES: &[EngineSpec] = &[
    vllm::SPEC,
    tgi::SPEC,
    sglang::SPEC,
    llamacpp::SPEC,
    triton::SPEC,
    trtllm_serve::SPEC,
];

/// The engine with id `id`, if supported.
pub fn find(id: &str) -> Option<&'static EngineSpec> {
    ENGINES.iter().find(|e| e.id == id)
}

/// Why families could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The families match no supported engine (or not the requested one); the
    /// message says which prefixes were looked for and what was seen.
    UnrecognizedEngine(String),
    /// The requested id is not in [`ENGINES`] (nor `auto`).
    UnknownEngine(String),
    /// Families of several engines appear together; their ids, in
    /// [`ENGINES`] order.
    MixedEngines(Vec<&'static str>),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::UnrecognizedEngine(msg) => write!(f, "unrecognized engine: {msg}"),
            MapError::UnknownEngine(id) => write!(f, "unknown engine: {}", unknown(id)),
            MapError::MixedEngines(ids) => write!(f, "mixed engines: {}", mixed(ids)),
        }
    }
}

impl std::error::Error for MapError {}

/// `` `x` is not an engine id; known: auto, vllm, … ``
pub fn unknown(id: &str) -> String {
    let known: Vec<&str> = std::iter::once(AUTO)
        .chain(ENGINES.iter().map(|e| e.id))
        .collect();
    format!("`{id}` is not an engine id; known: {}", known.join(", "))
}

/// `families of vllm and sglang in one exposition; request one engine`
pub fn mixed(ids: &[&str]) -> String {
    format!(
        "families of {} in one exposition; request one engine",
        ids.join(" and ")
    )
}

/// What was seen, for error messages: "12 families (first: go_gc_duration_seconds)".
fn seen(families: &[Family<'_>]) -> String {
    match families.first() {
        None => "0 families (empty exposition)".to_string(),
        Some(first) => format!("{} families (first: {})", families.len(), first.name),
    }
}

/// `vllm: (vllm), tgi_ (tgi), …`: what detection looks for.
fn looked_for() -> String {
    let parts: Vec<String> = ENGINES
        .iter()
        .map(|e| format!("{} ({})", e.prefixes.join(" or "), e.id))
        .collect();
    parts.join(", ")
}

/// Decide which engine `families` come from, honouring a requested id.
///
/// # Errors
/// [`MapError::UnknownEngine`] for an id that is neither `auto` nor listed;
/// [`MapError::UnrecognizedEngine`] when no engine's families appear (or
/// none of the requested one's); [`MapError::MixedEngines`] when `auto` sees
/// more than one engine.
pub fn detect(families: &[Family<'_>], requested: &str) -> Result<&'static EngineSpec, MapError> {
    let wanted = match requested {
        AUTO => (1 << ENGINES.len()) - 1,
        id => 1 << requested_engine(id)?.0,
    };
    detect_bits(present(families, wanted), families, requested)
}

/// The position in [`ENGINES`] and the spec of engine `id`.
fn requested_engine(id: &str) -> Result<(usize, &'static EngineSpec), MapError> {
    ENGINES
        .iter()
        .enumerate()
        .find(|(_, e)| e.id == id)
        .ok_or_else(|| MapError::UnknownEngine(id.into()))
}

/// [`detect`] from the engines present (bit `i`: `ENGINES[i]` owns a family
/// name or a sample name of `families`).
pub(crate) fn detect_bits(
    mask: u32,
    families: &[Family<'_>],
    requested: &str,
) -> Result<&'static EngineSpec, MapError> {
    if requested != AUTO {
        let (i, spec) = requested_engine(requested)?;
        return if mask & (1 << i) != 0 {
            Ok(spec)
        } else {
            Err(not_requested(spec, families))
        };
    }
    let present: Vec<&'static EngineSpec> = ENGINES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, e)| e)
        .collect();
    decide(&present, families)
}

/// The engines (bit `i` for `ENGINES[i]`, among those in `wanted`) that own
/// a family name or a sample name of `families`. Stops looking once every
/// wanted engine was seen; a sample name is checked only against the
/// prefixes that start with its first byte.
fn present(families: &[Family<'_>], wanted: u32) -> u32 {
    let mut seen = 0u32;
    let check = |name: &str, seen: &mut u32| {
        let first = name.as_bytes().first().copied();
        for (i, e) in ENGINES.iter().enumerate() {
            let bit = 1 << i;
            if wanted & bit != 0
                && *seen & bit == 0
                && e.prefixes
                    .iter()
                    .any(|p| p.as_bytes().first().copied() == first && name.starts_with(p))
            {
                *seen |= bit;
            }
        }
    };
    for family in families {
        check(&family.name, &mut seen);
        for sample in &family.samples {
            if seen == wanted {
                return seen;
            }
            check(&sample.name, &mut seen);
        }
    }
    seen
}

/// The requested engine's families are missing.
pub(crate) fn not_requested(spec: &EngineSpec, families: &[Family<'_>]) -> MapError {
    MapError::UnrecognizedEngine(format!(
        "{} requested, but no {} families among {}",
        spec.id,
        spec.prefixes.join(" or "),
        seen(families)
    ))
}

/// Auto-detection's answer from the engines present.
pub(crate) fn decide(
    present: &[&'static EngineSpec],
    families: &[Family<'_>],
) -> Result<&'static EngineSpec, MapError> {
    match present {
        [one] => Ok(one),
        [] => Err(MapError::UnrecognizedEngine(format!(
            "looked for {} families; none among {}",
            looked_for(),
            seen(families)
        ))),
        many => Err(MapError::MixedEngines(many.iter().map(|e| e.id).collect())),
    }
}

/// Map parsed families to a snapshot of the requested (or detected) engine.
///
/// One pass over the samples keeps the series the engine's alias table names
/// ([`kept::Kept`]); the engine's fold reads only those. [`map_text`] does
/// the same without building the families first.
///
/// # Errors
/// As [`detect`] describes.
pub fn map(families: &[Family<'_>], engine: &str) -> Result<EngineSnapshot, MapError> {
    let mut ix = kept::Kept::new(engine, Some(kept::escapes(families)));
    for (i, family) in families.iter().enumerate() {
        for sample in &family.samples {
            ix.add(i, sample.clone());
        }
    }
    ix.finish(families, engine)
}

/// Parse `input` and map it to a snapshot of the requested (or detected)
/// engine in one pass: the parser hands each sample to the index, which
/// keeps only the series the engines' alias tables name; no family holds
/// its samples. Answers exactly what [`text::parse`] then [`map`] answer.
///
/// # Errors
/// The outer error is the parse's, as [`text::parse`] describes (it comes
/// first, whatever the engine id); the inner one is the mapping's, as
/// [`detect`] describes.
pub fn map_text(
    input: &[u8],
    options: &ParseOptions<'_>,
    engine: &str,
) -> Result<Result<EngineSnapshot, MapError>, ParseError> {
    let mut ix = kept::Kept::new(engine, None);
    let x = text::parse_into(Parser::new(input, options), &mut ix)?;
    if ix.late() {
        // A colon family came after a sample its escape renames: read it
        // again knowing every escape (rare: prometheus_client declares a
        // family before its samples).
        ix = kept::Kept::new(engine, Some(kept::escapes(&x.families)));
        let again = text::parse_into(Parser::new(input, options), &mut ix)?;
        return Ok(ix.finish(&again.families, engine));
    }
    Ok(ix.finish(&x.families, engine))
}

/// The engine's fold over `ix`, plus what every engine reports the same way:
/// each field's `counter` flag and the incarnation.
pub(crate) fn finish(spec: &EngineSpec, ix: &series::Index<'_, '_>) -> EngineSnapshot {
    let mut snapshot = (spec.map)(ix);
    for field in snapshot
        .engine_metrics
        .iter_mut()
        .flat_map(|g| g.fields.iter_mut())
    {
        field.counter = ix.is_counter(&field.metric);
    }
    snapshot.incarnation = Incarnation {
        process_start_time_seconds: ix.max(PROCESS_START),
        created_seconds: ix.earliest_created(),
    };
    snapshot
}

/// The process collector's start time (prometheus_client, client_golang).
pub(crate) const PROCESS_START: &str = "process_start_time_seconds";

/// Builds one [`EngineGroup`], leaving out every field that was not found.
pub(crate) struct GroupBuilder {
    group: EngineGroup,
}

impl GroupBuilder {
    /// An empty group called `name`.
    pub(crate) fn new(name: &str) -> Self {
        GroupBuilder {
            group: EngineGroup {
                name: name.to_string(),
                fields: Vec::new(),
            },
        }
    }

    /// Add field `name` when `found` (the metric it came from and its value).
    pub(crate) fn add(&mut self, name: &str, found: Option<series::Found>) -> &mut Self {
        if let Some((metric, value)) = found {
            self.group.fields.push(EngineField {
                name: name.to_string(),
                metric,
                value,
                // Set by `map` from the family's declared type.
                counter: false,
            });
        }
        self
    }

    /// Append the group to `out` unless it has no field.
    pub(crate) fn finish(self, out: &mut Vec<EngineGroup>) {
        if !self.group.fields.is_empty() {
            out.push(self.group);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_prefixes_are_unique_and_disjoint() {
        let mut ids = std::collections::BTreeSet::new();
        for e in ENGINES {
            assert!(ids.insert(e.id), "duplicate id {}", e.id);
            assert_ne!(e.id, AUTO);
            for other in ENGINES.iter().filter(|o| o.id != e.id) {
                for p in e.prefixes {
                    for q in other.prefixes {
                        assert!(!p.starts_with(q) && !q.starts_with(p), "{p} / {q}");
                    }
                }
            }
            // Every name in the table carries one of the engine's prefixes,
            // so detection and mapping agree on what belongs to the engine.
            for alias in e.table {
                assert!(!alias.names.is_empty(), "{}", alias.field);
                for name in alias.names {
                    assert!(
                        e.prefixes.iter().any(|p| name.starts_with(p))
                            || *name == "http_requests_total",
                        "{name} has none of {:?}",
                        e.prefixes
                    );
                    assert!(!name.ends_with("_created"), "{name}");
                }
            }
        }
    }
}
