//! The snapshot and engine list as JSON, for the `wasi:http` service export:
//! the contract's one writer ([`llm_metrics_contract::json_writer!`]) over the
//! guest's bindings, the same text the host instantiates over its own.
//!
//! Invariant: the documents are byte for byte the ones `llm-metrics
//! map`/`engines` print; the e2e test `service.rs` compares both for every
//! fixture, times included.

use crate::bindings::{wit as types, wit_c as mapper};

llm_metrics_contract::json_writer!();
