//! The component as an HTTP service, run the way `wasmtime serve` runs it.
//!
//! A [`Service`] pre-instantiates a component of the `service` world with
//! wasmtime-wasi-http's `ProxyPre` and answers each HTTP request by calling
//! its exported `wasi:http/incoming-handler` in a fresh store, under the same
//! per-call [`Limits`] and [`EgressPolicy`] hook as [`crate::Plugin`]: the
//! component's own fetches go through `send_request`, so egress stays the
//! host's decision. Invariant: [`Service::respond`] always answers; a trap or
//! an exhausted budget becomes a problem document (`plugin-trap` 500,
//! `cpu-budget`/`memory-budget`/`stack-overflow`/`result-too-large` 503,
//! `wall-clock` 504), and the service keeps serving.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::audit::{self, World};
use crate::engine::Slots;
use crate::plugin::{self, CallError, HostState, Limits, MAX_FETCH_BUDGET};
use crate::policy::{CallEgress, EgressPolicy};
use crate::sender::Sender;

/// A loaded component serving `wasi:http` requests.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    pre: ProxyPre<HostState>,
    limits: Limits,
    egress: EgressPolicy,
    /// Pooled keep-alive connections shared by the requests it serves.
    sender: Sender,
    /// The engine's instance slots, when it pools: each request holds one.
    slots: Option<Slots>,
}

/// Why a request got no answer from the component.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The call trapped or ran out of a budget.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The component returned without calling `response-outparam.set`.
    #[error("the component returned without a response")]
    NoResponse,
    /// The component answered with an error code instead of a response.
    #[error("the component answered with an error: {0}")]
    Guest(String),
    /// The request could not be handed to the component.
    #[error("the host could not pass the request on: {0}")]
    Host(String),
}

impl Service {
    /// Link `component` (compiled with [`plugin::shared_engine`]) as a
    /// `service`-world component. Its imports are audited against that
    /// world; every request may reach what `egress` allows, within
    /// [`MAX_FETCH_BUDGET`].
    pub fn from_component(
        engine: &Engine,
        component: &Component,
        limits: Limits,
        egress: EgressPolicy,
    ) -> anyhow::Result<Self> {
        audit::check_imports(engine, component, World::Service)?;
        let linker = plugin::linker(engine)?;
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        Ok(Service {
            inner: Arc::new(Inner {
                pre,
                limits,
                egress: egress.with_max_timeout(MAX_FETCH_BUDGET),
                sender: Sender::default(),
                slots: crate::engine::slots_of(engine),
            }),
        })
    }

    /// Hand one request to the component and return its response, whose
    /// body the component may still be writing.
    pub async fn handle(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, ServiceError> {
        let inner = &self.inner;
        let limits = inner.limits;
        // The guest may fetch for up to the fetch budget cap.
        let wall = limits.wall_time + MAX_FETCH_BUDGET;
        // A pooled engine's slot, given back after the store is dropped.
        let slot = Slots::hold(inner.slots.as_ref(), wall)
            .await
            .map_err(|_| CallError::WallClock(wall))?;
        let egress = CallEgress::new(inner.egress.clone(), inner.sender.clone());
        let mut store = plugin::new_store(inner.pre.engine(), egress, limits);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let host = |e: wasmtime::Error| ServiceError::Host(format!("{e:#}"));
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(host)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(host)?;
        let pre = inner.pre.clone();
        // The handler keeps running after `set` to write the body.
        let task = tokio::task::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            };
            let outcome = tokio::time::timeout(wall, run).await;
            let outcome = plugin::outcome(outcome, store.data(), limits, wall);
            drop(store);
            drop(slot);
            outcome
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(ServiceError::Guest(format!("{code:?}"))),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(ServiceError::NoResponse),
                Ok(Err(e)) => Err(ServiceError::Call(e)),
                Err(join) => Err(ServiceError::Host(join.to_string())),
            },
        }
    }

    /// Like [`Service::handle`], but a failure is answered with a problem
    /// document, as `llm-metrics-serve` writes them.
    pub async fn respond(
        &self,
        request: hyper::Request<Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.handle(request).await {
            Ok(response) => response,
            Err(e) => problem(&e),
        }
    }
}

/// `{"type","title","status","detail","error_kind"}` for a failed call.
fn problem(e: &ServiceError) -> hyper::Response<HyperOutgoingBody> {
    let (status, kind) = match e {
        ServiceError::Call(CallError::WallClock(_)) => (504, "wall-clock"),
        ServiceError::Call(CallError::CpuBudget { .. }) => (503, "cpu-budget"),
        ServiceError::Call(CallError::Memory(_)) => (503, "memory-budget"),
        ServiceError::Call(CallError::StackOverflow) => (503, "stack-overflow"),
        ServiceError::Call(CallError::ResultTooLarge(_)) => (503, "result-too-large"),
        _ => (500, "plugin-trap"),
    };
    let status = hyper::StatusCode::from_u16(status).expect("a valid status");
    let body = serde_json::json!({
        "type": format!("urn:llm-metrics:problem:{kind}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": e.to_string(),
        "error_kind": kind,
    });
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/problem+json")
        .body(body)
        .expect("a valid response")
}
