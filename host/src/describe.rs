//! One-line descriptions of the plugin's typed errors, kind first, as the CLI
//! prints them and the service reports them (`error: …`, the API's `error`).

use crate::wit::mapper::CollectError;
use crate::wit::types::ParseError;

/// `line L, column C: message`.
pub fn parse_error(e: &ParseError) -> String {
    format!("line {}, column {}: {}", e.line, e.column, e.message)
}

/// A one-line description of a collection failure, kind first.
pub fn collect_error(e: &CollectError) -> String {
    match e {
        CollectError::InvalidUrl(m) => format!("invalid URL: {m}"),
        CollectError::Denied(m) => format!("denied: {m}"),
        CollectError::Connect(m) => format!("connect failed: {m}"),
        CollectError::Timeout(m) => format!("timeout: {m}"),
        CollectError::HttpStatus(code) => format!("HTTP status {code}"),
        CollectError::BodyTooLarge(cap) => format!("body too large: over the {cap}-byte cap"),
        CollectError::NotAnExposition(m) => format!("not an exposition: {m}"),
        CollectError::Parse(e) => format!("invalid exposition: {}", parse_error(e)),
        CollectError::UnrecognizedEngine(m) => format!("unrecognized engine: {m}"),
        CollectError::UnknownEngine(m) => format!("unknown engine: {m}"),
        CollectError::MixedEngines(ids) => format!(
            "mixed engines: families of {} in one exposition; pass --engine to pick one",
            ids.join(" and ")
        ),
        CollectError::Transport(m) => format!("transport error: {m}"),
    }
}
