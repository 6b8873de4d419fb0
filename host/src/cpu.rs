//! CPU accounting for one call: the CPU time the guest's own code uses, and
//! nothing else, without a system call at every host call.
//!
//! Wasmtime's call hook reports every transition between host and guest
//! (`CallingWasm`, `ReturningFromHost` enter the guest; `ReturningFromWasm`,
//! `CallingHost` leave it). Each transition reads the wall clock (a vDSO call,
//! nanoseconds), and the meter adds up the wall time of each guest stretch.
//! The thread's CPU clock is a real system call (about 0.5 µs, and a
//! `collect` makes ~60 host calls), so it is read only when a *segment*
//! closes: at the first transition at least [`SEGMENT`] after the previous
//! read, at a transition on another OS thread than that read, and when the
//! budget or the total is asked for. A segment is charged the smaller of its
//! guest wall time `G` and the thread's CPU time over the segment `C`:
//! - never less than the guest's CPU time: guest code cannot suspend between
//!   two transitions (it can only leave through a host call), so each guest
//!   stretch runs on one thread and its CPU time is at most both its wall
//!   time and the thread's CPU time over the segment;
//! - never more than it by over [`SEGMENT`]: `C` exceeds the guest's CPU by
//!   the host's work inside the segment, and every stretch but the last one
//!   of a segment fits in [`SEGMENT`]; a segment that spans a move to another
//!   thread is charged `G`, made only of stretches before the move, which
//!   all fit in [`SEGMENT`] too.
//!
//! So, as before: not charged are time blocked in a host call (a pollable
//! wait, a slow server), time the call future spends suspended after an
//! epoch yield (the epoch check is itself a host call), time lifting results,
//! and (beyond that bound) time the OS gives the thread's core to someone
//! else. The epoch ticker only decides *when* the meter is looked at, not
//! what is charged, so a guest cannot hide work between ticks. Where the
//! thread clock is unavailable, a segment is charged its guest wall time
//! (never less than its CPU time).

use std::time::{Duration, Instant};

use wasmtime::CallHook;

/// The shortest span between two reads of the thread's CPU clock, except
/// when the thread changes or the total is asked for; also the bound on
/// what a segment may be overcharged.
const SEGMENT: Duration = Duration::from_micros(50);

/// Guest execution time of one call, against a budget.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    budget: Duration,
    /// Charged for closed segments.
    charged: Duration,
    /// The open segment (none before the first transition).
    segment: Option<Segment>,
    /// When the running guest stretch began, while the guest runs.
    guest_since: Option<Instant>,
}

/// The span since the last read of the thread's CPU clock.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// When the clock was read.
    wall: Instant,
    /// The thread's CPU time then (`None`: no thread clock).
    cpu: Option<Duration>,
    /// Which OS thread read it.
    thread: usize,
    /// Wall time of the guest stretches that ended within the segment.
    guest: Duration,
}

impl Segment {
    /// A segment starting now, on this thread.
    fn open(now: Instant) -> Segment {
        Segment {
            wall: now,
            cpu: thread_cpu_time(),
            thread: thread_mark(),
            guest: Duration::ZERO,
        }
    }

    /// What the segment costs when it ends now, with `running` more guest
    /// wall time still in progress, and the segment that follows it.
    fn close(self, now: Instant, running: Duration) -> (Duration, Segment) {
        let guest = self.guest + running;
        let next = Segment::open(now);
        let charge = match (self.cpu, next.cpu) {
            (Some(start), Some(end)) if self.thread == next.thread => {
                guest.min(end.saturating_sub(start))
            }
            _ => guest,
        };
        (charge, next)
    }
}

impl CpuMeter {
    /// A meter with nothing charged yet.
    pub(crate) fn new(budget: Duration) -> Self {
        CpuMeter {
            budget,
            charged: Duration::ZERO,
            segment: None,
            guest_since: None,
        }
    }

    /// Record one host/guest transition.
    pub(crate) fn transition(&mut self, hook: CallHook) {
        let now = Instant::now();
        if hook.exiting_host() {
            // Entering the guest. A nested entry keeps the earlier start, so
            // nothing is counted twice.
            if self.guest_since.is_some() {
                return;
            }
            self.guest_since = Some(now);
        } else {
            let Some(since) = self.guest_since.take() else {
                return;
            };
            if let Some(segment) = &mut self.segment {
                segment.guest += now.saturating_duration_since(since);
            }
        }
        match self.segment {
            None => self.segment = Some(Segment::open(now)),
            Some(segment)
                if now.saturating_duration_since(segment.wall) >= SEGMENT
                    || segment.thread != thread_mark() =>
            {
                let (charge, next) = segment.close(now, Duration::ZERO);
                self.charged += charge;
                self.segment = Some(next);
            }
            Some(_) => {}
        }
    }

    /// Guest time so far, including a stretch that is still running (one
    /// read of the thread's CPU clock).
    pub(crate) fn charged(&self) -> Duration {
        let Some(segment) = self.segment else {
            return self.charged;
        };
        let now = Instant::now();
        let running = self
            .guest_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        self.charged + segment.close(now, running).0
    }

    /// Whether the guest has run longer than its budget.
    pub(crate) fn over_budget(&self) -> bool {
        self.charged() > self.budget
    }
}

/// Tells OS threads apart: the address of a thread-local.
fn thread_mark() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| std::ptr::from_ref(m) as usize)
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

    #[test]
    fn work_between_many_short_host_calls_is_all_charged() {
        let mut m = CpuMeter::new(Duration::from_secs(10));
        m.transition(CallHook::CallingWasm);
        let start = thread_cpu_time().unwrap();
        // Segments that close amid short stretches still charge each one.
        for _ in 0..2_000 {
            burn(Duration::from_micros(5));
            m.transition(CallHook::CallingHost);
            m.transition(CallHook::ReturningFromHost);
        }
        burn(Duration::from_millis(5));
        m.transition(CallHook::ReturningFromWasm);
        let guest_cpu = thread_cpu_time().unwrap() - start;
        let charged = m.charged();
        // Never less than the guest's CPU time, minus the host calls' own
        // (the meter's work, done on this thread between stretches).
        assert!(charged >= Duration::from_millis(15), "{charged:?}");
        assert!(charged <= guest_cpu, "{charged:?} > {guest_cpu:?}");
    }

    #[test]
    fn a_move_to_another_thread_charges_nothing_of_that_thread() {
        let mut m = CpuMeter::new(Duration::from_secs(10));
        m.transition(CallHook::CallingWasm);
        m.transition(CallHook::CallingHost);
        let before = m.charged();
        // The call future resumes on a thread that has already used CPU
        // time of its own: its clock is no measure of this segment.
        let m = std::thread::spawn(move || {
            burn(Duration::from_millis(30));
            m.transition(CallHook::ReturningFromHost);
            m.transition(CallHook::ReturningFromWasm);
            m
        })
        .join()
        .unwrap();
        let after = m.charged();
        assert!(
            after - before < Duration::from_millis(5),
            "{before:?} then {after:?}"
        );
    }
}
