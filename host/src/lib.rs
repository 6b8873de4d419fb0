//! The reference wasmtime host for the llm-metrics component.
//!
//! [`Plugin`] loads the component (the one embedded in this crate, or a file),
//! links WASI and `wasi:http` behind an [`EgressPolicy`], and calls `parse`,
//! `collect` and `map` under per-call [`Limits`]. [`Service`] runs the same
//! component as a `wasi:http` service (its `incoming-handler` export), the way
//! `wasmtime serve` does, under the same limits and policy. The
//! `llm-metrics` binary is a thin CLI over this library.
#![deny(missing_docs)]

pub mod audit;
pub mod cache;
pub mod cli;
mod cpu;
pub mod json;
pub mod plugin;
pub mod policy;
pub mod service;
pub mod table;

pub use plugin::{
    COMPONENT_PATH, CallError, ComponentSource, EMBEDDED_COMPONENT, EMBEDDED_MAPPING_COMPONENT,
    Limits, MAPPING_COMPONENT_PATH, Plugin, PluginOptions,
};
pub use policy::{AllowedHost, EgressPolicy};
pub use service::{Service, ServiceError};

/// The WIT types of the `llm-metrics:plugin` world, as the host sees them.
pub mod wit {
    pub use crate::plugin::wit_exports::{collector, mapper, parser};
    pub use crate::plugin::wit_types as types;
}
