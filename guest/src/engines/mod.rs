//! Engine mappers: parsed exposition families → an [`EngineSnapshot`].
//!
//! Guarantees: the engine is either requested or detected from the family
//! names present (`vllm:` → vLLM, `tgi_` → TGI); text showing neither is an
//! error, never an empty snapshot. Every figure in a snapshot is read from a
//! series whose name matches exactly, and anything the engine does not expose
//! is `None` (or a left-out field), never 0. Engine metric names appear only in
//! this module's files: one alias table plus one fold per engine
//! (`vllm.rs`, `tgi.rs`).

use std::fmt;

use crate::text::Family;

pub mod distribution;
mod series;
pub mod snapshot;
mod tgi;
mod vllm;

pub use snapshot::{
    DetectedEngine, Distribution, EngineField, EngineGroup, EngineSnapshot, LabeledValue, Latency,
    Load, MetricValue, Totals,
};

/// Which inference engine to map the exposition as (mirrors the WIT `engine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// Detect from the families present.
    #[default]
    Auto,
    /// vLLM (V0 0.6.x and V1 0.8 onward).
    Vllm,
    /// Hugging Face text-generation-inference.
    Tgi,
}

impl From<DetectedEngine> for Engine {
    fn from(engine: DetectedEngine) -> Self {
        match engine {
            DetectedEngine::Vllm => Engine::Vllm,
            DetectedEngine::Tgi => Engine::Tgi,
        }
    }
}

/// Why families could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The families match no supported engine (or not the requested one); the
    /// message says what was seen.
    UnrecognizedEngine(String),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::UnrecognizedEngine(msg) => write!(f, "unrecognized engine: {msg}"),
        }
    }
}

impl std::error::Error for MapError {}

/// The family-name prefix that marks each engine.
fn prefix(engine: DetectedEngine) -> &'static str {
    match engine {
        DetectedEngine::Vllm => vllm::PREFIX,
        DetectedEngine::Tgi => tgi::PREFIX,
    }
}

/// Number of families (by family name, or by any sample name, so that a
/// parser grouping samples differently still counts) that belong to `engine`.
fn count_families(families: &[Family<'_>], engine: DetectedEngine) -> usize {
    let p = prefix(engine);
    families
        .iter()
        .filter(|f| f.name.starts_with(p) || f.samples.iter().any(|s| s.name.starts_with(p)))
        .count()
}

/// What was seen, for error messages: "12 families (first: go_gc_duration_seconds)".
fn seen(families: &[Family<'_>]) -> String {
    match families.first() {
        None => "0 families (empty exposition)".to_string(),
        Some(first) => format!("{} families (first: {})", families.len(), first.name),
    }
}

/// Decide which engine `families` come from, honouring a requested engine.
///
/// # Errors
/// [`MapError::UnrecognizedEngine`] when `Auto` finds no `vllm:` and no
/// `tgi_` family, when both appear equally often, or when the requested engine
/// has no family at all.
pub fn detect(families: &[Family<'_>], requested: Engine) -> Result<DetectedEngine, MapError> {
    let vllm = count_families(families, DetectedEngine::Vllm);
    let tgi = count_families(families, DetectedEngine::Tgi);
    let want = |engine: DetectedEngine, n: usize| {
        if n > 0 {
            Ok(engine)
        } else {
            Err(MapError::UnrecognizedEngine(format!(
                "{} requested, but no {} families among {}",
                engine.as_str(),
                prefix(engine),
                seen(families)
            )))
        }
    };
    match requested {
        Engine::Vllm => want(DetectedEngine::Vllm, vllm),
        Engine::Tgi => want(DetectedEngine::Tgi, tgi),
        // A server exposes one engine; if both prefixes appear (e.g. a router
        // re-exporting gauges next to its own), the one with more families wins.
        Engine::Auto if vllm > tgi => Ok(DetectedEngine::Vllm),
        Engine::Auto if tgi > vllm => Ok(DetectedEngine::Tgi),
        Engine::Auto if vllm == 0 => Err(MapError::UnrecognizedEngine(format!(
            "no vllm: or tgi_ families among {}",
            seen(families)
        ))),
        Engine::Auto => Err(MapError::UnrecognizedEngine(format!(
            "ambiguous: {vllm} vllm: and {tgi} tgi_ families among {}; request an engine",
            seen(families)
        ))),
    }
}

/// Map parsed families to a snapshot of the requested (or detected) engine.
///
/// # Errors
/// [`MapError::UnrecognizedEngine`] as [`detect`] describes.
pub fn map(families: &[Family<'_>], engine: Engine) -> Result<EngineSnapshot, MapError> {
    let detected = detect(families, engine)?;
    let ix = series::Index::new(families);
    Ok(match detected {
        DetectedEngine::Vllm => vllm::map(&ix),
        DetectedEngine::Tgi => tgi::map(&ix),
    })
}

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
