//! The service's shared state and its HTTP routes.
//!
//! Invariant: one pre-instantiated [`Plugin`] serves every request and
//! scrape; every route answers JSON (success documents or problem
//! documents), and request bodies are capped at [`Settings::max_request_bytes`].
//! Scrapes in flight never exceed [`Settings::concurrency`] and ad-hoc
//! collections never exceed [`Settings::adhoc_concurrency`] (separate pools,
//! so callers cannot starve the scraper), so the plugin's memory in use stays
//! within their sum × the per-call memory budget.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use llm_metrics_host::Plugin;
use tokio::sync::Semaphore;

use crate::allow::AllowList;
use crate::config::TargetSpec;
use crate::store::Store;
use crate::targets::Registry;
use crate::problem;
use crate::routes::metrics::snapshots as export;
use crate::routes::{
    auth, collect as api, fleet, history as api_history, openapi, targets as api_targets,
};
use crate::scheduler;

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
    /// When set, every route requires `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_request_bytes: 64 * 1024,
            max_body_bytes: 16 * 1024 * 1024,
            max_timeout: Duration::from_secs(120),
            default_timeout: Duration::from_secs(10),
            concurrency: 16,
            adhoc_concurrency: 16,
            api_token: None,
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
    /// The engine ids the plugin maps (`collector.engines`).
    pub engines: Vec<String>,
    /// Where every scrape is committed before it is shown (none: no history).
    pub history: Option<Store>,
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
        Arc::new(Service {
            plugin,
            allow: RwLock::new(allow),
            settings,
            targets: Registry::default(),
            scrape_permits: Arc::new(Semaphore::new(permits)),
            adhoc_permits: Semaphore::new(settings_adhoc.clamp(1, Semaphore::MAX_PERMITS)),
            engines,
            history,
        })
    }

    /// Register (or replace) a target and start its scrape loop. Returns
    /// whether it replaced one.
    pub fn add_target(self: &Arc<Self>, spec: TargetSpec) -> bool {
        let (entry, replaced) = self.targets.put(spec);
        scheduler::spawn(self.clone(), entry);
        replaced
    }

    /// Stop every scrape loop and wait up to `deadline` for scrapes in
    /// flight to finish. True if they all did.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.targets.stop_all();
        let all = u32::try_from(self.settings.concurrency.clamp(1, Semaphore::MAX_PERMITS))
            .unwrap_or(u32::MAX);
        tokio::time::timeout(deadline, self.scrape_permits.acquire_many(all))
            .await
            .is_ok_and(|p| p.is_ok())
    }

    /// A copy of the current allow-list (never held across an await).
    pub fn allow_list(&self) -> AllowList {
        self.allow.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// All routes.
pub fn router(service: Arc<Service>) -> Router {
    let limit = service.settings.max_request_bytes;
    Router::new()
        .route("/api/v1/collect/{engine}", post(api::collect))
        .route("/api/v1/metrics/{engine}/{instance_id}", get(api::metrics))
        .route("/api/v1/targets", get(api_targets::list))
        .route("/api/v1/fleet", get(fleet::fleet))
        .route("/api/v1/fleet/window", get(api_history::fleet_window))
        .route(
            "/api/v1/targets/{id}/window",
            get(api_history::target_window),
        )
        .route(
            "/api/v1/targets/{id}/history",
            get(api_history::target_history),
        )
        .route("/metrics", get(prometheus))
        .route("/openapi.json", get(openapi::document))
        .route(
            "/api/v1/targets/{id}",
            get(api_targets::show)
                .put(api_targets::put)
                .delete(api_targets::remove),
        )
        .fallback(problem::no_route)
        .method_not_allowed_fallback(problem::wrong_method)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            service.clone(),
            auth::require_token,
        ))
        .with_state(service)
}

/// `GET /metrics`: the fleet as Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Every target as Prometheus text 0.0.4", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn prometheus(
    axum::extract::State(service): axum::extract::State<Arc<Service>>,
) -> impl axum::response::IntoResponse {
    let mut text = export::render(&service.targets.all());
    text.push_str(&crate::routes::metrics::windows::render(&service).await);
    (
        [(axum::http::header::CONTENT_TYPE, export::CONTENT_TYPE)],
        text,
    )
}
