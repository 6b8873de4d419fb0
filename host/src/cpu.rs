//! CPU accounting for one call: the time the guest's own code runs, and
//! nothing else.
//!
//! Wasmtime's call hook reports every transition between host and guest
//! (`CallingWasm`, `ReturningFromHost` enter the guest; `ReturningFromWasm`,
//! `CallingHost` leave it). The meter adds up the time between an entry and
//! the next exit. Time blocked in a host call (a pollable wait, a slow
//! server), time the call future spends suspended after an epoch yield (the
//! epoch check is itself a host call), and time lifting results are never
//! charged. The epoch ticker only decides *when* the meter is looked at, not
//! what is charged, so a guest cannot hide work between ticks.

use std::time::{Duration, Instant};

use wasmtime::CallHook;

/// Guest execution time of one call, against a budget.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    budget: Duration,
    charged: Duration,
    running_since: Option<Instant>,
}

impl CpuMeter {
    /// A meter with nothing charged yet.
    pub(crate) fn new(budget: Duration) -> Self {
        CpuMeter {
            budget,
            charged: Duration::ZERO,
            running_since: None,
        }
    }

    /// Record one host/guest transition.
    pub(crate) fn transition(&mut self, hook: CallHook) {
        if hook.exiting_host() {
            // Entering the guest. A nested entry (host calling wasm again)
            // keeps the earlier start, so nothing is counted twice.
            self.running_since.get_or_insert_with(Instant::now);
        } else if let Some(since) = self.running_since.take() {
            self.charged += since.elapsed();
        }
    }

    /// Guest time so far, including a stretch that is still running.
    pub(crate) fn charged(&self) -> Duration {
        self.charged + self.running_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Whether the guest has run longer than its budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.charged() > self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_time_inside_the_guest_is_charged() {
        let mut m = CpuMeter::new(Duration::from_millis(15));
        m.transition(CallHook::CallingWasm);
        std::thread::sleep(Duration::from_millis(10));
        m.transition(CallHook::CallingHost);
        let inside = m.charged();
        assert!(inside >= Duration::from_millis(10), "{inside:?}");
        // Blocked in the host: not charged.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(m.charged(), inside);
        m.transition(CallHook::ReturningFromHost);
        std::thread::sleep(Duration::from_millis(10));
        m.transition(CallHook::ReturningFromWasm);
        assert!(m.charged() >= Duration::from_millis(20));
        assert!(m.over_budget());
    }
}
