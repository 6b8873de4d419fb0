//! The llm-metrics contract, written once: the JSON of snapshots, windows,
//! families and engines; the RFC 3339 time format; the kinds of collection
//! errors with their one-line descriptions and HTTP statuses.
//!
//! Invariant: every embedder that speaks this contract (the component's own
//! `wasi:http` service, the host library, and through it the CLI and
//! `serve`) uses these definitions and no copy of them. The guest and the
//! host see the WIT records through two different sets of generated
//! bindings with the same Rust shape, so the JSON writer is a macro
//! ([`json_writer!`]) instantiated once per set of bindings: one text,
//! compiled twice.

pub mod errors;
mod fields;
mod json;
pub mod time;

pub use errors::CollectKind;
#[doc(hidden)]
pub use fields::ToJson;
pub use json::{number, opt_number};
pub use time::timestamp;

/// What the macro's expansion names (not part of the API).
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}
