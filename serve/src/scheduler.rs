//! The scrape loops: one task per target, started, run and drained here.
//!
//! Invariants: a target's scrapes never overlap (its loop awaits each one
//! before scheduling the next, skipping ticks it missed rather than
//! bursting); at most `concurrency` scrapes run at once across all targets
//! (one global semaphore, a permit held only for the scrape itself); a slow
//! or hung target holds at most one permit, for at most its own budget, so
//! it cannot delay any other target while permits remain. Each loop starts
//! at a random phase within its interval (jitter), so a fleet added at once
//! is not scraped in one burst.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use crate::collect::{self, Failure};
use crate::config::TargetSpec;
use crate::history;
use crate::state::Service;
use crate::targets::{Entry, Refused, Rules};

/// Register (or replace) a target within the service's rules and start its
/// scrape loop. Returns whether it replaced one.
pub fn start(service: &Arc<Service>, spec: TargetSpec) -> Result<bool, Refused> {
    let (entry, replaced) = service.targets.put(spec, rules(service))?;
    tokio::spawn(run(service.clone(), entry));
    Ok(replaced)
}

/// The registry's rules under the service's settings.
pub fn rules(service: &Service) -> Rules {
    Rules {
        max_targets: service.settings.max_targets,
        protect_configured: !service.settings.api_edits_configured,
    }
}

/// Stop every scrape loop and wait up to `deadline` for scrapes in flight
/// to finish. True if they all did.
pub async fn drain(service: &Service, deadline: Duration) -> bool {
    service.targets.stop_all();
    let all = u32::try_from(
        service
            .settings
            .concurrency
            .clamp(1, Semaphore::MAX_PERMITS),
    )
    .unwrap_or(u32::MAX);
    tokio::time::timeout(deadline, service.scrape_permits.acquire_many(all))
        .await
        .is_ok_and(|p| p.is_ok())
}

async fn run(service: Arc<Service>, entry: Arc<Entry>) {
    let mut stop = entry.stop.subscribe();
    let interval = entry.spec.interval;
    let mut next = tokio::time::Instant::now() + phase(&entry.spec.id, interval);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let permits: Arc<Semaphore> = service.scrape_permits.clone();
        let permit = tokio::select! {
            p = permits.acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        if *stop.borrow() {
            return;
        }
        scrape(&service, &entry).await;
        drop(permit);
        let now = tokio::time::Instant::now();
        next += interval;
        if next <= now {
            // Missed ticks are skipped; the phase is kept.
            let behind = now.duration_since(next).as_nanos() / interval.as_nanos().max(1);
            next += interval * (u32::try_from(behind).unwrap_or(u32::MAX - 1) + 1);
        }
    }
}

/// A random offset in `[0, interval)`.
fn phase(id: &str, interval: Duration) -> Duration {
    let r = std::hash::RandomState::new().hash_one((id, SystemTime::now()));
    interval.mul_f64((r >> 11) as f64 / (1u64 << 53) as f64)
}

/// One scrape of `entry`, recorded in its health.
pub async fn scrape(service: &Service, entry: &Entry) {
    let spec = &entry.spec;
    let request = collect::Request {
        engine: spec.engine.clone(),
        instance_id: spec.id.clone(),
        endpoint: spec.url.clone(),
        timeout: spec.timeout,
        headers: spec
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.0.clone()))
            .collect(),
        max_body_bytes: service.settings.max_body_bytes,
    };
    let started = Instant::now();
    let started_at = SystemTime::now();
    entry
        .health
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .last_attempt = Some(started_at);
    let result = if spec.from_api {
        // Added by a caller: the allow-list is checked on every scrape, so a
        // name that later resolves elsewhere is refused.
        collect::adhoc(&service.plugin, &service.allow_list(), &request).await
    } else {
        collect::configured(&service.plugin, &request).await
    };
    let elapsed = started.elapsed();
    if let Err(failure) = &result {
        log(spec.id.as_str(), &spec.url, failure, elapsed);
    }
    // Committed before it is shown: a success the API reports is in the
    // history. A snapshot that cannot be stored is a failed scrape (kind
    // `store`); the last committed snapshot stays the one served.
    let not_stored = match &service.history {
        Some(store) => history::record(store, &spec.id, started_at, elapsed, &result).await,
        None => None,
    };
    let mut h = entry.health.lock().unwrap_or_else(|e| e.into_inner());
    h.scrapes += 1;
    h.last_duration = Some(elapsed);
    match result {
        Ok(_) if not_stored.is_some() => {
            h.consecutive_failures += 1;
            h.last_error_kind = Some(history::STORE_ERROR_KIND);
            h.last_error = not_stored;
            *h.errors_by_kind
                .entry(history::STORE_ERROR_KIND)
                .or_default() += 1;
        }
        Ok(snapshot) => {
            h.last_success = Some(SystemTime::now());
            h.last_success_at = Some(Instant::now());
            h.consecutive_failures = 0;
            h.last_error_kind = None;
            h.last_error = None;
            *entry.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
        }
        Err(failure) => {
            h.consecutive_failures += 1;
            h.last_error_kind = Some(failure.kind());
            h.last_error = Some(failure.to_string());
            *h.errors_by_kind.entry(failure.kind()).or_default() += 1;
        }
    }
}

/// One line per failed scrape. Header values are never logged; every
/// field is written escaped (`?`), so no input can start a line of its own.
fn log(id: &str, url: &str, failure: &Failure, elapsed: Duration) {
    tracing::warn!(
        target_id = ?id,
        url = ?url,
        error_kind = failure.kind(),
        error = ?failure.to_string(),
        duration_ms = elapsed.as_millis() as u64,
        "scrape failed"
    );
}
