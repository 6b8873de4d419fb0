//! Prometheus 0.0.4 / OpenMetrics 1.0 text parsing. (Being written.)
mod model;
pub use model::*;
