//! What one call cost the guest: the peak of its linear memory and the CPU
//! time it ran, as the host measured them.
//!
//! Invariant: every byte of linear memory a call's instance ever has passes
//! through [`MemoryLimiter::memory_growing`] (wasmtime asks the store's
//! limiter when a memory is created at its initial size and before every
//! `memory.grow`, and a linear memory never shrinks), so the limiter's
//! running total is the instance's memory size and its maximum is the call's
//! peak. The per-memory cap is checked before anything is counted: a refused
//! growth never raises the peak.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// What one call cost, as the host measured it. Returned by
/// [`Plugin::collect_with_stats`](crate::Plugin::collect_with_stats) and
/// [`Plugin::map_with_stats`](crate::Plugin::map_with_stats), whatever the
/// call's outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// The largest the instance's linear memory grew to during the call, in
    /// bytes (all its memories together, from their initial size on): the
    /// guest's peak memory. The guest's allocator never gives pages back, so
    /// this is also the memory the call held when it ended.
    pub peak_memory_bytes: usize,
    /// Guest CPU time the call was charged, as budgeted by
    /// [`Limits::cpu_time`](crate::Limits::cpu_time).
    pub cpu_time: Duration,
}

/// Like wasmtime's `StoreLimits`, but remembers that it refused (so the
/// caller can say "out of memory" instead of a bare trap) and how large the
/// instance's memory got.
pub(crate) struct MemoryLimiter {
    /// The cap on any one memory.
    max: usize,
    /// Whether a growth was refused.
    pub(crate) exceeded: bool,
    /// The instance's memories' sizes added up.
    total: usize,
    /// The largest `total` has been.
    peak: usize,
}

impl MemoryLimiter {
    /// A limiter capping each memory at `max` bytes, with nothing counted.
    pub(crate) fn new(max: usize) -> Self {
        MemoryLimiter {
            max,
            exceeded: false,
            total: 0,
            peak: 0,
        }
    }

    /// The largest the instance's memories have been together, in bytes.
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.exceeded = true;
            return Ok(false);
        }
        self.total = self.total.saturating_sub(current).saturating_add(desired);
        self.peak = self.peak.max(self.total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_adds_up_memories_and_ignores_refused_growth() {
        let mut l = MemoryLimiter::new(10 << 20);
        // Two memories created at their initial sizes.
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(l.memory_growing(0, 64 << 10, None).unwrap());
        assert_eq!(l.peak(), (1 << 20) + (64 << 10));
        // The first grows; then a growth past the cap is refused.
        assert!(l.memory_growing(1 << 20, 3 << 20, None).unwrap());
        assert!(!l.memory_growing(3 << 20, 11 << 20, None).unwrap());
        assert!(l.exceeded);
        assert_eq!(l.peak(), (3 << 20) + (64 << 10));
    }
}
