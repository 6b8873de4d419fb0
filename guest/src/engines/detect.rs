//! Which engine an exposition comes from: detection by family-name prefix,
//! or a check of the requested one, and the typed errors when neither works.
//!
//! Invariant: text showing no engine is [`MapError::UnrecognizedEngine`]
//! (saying which prefixes were looked for), text showing two engines is
//! [`MapError::MixedEngines`] (never a guess), an id not in the list is
//! [`MapError::UnknownEngine`].

use std::fmt;

use super::kit::EngineSpec;
use super::list::{ALL, AUTO, ENGINES, EngineBits};
use crate::text::Family;

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
        AUTO => super::list::ALL,
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
    mask: EngineBits,
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
fn present(families: &[Family<'_>], wanted: EngineBits) -> EngineBits {
    let mut seen: EngineBits = 0;
    let requested = wanted != ALL;
    let check = |name: &str, seen: &mut EngineBits| {
        let first = name.as_bytes().first().copied();
        for (i, e) in ENGINES.iter().enumerate() {
            let bit = 1 << i;
            if wanted & bit != 0
                && *seen & bit == 0
                && (e
                    .prefixes
                    .iter()
                    .any(|p| p.as_bytes().first().copied() == first && name.starts_with(p))
                    || (requested && e.owns_requested_only(name)))
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
