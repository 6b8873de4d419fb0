//! The request-side limits an operator sets on the command line (or their
//! environment variables): how many targets, how large a history answer,
//! how many window computations at once, and who may change what.
//!
//! Invariant: every limit has a sane default and is checked here once, at
//! start-up, before anything is loaded: a zero cap, or a read-only token
//! without an admin token, stops start-up with a clear error.

use anyhow::bail;

use crate::state::{
    DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_POINTS, DEFAULT_MAX_TARGETS,
    DEFAULT_WINDOW_CONCURRENCY,
};

/// The request-side limits (see the README, "Service", "Limits").
#[derive(Clone, Debug, clap::Args)]
pub struct LimitArgs {
    /// The most targets at once, configured ones included; a `PUT` of a new
    /// target beyond it is refused (409 `too-many-targets`).
    #[arg(long, default_value_t = DEFAULT_MAX_TARGETS)]
    pub max_targets: usize,
    /// The most points one `…/history` answer may have (more: 422
    /// `invalid-step`).
    #[arg(long, default_value_t = DEFAULT_HISTORY_MAX_POINTS)]
    pub history_max_points: usize,
    /// The largest `…/history` answer, e.g. `8MiB` (the default) (larger: 422
    /// `answer-too-large`).
    #[arg(long, default_value_t = DEFAULT_HISTORY_MAX_BYTES as u64, value_parser = crate::history::parse_size)]
    pub history_max_bytes: u64,
    /// Window computations for reads (`/metrics`, windows, history) that may
    /// run at once, a pool of their own: reads never wait for collects.
    #[arg(long, default_value_t = DEFAULT_WINDOW_CONCURRENCY)]
    pub window_concurrency: usize,
    /// A read-only token (beside `--api-token`): it may `GET` every route
    /// but the ad-hoc `GET /api/v1/metrics/…` (which fetches), and may not
    /// `PUT`, `DELETE` or `POST`.
    #[arg(long, env = "LLM_METRICS_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
    /// Let the API replace or delete targets from the config file (by
    /// default they are protected: 409 `configured-target`).
    #[arg(long)]
    pub api_edits_configured: bool,
}

impl LimitArgs {
    /// Refuse limits that would make the service unusable.
    pub fn check(&self, api_token: Option<&str>) -> anyhow::Result<()> {
        for (value, flag) in [
            (self.max_targets, "--max-targets"),
            (self.history_max_points, "--history-max-points"),
            (self.window_concurrency, "--window-concurrency"),
        ] {
            if value == 0 {
                bail!("{flag} must be at least 1");
            }
        }
        if self.history_max_bytes < 1024 {
            bail!("--history-max-bytes must be at least 1KiB");
        }
        if self.read_token.as_deref().is_some_and(|t| !t.is_empty()) && api_token.is_none() {
            bail!("--read-token needs --api-token (otherwise every caller could write)");
        }
        Ok(())
    }
}
