//! Which wasmtime engine calls run on, and the epoch ticker their budgets
//! are checked by.
//!
//! Invariant: every engine this library builds has epoch interruption on and
//! a ticker thread advancing its epoch every [`TICK`] for as long as the
//! engine lives; an embedder's own engine is ticked by that thread or, if it
//! says so, by the embedder.

use std::sync::OnceLock;
use std::time::Duration;

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
    /// thread of this library. Instances are allocated on demand.
    #[default]
    Shared,
    /// An engine of this plugin's own with wasmtime's pooling allocator:
    /// `slots` calls may run at once (one more fails to instantiate, a
    /// [`CallError::Trap`](crate::CallError::Trap)), each with a memory of at most
    /// [`Limits::memory_bytes`](crate::Limits::memory_bytes), all reserved up front as virtual memory.
    /// Ticked by a thread of this library.
    Pooled {
        /// Calls that may run at once.
        slots: u32,
    },
    /// The embedder's engine, which must have been built with
    /// `Config::epoch_interruption(true)` (e.g. from [`engine_config`]).
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
    /// The engine, with its ticker running; a pooled one caps each memory
    /// at `memory_bytes` (the calls' [`Limits::memory_bytes`](crate::Limits::memory_bytes)).
    pub(crate) fn engine(&self, memory_bytes: usize) -> anyhow::Result<Engine> {
        match self {
            EngineChoice::Shared => shared_engine(),
            EngineChoice::Pooled { slots } => {
                let engine = Engine::new(&engine_config(Some((*slots, memory_bytes))))?;
                spawn_ticker(&engine);
                Ok(engine)
            }
            EngineChoice::Custom { engine, ticker } => {
                if *ticker == Ticker::Thread {
                    spawn_ticker(engine);
                }
                Ok(engine.clone())
            }
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

/// One engine per process: epoch ticking and the compile settings are shared.
pub fn shared_engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e.clone());
    }
    let engine = Engine::new(&engine_config(None))?;
    let engine = ENGINE.get_or_init(|| {
        spawn_ticker(&engine);
        engine
    });
    Ok(engine.clone())
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
