//! `GET /metrics`: the Prometheus re-export.

pub mod snapshots;
pub mod windows;
