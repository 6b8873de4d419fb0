//! Hostile guests for the host's containment tests.
//!
//! Every component is an example of this crate (`examples/*.rs`), built for
//! `wasm32-wasip2` by the `tests` crate's build script and found through the
//! constants it generates. Each exports the real `llm-metrics:plugin` world,
//! so the real host loads it like the real plugin, and then misbehaves:
//!
//! * `hostile`: `parse` takes a command as its text (`spin`,
//!   `compute-block <compute-ms> <block-ms>`, `memory-bomb`, `recurse`,
//!   `huge <families>`, `alias <copies> <bytes>`); `collect` probes the
//!   egress policy with every URL in its `probe` headers and after a redirect
//!   (or, with an `echo-budget` header, reports the fetch budget it got).
//! * `imports_filesystem`, `imports_sockets`: ordinary-looking plugins whose
//!   imports ask for capabilities the host never grants.
//!
//! Natively this library is empty.
#![no_std]
