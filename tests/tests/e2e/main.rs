//! End-to-end tests: the real component, built by the host's build script,
//! loaded through the real host library. One test binary, one compiled
//! component (see `common`).

mod budgets;
mod cache_files;
mod collect;
mod common;
mod compact;
mod egress_probe;
mod fleet;
mod hostile;
mod imports;
mod keepalive;
mod memory;
mod parse;
mod real_servers;
mod rebinding;
mod service;
mod size;
mod slots;
mod tls;
mod wasmtime_serve;
mod window;
mod window_prometheus;
