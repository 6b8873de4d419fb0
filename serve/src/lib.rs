//! `llm-metrics serve`: llm-metrics as a service, a client of the host
//! library. Other components ask it over HTTP to collect from an inference
//! server; the plugin does all fetching, parsing and mapping in its sandbox.
//!
//! The service's floors, from the bottom: [`allow`] is the SSRF allow-list
//! that every ad-hoc URL must pass; [`engine`] is the only place engine
//! names live; [`config`] reads targets; [`collect`] runs one collection and
//! names its failures; [`store`] keeps every scrape in SQLite and
//! [`history`] records and reads them back ([`failed`]: the failed ones);
//! [`targets`] keeps each target's
//! snapshot and health, and [`persist`] keeps those added through the API
//! across restarts. [`state`] is what every route and scrape loop
//! shares, within the [`limits`] the operator set; [`scheduler`] runs the
//! scrape loops; [`routes`] is the HTTP API, one room per group of routes,
//! assembled there ([`fleet_latency`] sums the fleet's latency per model
//! with the component's own arithmetic), beside [`pages`], the HTML pages
//! for people ([`app`] puts the two together); [`listen`] serves it within
//! connection limits; [`cli`] starts it all.
#![deny(missing_docs)]

pub mod allow;
pub mod app;
pub mod cli;
pub mod collect;
pub mod config;
pub mod engine;
pub mod failed;
pub mod fleet_latency;
pub mod history;
pub mod limits;
pub mod listen;
pub mod native;
pub mod pages;
pub mod persist;
pub mod problem;
pub mod routes;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod targets;
