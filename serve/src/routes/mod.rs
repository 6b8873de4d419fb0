//! The HTTP API, one room per group of routes.

pub mod auth;
pub mod collect;
pub mod fleet;
pub mod history;
pub mod metrics;
pub mod openapi;
pub mod targets;
