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

mod buckets;
mod detect;
#[cfg(test)]
mod differential;
mod driver;
mod kept;
mod kit;
mod list;
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
    Bounds, Bucket, Distribution, EngineField, EngineGroup, EngineSnapshot, Incarnation,
    LabeledValue, Latency, Load, MetricValue, Totals,
};
pub use detect::{MapError, detect, mixed, unknown};
pub use driver::{map, map_text};
pub use kit::EngineSpec;
pub use list::{AUTO, ENGINES, find};
