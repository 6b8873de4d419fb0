//! llm-metrics guest: a Prometheus 0.0.4 / OpenMetrics 1.0 parser and LLM
//! engine mappers, compiled natively for tests and benchmarks, and to a
//! WebAssembly component (`wasm32-wasip2`) whose thin shell is
//! `bindings` → `convert` → `calls` → `component` (each importing only the ones
//! before it; `service` calls `calls` over HTTP).
#![deny(missing_docs)]

pub mod body;
pub mod compact;
pub mod distribution;
pub mod engines;
pub mod snapshot;
#[cfg(test)]
mod testdata;
pub mod text;
pub mod window;

#[cfg(target_family = "wasm")]
mod bindings;
#[cfg(target_family = "wasm")]
mod calls;
#[cfg(target_family = "wasm")]
mod compact_wit;
#[cfg(target_family = "wasm")]
mod component;
#[cfg(target_family = "wasm")]
mod convert;
#[cfg(all(target_family = "wasm", feature = "service"))]
mod fetch;
#[cfg(all(target_family = "wasm", feature = "service"))]
mod json;
#[cfg(all(target_family = "wasm", feature = "service"))]
mod service;
