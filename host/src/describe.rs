//! One-line descriptions of the plugin's typed errors, kind first, as the CLI
//! prints them and the service reports them (`error: …`, the API's `error`):
//! the contract's descriptions and kinds ([`llm_metrics_contract::CollectKind`]).

use crate::wit::mapper::CollectError;
use crate::wit::types::ParseError;

pub use llm_metrics_contract::CollectKind;

/// `line L, column C: message`.
pub fn parse_error(e: &ParseError) -> String {
    crate::json::parse_error(e)
}

/// A one-line description of a collection failure, kind first.
pub fn collect_error(e: &CollectError) -> String {
    crate::json::collect_error(e, "--engine")
}

/// The kind of a collection failure.
pub fn collect_kind(e: &CollectError) -> CollectKind {
    crate::json::collect_kind(e)
}
