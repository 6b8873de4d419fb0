//! `llm-metrics serve`: llm-metrics as a service, a client of the host
//! library. Other components ask it over HTTP to collect from an inference
//! server; the plugin does all fetching, parsing and mapping in its sandbox.
//!
//! [`service::router`] is the HTTP API; [`allow`] is the SSRF allow-list
//! that every ad-hoc URL must pass; [`collect`] runs one collection and
//! names its failures; [`engine`] is the only place engine names live.
//! [`config`] reads targets, [`targets`] keeps their snapshots and health,
//! and [`scheduler`] scrapes them. [`store`] keeps every scrape in SQLite,
//! [`history`] reads it back and [`api_history`] serves windows and history.
#![deny(missing_docs)]

pub mod allow;
pub mod cli;
pub mod collect;
pub mod config;
pub mod engine;
pub mod history;
pub mod problem;
pub mod routes;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod targets;
