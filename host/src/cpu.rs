//! CPU accounting for one call: the CPU time the guest's own code uses, and
//! nothing else.
//!
//! Wasmtime's call hook reports every transition between host and guest
//! (`CallingWasm`, `ReturningFromHost` enter the guest; `ReturningFromWasm`,
//! `CallingHost` leave it). The meter adds up, for each stretch from an entry
//! to the next exit, the CPU time the thread used. Guest code cannot suspend
//! between two transitions (it can only leave through a host call), so each
//! stretch runs on one OS thread and that thread's CPU clock measures it
//! exactly. Not charged: time blocked in a host call (a pollable wait, a slow
//! server), time the call future spends suspended after an epoch yield (the
//! epoch check is itself a host call), time lifting results, and time the OS
//! gives the thread's core to someone else. The epoch ticker only decides
//! *when* the meter is looked at, not what is charged, so a guest cannot
//! hide work between ticks. Where the thread clock is unavailable, a stretch
//! is charged its wall-clock time instead (never less than its CPU time).

use std::time::{Duration, Instant};

use wasmtime::CallHook;

/// Guest execution time of one call, against a budget.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    budget: Duration,
    charged: Duration,
    /// When the running stretch began: wall clock, and thread CPU clock.
    running_since: Option<(Instant, Option<Duration>)>,
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
            // Entering the guest. A nested entry keeps the earlier start, so
            // nothing is counted twice.
            self.running_since
                .get_or_insert_with(|| (Instant::now(), thread_cpu_time()));
        } else if let Some(since) = self.running_since.take() {
            self.charged += stretch(since);
        }
    }

    /// Guest time so far, including a stretch that is still running.
    pub(crate) fn charged(&self) -> Duration {
        self.charged + self.running_since.map_or(Duration::ZERO, stretch)
    }

    /// Whether the guest has run longer than its budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.charged() > self.budget
    }
}

/// The cost of a stretch that began at `since` and ends now (on the same
/// thread).
fn stretch((wall, cpu): (Instant, Option<Duration>)) -> Duration {
    match (cpu, thread_cpu_time()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => wall.elapsed(),
    }
}

/// CPU time the calling thread has used.
#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spin until this thread has used `cpu` more CPU time.
    fn burn(cpu: Duration) {
        let start = thread_cpu_time().expect("thread CPU clock");
        while thread_cpu_time().unwrap() - start < cpu {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn only_cpu_used_inside_the_guest_is_charged() {
        let mut m = CpuMeter::new(Duration::from_millis(15));
        m.transition(CallHook::CallingWasm);
        burn(Duration::from_millis(10));
        m.transition(CallHook::CallingHost);
        let inside = m.charged();
        assert!(inside >= Duration::from_millis(10), "{inside:?}");
        // Blocked in the host: not charged at all.
        burn(Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(m.charged(), inside);
        // Inside the guest but not on a CPU (the thread sleeps): not CPU.
        m.transition(CallHook::ReturningFromHost);
        std::thread::sleep(Duration::from_millis(50));
        m.transition(CallHook::CallingHost);
        assert!(
            m.charged() - inside < Duration::from_millis(25),
            "{:?}",
            m.charged()
        );
        m.transition(CallHook::ReturningFromHost);
        burn(Duration::from_millis(10));
        m.transition(CallHook::ReturningFromWasm);
        assert!(m.charged() >= Duration::from_millis(20));
        assert!(m.over_budget());
    }
}
