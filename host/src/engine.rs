//! Which wasmtime engine calls run on, and the epoch ticker their budgets
//! are checked by.
//!
//! Invariant: every engine this library builds has epoch interruption on and
//! a ticker thread advancing its epoch every [`TICK`] for as long as the
//! engine lives; an embedder's own engine is ticked by that thread or, if it
//! says so, by the embedder. Every pooled engine this library builds comes
//! with a [`Slots`] gate of as many permits as it has slots, and a call holds
//! a permit for as long as its store lives: a call beyond the slots waits for
//! one instead of failing to instantiate.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::error::Elapsed;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: how often a running guest's CPU meter is
/// checked (what is charged is measured exactly, see [`crate::cpu`]).
pub const TICK: Duration = Duration::from_millis(10);

/// Which wasmtime engine a plugin runs on, and who advances its epoch: each
/// tick is when a running call's CPU budget is checked and its wall-clock
/// timeout gets a chance to fire.
#[derive(Clone, Debug, Default)]
pub enum EngineChoice {
    /// The process-wide engine ([`shared_engine`]), ticked every 10 ms by a
    /// thread of this library: wasmtime's pooling allocator with
    /// [`SHARED_SLOTS`] slots (a call beyond them waits for one), or on-demand
    /// allocation where the pool's address space cannot be reserved.
    #[default]
    Shared,
    /// An engine of this plugin's own with wasmtime's pooling allocator:
    /// `slots` calls may run at once (one more waits for a slot), each with
    /// a memory of at most [`Limits::memory_bytes`](crate::Limits::memory_bytes),
    /// all reserved up front as virtual memory. Ticked by a thread of this
    /// library.
    Pooled {
        /// Calls that may run at once.
        slots: u32,
    },
    /// An engine of this plugin's own that allocates each call's instance on
    /// demand (a fresh mapping per call, nothing reserved up front: the
    /// default before the shared engine pooled). Ticked by a thread of this
    /// library.
    OnDemand,
    /// The embedder's engine, which must have been built with
    /// `Config::epoch_interruption(true)` (e.g. from [`engine_config`]). If
    /// it pools instances, the embedder keeps its calls within its slots.
    Custom {
        /// The engine.
        engine: Engine,
        /// Who advances its epoch.
        ticker: Ticker,
    },
}

/// Who advances a custom engine's epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticker {
    /// A thread of this library, every 10 ms, for as long as the engine lives.
    Thread,
    /// The embedder calls `Engine::increment_epoch` itself. Budgets are only
    /// checked on its ticks: tick every few milliseconds.
    External,
}

impl EngineChoice {
    /// The engine, with its ticker running, and the gate its calls pass
    /// (for an engine that pools instances); a pooled one caps each memory
    /// at `memory_bytes` (the calls' [`Limits::memory_bytes`](crate::Limits::memory_bytes)).
    pub(crate) fn engine(&self, memory_bytes: usize) -> anyhow::Result<(Engine, Option<Slots>)> {
        match self {
            EngineChoice::Shared => {
                let (engine, slots) = shared()?;
                Ok((engine.clone(), slots.clone()))
            }
            EngineChoice::Pooled { slots } => {
                let engine = Engine::new(&engine_config(Some((*slots, memory_bytes))))?;
                spawn_ticker(&engine);
                Ok((engine, Some(Slots::new(*slots))))
            }
            EngineChoice::OnDemand => {
                let engine = Engine::new(&engine_config(None))?;
                spawn_ticker(&engine);
                Ok((engine, None))
            }
            EngineChoice::Custom { engine, ticker } => {
                if *ticker == Ticker::Thread {
                    spawn_ticker(engine);
                }
                Ok((engine.clone(), None))
            }
        }
    }
}

/// The slots of a pooled engine, as permits: a call takes one before its
/// store is made and gives it back after the store (and with it the
/// instance's slot) is gone.
#[derive(Clone, Debug)]
pub(crate) struct Slots(Arc<Semaphore>);

impl Slots {
    fn new(slots: u32) -> Self {
        Slots(Arc::new(Semaphore::new(slots.max(1) as usize)))
    }

    /// Waits for a free slot.
    async fn take(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.0)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }

    /// A slot of `slots` (none to take without them), waited for at most
    /// `wall`: the wait counts as the call's wall time (`Err` when it ran
    /// out). The caller holds the permit until its store is dropped.
    pub(crate) async fn hold(
        slots: Option<&Slots>,
        wall: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, Elapsed> {
        match slots {
            Some(slots) => tokio::time::timeout(wall, slots.take()).await.map(Some),
            None => Ok(None),
        }
    }
}

/// Core instances, memories and tables one instance of the component may
/// use (the component has a handful; these leave room for other builds).
const POOL_CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const POOL_MEMORIES_PER_COMPONENT: u32 = 2;
const POOL_TABLES_PER_COMPONENT: u32 = 8;

/// Bytes of each pooled linear memory kept resident (zeroed with `memset`
/// rather than `madvise`) when its slot is freed, see
/// [`engine_config_keep_resident`]. 1 MiB holds the whole memory of a
/// typical scrape (a 65 KB body peaks at 0.56 MiB), so such a call takes no
/// page fault and its slot no `madvise`; larger calls fault in the rest.
/// It costs one MiB of resident memory per slot.
pub const POOL_KEEP_RESIDENT: usize = 1 << 20;

/// The configuration every engine of this library uses: epoch interruption
/// on; with `pool = Some((slots, memory_bytes))`, wasmtime's pooling
/// allocator sized for `slots` calls at once, each memory capped at
/// `memory_bytes`. Memory images are copy-on-write (wasmtime's default,
/// `memory_init_cow`), with either allocator.
pub fn engine_config(pool: Option<(u32, usize)>) -> Config {
    engine_config_keep_resident(pool, POOL_KEEP_RESIDENT)
}

/// [`engine_config`], keeping the first `keep_resident` bytes of each
/// pooled linear memory (and as much of each table) resident between calls:
/// fewer page faults per call, at `slots × keep_resident` of resident memory.
pub fn engine_config_keep_resident(pool: Option<(u32, usize)>, keep_resident: usize) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if let Some((slots, memory_bytes)) = pool {
        let slots = slots.max(1);
        let mut p = PoolingAllocationConfig::new();
        p.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(POOL_CORE_INSTANCES_PER_COMPONENT))
            .total_memories(slots.saturating_mul(POOL_MEMORIES_PER_COMPONENT))
            .total_tables(slots.saturating_mul(POOL_TABLES_PER_COMPONENT))
            .total_stacks(slots)
            .max_core_instances_per_component(POOL_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(POOL_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(POOL_TABLES_PER_COMPONENT)
            .max_memory_size(memory_bytes)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    config
}

/// Calls the process-wide engine ([`shared_engine`]) runs at once; more wait
/// for a slot. Each slot reserves about 8 GiB of address space (two linear
/// memories of up to 4 GiB with their guard regions; none of it resident
/// until used) and, once used, keeps [`POOL_KEEP_RESIDENT`] of its memory.
pub const SHARED_SLOTS: u32 = 32;

/// The largest linear memory a 32-bit memory can have: the shared engine's
/// slots take any [`Limits::memory_bytes`](crate::Limits::memory_bytes); each
/// call's own cap is its store's limiter.
const WASM32_MAX_MEMORY: usize = 1 << 32;

/// The process-wide engine and, when it pools, its slots.
fn shared() -> anyhow::Result<&'static (Engine, Option<Slots>)> {
    static SHARED: OnceLock<(Engine, Option<Slots>)> = OnceLock::new();
    if let Some(shared) = SHARED.get() {
        return Ok(shared);
    }
    // Pooling, unless the address space cannot be reserved (e.g. under
    // `ulimit -v`): then instances are allocated on demand, as before.
    let made = match Engine::new(&engine_config(Some((SHARED_SLOTS, WASM32_MAX_MEMORY)))) {
        Ok(engine) => (engine, Some(Slots::new(SHARED_SLOTS))),
        Err(_) => (Engine::new(&engine_config(None))?, None),
    };
    Ok(SHARED.get_or_init(|| {
        spawn_ticker(&made.0);
        made
    }))
}

/// One engine per process: epoch ticking, the compile settings and the
/// instance pool ([`SHARED_SLOTS`]) are shared. Plugins and services linked
/// on it ([`Plugin::from_component`](crate::Plugin::from_component)) share its slots.
pub fn shared_engine() -> anyhow::Result<Engine> {
    Ok(shared()?.0.clone())
}

/// Whether the process-wide engine pools instances (false where its address
/// space could not be reserved).
pub fn shared_engine_pools() -> bool {
    shared().is_ok_and(|s| s.1.is_some())
}

/// The slots of `engine` when it is the shared engine and pools.
pub(crate) fn slots_of(engine: &Engine) -> Option<Slots> {
    shared()
        .ok()
        .filter(|s| Engine::same(&s.0, engine))
        .and_then(|s| s.1.clone())
}

/// Advance the epoch from a plain thread: a guest that never yields can
/// starve tokio's workers and timers, but not this thread.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("llm-metrics-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the epoch thread");
}
