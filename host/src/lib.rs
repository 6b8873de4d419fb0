//! The reference wasmtime host for the llm-metrics component.
//!
//! [`Plugin`] loads the component (the one embedded in this crate, or a file),
//! links WASI and `wasi:http` behind an [`EgressPolicy`], and calls `parse`,
//! `collect` and `map` under per-call [`Limits`]. [`Service`] runs the same
//! component as a `wasi:http` service (its `incoming-handler` export), the way
//! `wasmtime serve` does, under the same limits and policy. It holds no command
//! line: the `llm-metrics` CLI (crate `cli/`) and the service (`serve/`) are its
//! clients.
#![deny(missing_docs)]

pub mod address;
pub mod audit;
pub mod cache;
pub mod compact;
mod cpu;
pub mod describe;
pub mod engine;
pub mod json;
mod origin;
pub mod plugin;
pub mod policy;
pub mod sender;
pub mod service;
pub mod startup;
mod stats;

pub use compact::CompactExposition;
pub use engine::{EngineChoice, Ticker};
pub use plugin::{
    COMPONENT_PATH, CallError, ComponentSource, EMBEDDED_COMPONENT, EMBEDDED_MAPPING_COMPONENT,
    Limits, MAPPING_COMPONENT_PATH, Plugin, PluginOptions,
};
pub use policy::{AddressRules, AllowedHost, EgressPolicy};
pub use sender::{Sender, SenderConfig, SenderStats};
pub use service::{Service, ServiceError};
pub use stats::CallStats;

/// The WIT types of the `llm-metrics:plugin` world, as the host sees them.
pub mod wit {
    pub use crate::plugin::wit_exports::{collector, mapper, parser};
    pub use crate::plugin::wit_types as types;
}
