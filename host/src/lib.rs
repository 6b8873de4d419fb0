//! The reference wasmtime host for the llm-metrics component.
//!
//! [`Plugin`] loads the component (the one embedded in this crate, or a file),
//! links WASI and `wasi:http` behind an [`EgressPolicy`], and calls `parse`,
//! `collect` and `map` under per-call [`Limits`]. It holds no command line:
//! the `llm-metrics` CLI (crate `cli/`) and the service (`serve/`) are its
//! clients.
#![deny(missing_docs)]

pub mod audit;
pub mod cache;
mod cpu;
pub mod describe;
pub mod engine;
pub mod json;
pub mod plugin;
pub mod policy;

pub use engine::{EngineChoice, Ticker};
pub use plugin::{CallError, ComponentSource, EMBEDDED_COMPONENT, Limits, Plugin, PluginOptions};
pub use policy::{AllowedHost, EgressPolicy};

/// The WIT types of the `llm-metrics:plugin` world, as the host sees them.
pub mod wit {
    pub use crate::plugin::wit_exports::{collector, mapper, parser};
    pub use crate::plugin::wit_types as types;
}
