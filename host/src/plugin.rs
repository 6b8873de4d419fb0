//! Loading the component and calling it under budgets.
//!
//! A [`Plugin`] compiles (or loads from cache) the component once and
//! pre-instantiates it against a linker; every call then gets a fresh
//! [`Store`] with no environment, no arguments and no directories, a memory
//! cap, a CPU budget charged for the time guest code runs (see [`crate::cpu`]),
//! and a wall-clock timeout. A trap or an exhausted budget is a [`CallError`];
//! the plugin stays usable. Everything a call observes lives in its own store,
//! so concurrent calls on one `Plugin` never see each other's outcomes. Data
//! the guest hands the host (its result, or one host call's arguments) is
//! charged against [`Limits::result_bytes`] before it is copied, so the
//! host's memory is bounded too, not only the guest's.
//!
//! Embedders: host errors reach the guest as text, and with `RUST_BACKTRACE`
//! set wasmtime captures a backtrace (with this machine's paths) into them.
//! Set `RUST_LIB_BACKTRACE=0` at start-up, as the CLI does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::audit::World;
use crate::cache;
use crate::cpu::CpuMeter;
use crate::engine::Slots;
pub use crate::engine::{EngineChoice, Ticker, engine_config, shared_engine};
use crate::policy::{CallEgress, EgressPolicy};
use crate::sender::Sender;
use crate::stats::{CallStats, MemoryLimiter};
use crate::wit::collector::Target;
use crate::wit::mapper::{CollectError, EngineInfo, Snapshot, WindowError, WindowStats};
use crate::wit::parser::{CompactParsed, Parsed};
use crate::wit::types::{ParseError, ParseOptions};

#[allow(missing_docs)]
mod bindings {
    // Only the exports are called through these bindings; the world's WASI
    // imports are wasmtime-wasi's and wasmtime-wasi-http's own.
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        exports: { default: async },
        // Serde: serve stores snapshots (CBOR) in its history database.
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
        },
    });
}

pub use bindings::exports::llm_metrics::plugin as wit_exports;
pub use bindings::llm_metrics::plugin::types as wit_types;

/// The component built from `guest/` by this crate's build script: world
/// `service`, so it parses, maps, collects and also serves `wasi:http`.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("LLM_METRICS_COMPONENT"));

/// The mapper-only component (world `mapping`, no `wasi:http` import), built
/// from the same source without the `service` feature.
pub static EMBEDDED_MAPPING_COMPONENT: &[u8] =
    include_bytes!(env!("LLM_METRICS_MAPPING_COMPONENT"));

/// Where this crate's build put [`EMBEDDED_COMPONENT`] (for embedders in
/// other languages: Node through jco, Python through wasmtime-py).
pub const COMPONENT_PATH: &str = env!("LLM_METRICS_COMPONENT");

/// Where this crate's build put [`EMBEDDED_MAPPING_COMPONENT`].
pub const MAPPING_COMPONENT_PATH: &str = env!("LLM_METRICS_MAPPING_COMPONENT");

/// How wasmtime 48 reports running out of hostcall fuel.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// The largest fetch budget a `collect` gets, whatever `timeout-ms` asks for
/// (a `u32` of milliseconds would otherwise allow 49 days).
pub const MAX_FETCH_BUDGET: Duration = Duration::from_secs(300);

/// Per-call budgets.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest linear memory the guest may grow to.
    pub memory_bytes: usize,
    /// Guest CPU time per call: time spent running guest code. Time blocked
    /// in host calls (waits on clocks or the network) does not count.
    pub cpu_time: Duration,
    /// Wall-clock time per call, on top of any fetch budget.
    pub wall_time: Duration,
    /// Host memory one transfer out of the guest may take: the call's
    /// result, or the arguments of one host call (string bytes plus list
    /// elements at their host size). The guest's memory cap alone does not
    /// bound this, since a result may point at the same bytes many times.
    /// Enforced with wasmtime's hostcall fuel.
    pub result_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 << 20,
            cpu_time: Duration::from_secs(10),
            wall_time: Duration::from_secs(30),
            result_bytes: 128 << 20,
        }
    }
}

/// Where the component comes from.
#[derive(Clone, Debug)]
pub enum ComponentSource {
    /// The component embedded in this binary.
    Embedded,
    /// A component file, e.g. another build of the plugin.
    File(PathBuf),
}

/// How to build a [`Plugin`].
#[derive(Clone, Debug, Default)]
pub struct PluginOptions {
    /// Per-call budgets.
    pub limits: Limits,
    /// Directory for compiled components; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// The wasmtime engine calls run on.
    pub engine: EngineChoice,
}

/// A call that did not return normally.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest ran longer than its CPU budget.
    #[error("the plugin used more than its CPU budget of {budget:?} (stopped after {used:?})")]
    CpuBudget {
        /// The budget.
        budget: Duration,
        /// Guest execution time charged when it was stopped.
        used: Duration,
    },
    /// The call took longer than its wall-clock budget.
    #[error("the plugin did not finish within {0:?}")]
    WallClock(Duration),
    /// The guest tried to grow its memory past the cap.
    #[error("the plugin needed more than its memory limit of {0} bytes")]
    Memory(usize),
    /// The guest recursed deeper than the wasm stack allows.
    #[error("the plugin overflowed its stack")]
    StackOverflow,
    /// The guest handed the host more data in one transfer (its result, or
    /// one host call's arguments) than [`Limits::result_bytes`].
    #[error("the plugin passed the host more than its limit of {0} bytes at once")]
    ResultTooLarge(usize),
    /// The guest trapped (e.g. panicked).
    #[error("the plugin trapped: {0}")]
    Trap(String),
}

/// A loaded, pre-instantiated component.
pub struct Plugin {
    engine: Engine,
    pre: bindings::PluginPre<HostState>,
    limits: Limits,
    /// Pooled keep-alive connections shared by this plugin's calls.
    sender: Sender,
    /// The engine's instance slots, when it pools: each call holds one.
    slots: Option<Slots>,
}

impl Plugin {
    /// Compile (or load from cache) and link the component.
    pub fn new(source: &ComponentSource, options: &PluginOptions) -> anyhow::Result<Self> {
        let (engine, slots) = options.engine.engine(options.limits.memory_bytes)?;
        let bytes: std::borrow::Cow<'_, [u8]> = match source {
            ComponentSource::Embedded => EMBEDDED_COMPONENT.into(),
            ComponentSource::File(path) => std::fs::read(path)
                .with_context(|| format!("reading component {}", path.display()))?
                .into(),
        };
        let component = cache::load(&engine, &bytes, options.cache_dir.as_deref())?;
        Self::link(&engine, &component, options.limits, slots)
    }

    /// Link an already compiled component. Budgets rely on `engine`'s epoch
    /// being advanced: [`shared_engine`]'s is; for an engine of your own, see
    /// [`EngineChoice::Custom`]. On the shared engine, calls share its
    /// instance slots.
    pub fn from_component(
        engine: &Engine,
        component: &Component,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        Self::link(engine, component, limits, crate::engine::slots_of(engine))
    }

    /// [`Plugin::from_component`], its calls passing through `slots` (the
    /// engine's, when it pools).
    fn link(
        engine: &Engine,
        component: &Component,
        limits: Limits,
        slots: Option<Slots>,
    ) -> anyhow::Result<Self> {
        crate::audit::check_imports(engine, component, World::Plugin)?;
        let linker = linker(engine)?;
        let pre = bindings::PluginPre::new(linker.instantiate_pre(component)?)
            .map_err(anyhow::Error::from)
            .context("the component does not export the llm-metrics:plugin world")?;
        Ok(Plugin {
            engine: engine.clone(),
            pre,
            limits,
            sender: Sender::default(),
            slots,
        })
    }

    /// Send this plugin's requests through `sender` (e.g. one trusting a
    /// private CA, or with other idle bounds) instead of its own.
    pub fn with_sender(mut self, sender: Sender) -> Self {
        self.sender = sender;
        self
    }

    /// The sender this plugin's requests go through (its connection counts).
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The budgets each call gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Parse exposition text inside the sandbox.
    pub async fn parse(
        &self,
        text: &[u8],
        options: &ParseOptions,
    ) -> Result<Result<Parsed, ParseError>, CallError> {
        self.call(
            EgressPolicy::deny_all(),
            Duration::ZERO,
            async |store, plugin| {
                plugin
                    .llm_metrics_plugin_parser()
                    .call_parse(store, text, options)
                    .await
            },
        )
        .await
    }

    /// Parse exposition text inside the sandbox into the compact form: the
    /// same families as [`Plugin::parse`], with names and labels as spans
    /// into `text`. [`CompactExposition::new`](crate::compact::CompactExposition::new)
    /// checks the result against `text` and reads it as `&str`s.
    pub async fn parse_compact(
        &self,
        text: &[u8],
        options: &ParseOptions,
    ) -> Result<Result<CompactParsed, ParseError>, CallError> {
        self.call(
            EgressPolicy::deny_all(),
            Duration::ZERO,
            async |store, plugin| {
                plugin
                    .llm_metrics_plugin_parser()
                    .call_parse_compact(store, text, options)
                    .await
            },
        )
        .await
    }

    /// Fetch and map `target` under `egress`. The wall-clock budget is the
    /// target's timeout plus [`Limits::wall_time`], so a slow fetch is cut by
    /// the fetch budget (a `timeout` error), never misreported as a CPU overrun.
    pub async fn collect(
        &self,
        target: &Target,
        egress: EgressPolicy,
    ) -> Result<Result<Snapshot, CollectError>, CallError> {
        self.collect_with_stats(target, egress).await.0
    }

    /// [`Plugin::collect`], also saying what the call cost the guest (its
    /// peak memory, its CPU time), whatever its outcome.
    pub async fn collect_with_stats(
        &self,
        target: &Target,
        egress: EgressPolicy,
    ) -> (Result<Result<Snapshot, CollectError>, CallError>, CallStats) {
        let fetch_budget =
            Duration::from_millis(u64::from(target.timeout_ms)).min(MAX_FETCH_BUDGET);
        // The guest's own deadline is the clamped one too, so a long fetch
        // ends as the guest's `timeout` error rather than a wall-clock kill.
        let target = Target {
            timeout_ms: u32::try_from(fetch_budget.as_millis()).unwrap_or(u32::MAX),
            ..target.clone()
        };
        let egress = egress.with_max_timeout(fetch_budget);
        let cap = egress.max_body_bytes();
        let (result, cap_hit, stats) = self
            .call_reporting(egress, fetch_budget, async |store, plugin| {
                plugin
                    .llm_metrics_plugin_collector()
                    .call_collect(store, &target)
                    .await
            })
            .await;
        // The guest cannot tell the host's cap from other stream failures.
        let result = match result {
            Ok(Err(CollectError::Transport(_))) if cap_hit => {
                Ok(Err(CollectError::BodyTooLarge(cap)))
            }
            other => other,
        };
        (result, stats)
    }

    /// Map exposition text fetched by the caller; no request is made.
    pub async fn map(
        &self,
        text: &[u8],
        content_type: Option<&str>,
        engine: &str,
        instance_id: &str,
    ) -> Result<Result<Snapshot, CollectError>, CallError> {
        self.map_with_stats(text, content_type, engine, instance_id)
            .await
            .0
    }

    /// [`Plugin::map`], also saying what the call cost the guest (its peak
    /// memory, which includes the copy of `text` the call hands it).
    pub async fn map_with_stats(
        &self,
        text: &[u8],
        content_type: Option<&str>,
        engine: &str,
        instance_id: &str,
    ) -> (Result<Result<Snapshot, CollectError>, CallError>, CallStats) {
        let content_type = content_type.map(str::to_string);
        let (result, _, stats) = self
            .call_reporting(
                EgressPolicy::deny_all(),
                Duration::ZERO,
                async |store, plugin| {
                    plugin
                        .llm_metrics_plugin_mapper()
                        .call_map_exposition(
                            store,
                            text,
                            content_type.as_deref(),
                            engine,
                            instance_id,
                        )
                        .await
                },
            )
            .await;
        (result, stats)
    }

    /// The engines the plugin maps (their ids are what `engine` accepts,
    /// besides `auto`).
    pub async fn engines(&self) -> Result<Vec<EngineInfo>, CallError> {
        self.call(
            EgressPolicy::deny_all(),
            Duration::ZERO,
            async |store, plugin| plugin.llm_metrics_plugin_mapper().call_engines(store).await,
        )
        .await
    }

    /// Rates and latency between two snapshots of one server, computed by
    /// the plugin (pure: no request is made). Snapshots from `map` or
    /// `collect`; the caller may set `collected_at_ms` (e.g. from file
    /// times) before passing them.
    pub async fn window(
        &self,
        earlier: &Snapshot,
        later: &Snapshot,
    ) -> Result<Result<WindowStats, WindowError>, CallError> {
        self.call(
            EgressPolicy::deny_all(),
            Duration::ZERO,
            async |store, plugin| {
                plugin
                    .llm_metrics_plugin_mapper()
                    .call_window(store, earlier, later)
                    .await
            },
        )
        .await
    }

    async fn call<R>(
        &self,
        egress: EgressPolicy,
        extra_wall: Duration,
        f: impl AsyncFnOnce(&mut Store<HostState>, &bindings::Plugin) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.call_reporting(egress, extra_wall, f).await.0
    }

    /// Run `f` in a fresh store; also says whether the body cap cut a
    /// response during this call, and what the call cost the guest.
    async fn call_reporting<R>(
        &self,
        egress: EgressPolicy,
        extra_wall: Duration,
        f: impl AsyncFnOnce(&mut Store<HostState>, &bindings::Plugin) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, bool, CallStats) {
        let limits = self.limits;
        let wall = limits.wall_time + extra_wall;
        // A pooled engine's slot, held until the store below is dropped
        // (locals drop in reverse order): the wait counts as wall time.
        let _slot = match Slots::hold(self.slots.as_ref(), wall).await {
            Ok(slot) => slot,
            Err(_) => return (Err(CallError::WallClock(wall)), false, CallStats::default()),
        };
        let egress = CallEgress::new(egress, self.sender.clone());
        let mut store = new_store(&self.engine, egress, limits);
        let run = async {
            let plugin = self.pre.instantiate_async(&mut store).await?;
            f(&mut store, &plugin).await
        };
        let result = tokio::time::timeout(wall, run).await;
        let state = store.data();
        let stats = CallStats {
            peak_memory_bytes: state.limiter.peak(),
            cpu_time: state.cpu.charged(),
        };
        (
            outcome(result, state, limits, wall),
            state.egress.body_cap_hit(),
            stats,
        )
    }
}

/// The linker every component gets: WASI 0.2 and `wasi:http`, async. What a
/// component may actually use is decided by the import audit
/// ([`crate::audit`]) before linking.
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// A fresh store for one call: memory cap, hostcall fuel, CPU meter and
/// epoch checks, and `egress` as the `send_request` hook.
pub(crate) fn new_store(engine: &Engine, egress: CallEgress, limits: Limits) -> Store<HostState> {
    let mut store = Store::new(engine, HostState::new(egress, limits));
    store.limiter(|s| &mut s.limiter);
    // Every lift out of the guest is charged (strings by length, lists
    // by element count times host size) before anything is copied.
    store.set_hostcall_fuel(limits.result_bytes);
    // Charge exactly the time spent in guest code.
    store.call_hook(|mut ctx, hook| {
        ctx.data_mut().cpu.transition(hook);
        Ok(())
    });
    // The epoch check is a host call, so the meter is up to date here.
    // Yielding every tick also lets the wall-clock timeout fire.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        if state.cpu.over_budget() {
            state.cpu_exceeded = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// What a call under `wall` came to, given the store's state afterwards.
pub(crate) fn outcome<R>(
    result: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    state: &HostState,
    limits: Limits,
    wall: Duration,
) -> Result<R, CallError> {
    match result {
        Err(_) => Err(CallError::WallClock(wall)),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) if state.cpu_exceeded => Err(CallError::CpuBudget {
            budget: limits.cpu_time,
            used: state.cpu.charged(),
        }),
        Ok(Err(_)) if state.limiter.exceeded => Err(CallError::Memory(limits.memory_bytes)),
        Ok(Err(e)) if e.downcast_ref::<Trap>() == Some(&Trap::StackOverflow) => {
            Err(CallError::StackOverflow)
        }
        // wasmtime's error type for this is private; its text is pinned
        // with the version (=48.0.8), and the e2e tests check it.
        Ok(Err(e)) if format!("{e:#}").contains(HOSTCALL_FUEL_EXHAUSTED) => {
            Err(CallError::ResultTooLarge(limits.result_bytes))
        }
        Ok(Err(e)) => Err(CallError::Trap(format!("{e:#}"))),
    }
}

/// Where the CLI keeps compiled components: `$XDG_CACHE_HOME/llm-metrics` or
/// `~/.cache/llm-metrics`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("llm-metrics"))
}

/// Per-call store state.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    egress: CallEgress,
    limiter: MemoryLimiter,
    cpu: CpuMeter,
    cpu_exceeded: bool,
}

impl HostState {
    fn new(egress: CallEgress, limits: Limits) -> Self {
        HostState {
            // No env, args, stdio or preopens: nothing of the host leaks in.
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            egress,
            limiter: MemoryLimiter::new(limits.memory_bytes),
            cpu: CpuMeter::new(limits.cpu_time),
            cpu_exceeded: false,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}
