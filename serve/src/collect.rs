//! One collection through the plugin, and how its failures are reported.
//!
//! Invariant: the plugin only ever gets an egress policy that allows exactly
//! one `host:port`, the one the URL names: for ad-hoc requests only after the
//! allow-list granted it (addresses resolved and checked), for configured
//! targets because an operator listed them. The policy carries the grant's
//! address rules, which the host checks again on the addresses it connects
//! to (configured targets: any address but link-local and metadata ones,
//! unless the URL names the address itself). Every failure has one stable
//! `error_kind` and one HTTP status, decided here.

use std::time::Duration;

use axum::http::StatusCode;
use llm_metrics_host::describe::CollectKind;
use llm_metrics_host::wit::collector::{Header, Target};
use llm_metrics_host::wit::mapper::{CollectError, Snapshot};
use llm_metrics_host::{AddressRules, AllowedHost, CallError, EgressPolicy, Plugin};

use crate::allow::{AllowList, Grant, Refusal};

/// What to collect.
#[derive(Clone, Debug)]
pub struct Request {
    /// The engine id, or `auto`.
    pub engine: String,
    /// The caller's name for the server.
    pub instance_id: String,
    /// The `/metrics` URL.
    pub endpoint: String,
    /// The fetch budget.
    pub timeout: Duration,
    /// Extra request headers (e.g. a bearer token).
    pub headers: Vec<(String, String)>,
    /// Largest body accepted.
    pub max_body_bytes: u64,
}

/// Why a collection produced no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The URL was refused before the plugin ran.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The plugin reported a typed failure.
    #[error("{}", llm_metrics_host::describe::collect_error(.0))]
    Collect(CollectError),
    /// The plugin ran out of a budget or trapped.
    #[error("{0}")]
    Call(#[from] CallError),
    /// Every ad-hoc permit stayed taken for the request's whole budget, so
    /// nothing was fetched.
    #[error("busy: every ad-hoc collection slot stayed taken for the whole timeout ({0:?})")]
    Busy(Duration),
}

impl Failure {
    /// The stable, machine-readable kind: the plugin's `collect-error` case
    /// names, plus the host's budget failures.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Busy(_) => "busy",
            Failure::Refused(refusal) => refusal.kind().name(),
            Failure::Collect(e) => llm_metrics_host::describe::collect_kind(e).name(),
            Failure::Call(e) => match e {
                CallError::CpuBudget { .. } => "cpu-budget",
                CallError::StackOverflow => "stack-overflow",
                CallError::ResultTooLarge(_) => "result-too-large",
                CallError::WallClock(_) => CollectKind::Timeout.name(),
                CallError::Memory(_) => "memory-budget",
                CallError::Trap(_) => "plugin-trap",
            },
        }
    }

    /// The status `GET /api/v1/metrics/…` answers with: 403 denied, 422
    /// invalid input, 504 timeout, 503 busy, 502 for anything the upstream did wrong
    /// (including an unreachable upstream, or a body that exhausts the
    /// plugin's CPU or memory budget), 500 only for a plugin trap.
    pub fn status(&self) -> StatusCode {
        let kind = match self {
            Failure::Collect(e) => llm_metrics_host::describe::collect_kind(e),
            Failure::Refused(refusal) => refusal.kind(),
            // It never ran: no slot freed up within its timeout.
            Failure::Busy(_) => return StatusCode::SERVICE_UNAVAILABLE,
            Failure::Call(CallError::Trap(_)) => return StatusCode::INTERNAL_SERVER_ERROR,
            Failure::Call(CallError::WallClock(_)) => CollectKind::Timeout,
            // A body that exhausts a budget is the upstream's doing.
            Failure::Call(_) => return StatusCode::BAD_GATEWAY,
        };
        StatusCode::from_u16(kind.collect_status()).unwrap_or(StatusCode::BAD_GATEWAY)
    }
}

impl Request {
    fn target(&self) -> Target {
        Target {
            url: self.endpoint.clone(),
            instance_id: Some(self.instance_id.clone()),
            engine: self.engine.clone(),
            timeout_ms: u32::try_from(self.timeout.as_millis()).unwrap_or(u32::MAX),
            max_body_bytes: self.max_body_bytes,
            headers: self
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            include_raw: false,
        }
    }
}

/// Collect for a caller: the URL must pass `allow` first.
pub async fn adhoc(
    plugin: &Plugin,
    allow: &AllowList,
    request: &Request,
) -> Result<Snapshot, Failure> {
    let grant = allow.check(&request.endpoint).await?;
    run(plugin, grant, request).await
}

/// Collect from an operator-configured target: its own `host:port` only.
pub async fn configured(plugin: &Plugin, request: &Request) -> Result<Snapshot, Failure> {
    let host = AllowedHost::from_url(&request.endpoint)
        .map_err(|e| Refusal::InvalidUrl(format!("{e:#}")))?;
    let grant = Grant {
        host,
        addresses: AddressRules::any_public(),
    };
    run(plugin, grant, request).await
}

async fn run(plugin: &Plugin, grant: Grant, request: &Request) -> Result<Snapshot, Failure> {
    let egress = EgressPolicy::deny_all()
        .with_max_body_bytes(request.max_body_bytes)
        .allow(grant.host)
        .with_address_rules(grant.addresses);
    plugin
        .collect(&request.target(), egress)
        .await?
        .map_err(Failure::Collect)
}
