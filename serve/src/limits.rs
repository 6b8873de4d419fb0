//! The request-side limits an operator sets: how many targets, how large a
//! history answer, how many window computations at once, and who may
//! change what. Command-line flags (or their environment variables) first,
//! then the config file's `[limits]` table, then the defaults.
//!
//! Invariant: every limit has a sane default and is checked here once, at
//! start-up, before anything is loaded: a zero cap, or a read-only token
//! without an admin token, stops start-up with a clear error.

use anyhow::bail;

use crate::config::LimitsConfig;
use crate::state::{
    DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_MAX_POINTS, DEFAULT_MAX_TARGETS,
    DEFAULT_WINDOW_CONCURRENCY,
};

/// The request-side limits' flags (see the README, "Service", "Limits").
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// The most targets at once, configured ones included; a `PUT` of a new
    /// target beyond it is refused (409 `too-many-targets`). Config
    /// `[limits] max_targets`; default 1000.
    #[arg(long)]
    pub max_targets: Option<usize>,
    /// The most points one `…/history` answer may have (more: 422
    /// `invalid-step`). Config `[limits] history_max_points`; default 11000.
    #[arg(long)]
    pub history_max_points: Option<usize>,
    /// The largest `…/history` answer, e.g. `8MiB` (larger: 422
    /// `answer-too-large`). Config `[limits] history_max_bytes`; default
    /// 8MiB.
    #[arg(long, value_parser = crate::history::parse_size)]
    pub history_max_bytes: Option<u64>,
    /// Window computations for reads (`/metrics`, windows, history) that may
    /// run at once, a pool of their own: reads never wait for collects.
    /// Config `[limits] window_concurrency`; default 4.
    #[arg(long)]
    pub window_concurrency: Option<usize>,
    /// A read-only token (beside `--api-token`): it may `GET` every route
    /// but the ad-hoc `GET /api/v1/metrics/…` (which fetches), and may not
    /// `PUT`, `DELETE` or `POST`.
    #[arg(long, env = "LLM_METRICS_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
    /// Let the API replace or delete targets from the config file (by
    /// default they are protected: 409 `configured-target`). Config
    /// `[limits] api_edits_configured = true`.
    #[arg(long)]
    pub api_edits_configured: bool,
}

/// The limits in force.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most targets at once.
    pub max_targets: usize,
    /// The most points in one history answer.
    pub history_max_points: usize,
    /// The most bytes in one history answer.
    pub history_max_bytes: usize,
    /// Window computations at once.
    pub window_concurrency: usize,
    /// The read-only token, if any.
    pub read_token: Option<String>,
    /// Whether the API may replace or delete configured targets.
    pub api_edits_configured: bool,
}

impl LimitArgs {
    /// The flags over the config file's `[limits]` over the defaults,
    /// refusing limits that would make the service unusable.
    pub fn resolve(self, file: LimitsConfig, api_token: Option<&str>) -> anyhow::Result<Limits> {
        let bytes = match (self.history_max_bytes, file.history_max_bytes) {
            (Some(b), _) => b,
            (None, Some(text)) => crate::history::parse_size(&text)
                .map_err(|e| anyhow::anyhow!("config `[limits] history_max_bytes`: {e}"))?,
            (None, None) => DEFAULT_HISTORY_MAX_BYTES as u64,
        };
        let limits = Limits {
            max_targets: self
                .max_targets
                .or(file.max_targets)
                .unwrap_or(DEFAULT_MAX_TARGETS),
            history_max_points: self
                .history_max_points
                .or(file.history_max_points)
                .unwrap_or(DEFAULT_HISTORY_MAX_POINTS),
            history_max_bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
            window_concurrency: self
                .window_concurrency
                .or(file.window_concurrency)
                .unwrap_or(DEFAULT_WINDOW_CONCURRENCY),
            read_token: self.read_token.filter(|t| !t.is_empty()),
            api_edits_configured: self.api_edits_configured
                || file.api_edits_configured.unwrap_or(false),
        };
        for (value, name) in [
            (limits.max_targets, "max-targets"),
            (limits.history_max_points, "history-max-points"),
            (limits.window_concurrency, "window-concurrency"),
        ] {
            if value == 0 {
                bail!(
                    "--{name} (config `[limits] {}`) must be at least 1",
                    name.replace('-', "_")
                );
            }
        }
        if limits.history_max_bytes < 1024 {
            bail!(
                "--history-max-bytes (config `[limits] history_max_bytes`) must be at least 1KiB"
            );
        }
        if limits.read_token.is_some() && api_token.is_none() {
            bail!("--read-token needs --api-token (otherwise every caller could write)");
        }
        Ok(limits)
    }
}
