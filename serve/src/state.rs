//! The service's shared state: what every route and scrape loop reads.
//!
//! Invariant: one pre-instantiated [`Plugin`] serves every request and
//! scrape. Scrapes in flight never exceed [`Settings::concurrency`],
//! ad-hoc collections never exceed [`Settings::adhoc_concurrency`] and
//! window computations for reads never exceed
//! [`Settings::window_concurrency`] (three pools, so callers cannot starve
//! the scraper, and collects cannot stall reads), so the plugin's memory in
//! use stays within their sum × the per-call memory budget. This
//! module is a leaf of the service: it names no route and no scrape loop
//! (those are [`crate::routes`] and [`crate::scheduler`], which read it).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use llm_metrics_host::Plugin;
use tokio::sync::Semaphore;

use crate::allow::AllowList;
use crate::store::Store;
use crate::targets::Registry;

/// Service-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest request body the API reads.
    pub max_request_bytes: usize,
    /// Largest exposition body the plugin accepts per collection.
    pub max_body_bytes: u64,
    /// The longest fetch budget a caller may ask for.
    pub max_timeout: Duration,
    /// The fetch budget when the caller gives none.
    pub default_timeout: Duration,
    /// Scrapes of configured targets that may run at once.
    pub concurrency: usize,
    /// Ad-hoc collections that may run at once; more wait their turn.
    pub adhoc_concurrency: usize,
    /// Window computations (reads: `/metrics`, windows, history) that may
    /// run at once; more wait their turn, never for a collect's permit.
    pub window_concurrency: usize,
    /// When set, every route requires `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// When set (beside `api_token`), this token may read (`GET`/`HEAD`)
    /// but not change targets nor cause a collection.
    pub read_token: Option<String>,
    /// The most targets (configured and added through the API) at once.
    pub max_targets: usize,
    /// Whether the API may replace or delete targets from the config file.
    pub api_edits_configured: bool,
    /// The most points one history answer may have.
    pub history_max_points: usize,
    /// The largest history answer, in bytes of JSON.
    pub history_max_bytes: usize,
}

/// Default of [`Settings::max_targets`] (`--max-targets`).
pub const DEFAULT_MAX_TARGETS: usize = 1000;
/// Default of [`Settings::history_max_points`] (`--history-max-points`), as
/// Prometheus' query API.
pub const DEFAULT_HISTORY_MAX_POINTS: usize = 11_000;
/// Default of [`Settings::history_max_bytes`] (`--history-max-bytes`).
pub const DEFAULT_HISTORY_MAX_BYTES: usize = 8 << 20;
/// Default of [`Settings::window_concurrency`] (`--window-concurrency`).
pub const DEFAULT_WINDOW_CONCURRENCY: usize = 4;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_request_bytes: 64 * 1024,
            max_body_bytes: 16 * 1024 * 1024,
            max_timeout: Duration::from_secs(120),
            default_timeout: Duration::from_secs(10),
            concurrency: 16,
            adhoc_concurrency: 16,
            window_concurrency: DEFAULT_WINDOW_CONCURRENCY,
            api_token: None,
            read_token: None,
            max_targets: DEFAULT_MAX_TARGETS,
            api_edits_configured: false,
            history_max_points: DEFAULT_HISTORY_MAX_POINTS,
            history_max_bytes: DEFAULT_HISTORY_MAX_BYTES,
        }
    }
}

/// State shared by every handler.
pub struct Service {
    /// The plugin every collection runs in.
    pub plugin: Plugin,
    /// What ad-hoc requests may reach.
    allow: RwLock<AllowList>,
    /// Settings.
    pub settings: Settings,
    /// The targets.
    pub targets: Registry,
    /// One permit per scrape in flight.
    pub scrape_permits: Arc<Semaphore>,
    /// One permit per ad-hoc collection in flight.
    pub adhoc_permits: Semaphore,
    /// One permit per window computation in flight (reads only).
    pub window_permits: Semaphore,
    /// The engine ids the plugin maps (`collector.engines`).
    pub engines: Vec<String>,
    /// Where every scrape is committed before it is shown (none: no history).
    pub history: Option<Store>,
    /// Held by each `PUT`/`DELETE` of a target from its registry check to
    /// its registry change, the stored definition committed in between, so
    /// the registry and the stored targets change in the same order.
    pub api_edits: tokio::sync::Mutex<()>,
}

impl Service {
    /// A service over `plugin`, which maps the engines `engines`, keeping
    /// no history.
    pub fn new(
        plugin: Plugin,
        allow: AllowList,
        settings: Settings,
        engines: Vec<String>,
    ) -> Arc<Self> {
        Self::with_history(plugin, allow, settings, engines, None)
    }

    /// A service that commits every scrape to `history` before showing it.
    pub fn with_history(
        plugin: Plugin,
        allow: AllowList,
        settings: Settings,
        engines: Vec<String>,
        history: Option<Store>,
    ) -> Arc<Self> {
        let permits = settings.concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let settings_adhoc = settings.adhoc_concurrency;
        let settings_window = settings.window_concurrency;
        Arc::new(Service {
            plugin,
            allow: RwLock::new(allow),
            settings,
            targets: Registry::default(),
            scrape_permits: Arc::new(Semaphore::new(permits)),
            adhoc_permits: Semaphore::new(settings_adhoc.clamp(1, Semaphore::MAX_PERMITS)),
            window_permits: Semaphore::new(settings_window.clamp(1, Semaphore::MAX_PERMITS)),
            engines,
            history,
            api_edits: tokio::sync::Mutex::new(()),
        })
    }

    /// A copy of the current allow-list (never held across an await).
    pub fn allow_list(&self) -> AllowList {
        self.allow.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
