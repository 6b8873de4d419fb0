//! The target registry: each target's definition, latest snapshot and
//! health, and the handle of its scrape loop.
//!
//! Invariant: a target id maps to at most one entry and one running loop;
//! replacing or removing an entry stops its old loop (a scrape in flight
//! finishes, but its result is recorded only on the entry it belongs to).
//! Health is updated only by that entry's own loop, so scrapes of one target
//! are recorded in order. The registry never holds more than its cap of
//! entries, and (unless the operator allows it) an entry from the config
//! file is never replaced or removed by one from the API; both are checked
//! under the registry's lock, so concurrent `PUT`s cannot pass them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use llm_metrics_host::wit::mapper::Snapshot;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::TargetSpec;

/// A target is stale after this many intervals without a success.
pub const STALE_INTERVALS: u32 = 3;

/// A target's scrape health.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// When the last scrape started.
    pub last_attempt: Option<SystemTime>,
    /// When the last successful scrape finished.
    pub last_success: Option<SystemTime>,
    /// Monotonic time of the last success, for ages.
    pub last_success_at: Option<Instant>,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// The kind of the last failure, if the last scrape failed.
    pub last_error_kind: Option<&'static str>,
    /// The message of the last failure.
    pub last_error: Option<String>,
    /// How long the last scrape took.
    pub last_duration: Option<Duration>,
    /// Scrapes so far.
    pub scrapes: u64,
    /// Failures so far, by kind.
    pub errors_by_kind: BTreeMap<&'static str, u64>,
}

/// One registered target.
pub struct Entry {
    /// Its definition.
    pub spec: TargetSpec,
    /// When it was registered (a target never scraped is stale after
    /// [`STALE_INTERVALS`] intervals from here).
    pub added_at: Instant,
    /// Health.
    pub health: Mutex<Health>,
    /// The latest successful snapshot.
    pub snapshot: Mutex<Option<Arc<Snapshot>>>,
    /// Tells its loop to stop.
    pub stop: watch::Sender<bool>,
}

impl Entry {
    /// A fresh entry for `spec`.
    pub fn new(spec: TargetSpec) -> Arc<Self> {
        Arc::new(Entry {
            spec,
            added_at: Instant::now(),
            health: Mutex::new(Health::default()),
            snapshot: Mutex::new(None),
            stop: watch::channel(false).0,
        })
    }

    /// A copy of the health.
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// No success within [`STALE_INTERVALS`] intervals.
    pub fn is_stale(&self, health: &Health, now: Instant) -> bool {
        let since = health.last_success_at.unwrap_or(self.added_at);
        now.saturating_duration_since(since) > self.spec.interval.saturating_mul(STALE_INTERVALS)
    }

    /// The API view: definition (header names only) and health.
    pub fn view(&self, with_snapshot: bool) -> Value {
        let h = self.health();
        let now = Instant::now();
        let ts = |t: Option<SystemTime>| t.map(rfc3339);
        let mut v = json!({
            "id": self.spec.id,
            "url": self.spec.url,
            "engine": self.spec.engine,
            "interval": self.spec.interval.as_secs_f64(),
            "timeout": self.spec.timeout.as_secs_f64(),
            "labels": self.spec.labels,
            "header_names": self.spec.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "health": {
                "last_attempt": ts(h.last_attempt),
                "last_success": ts(h.last_success),
                "age_seconds": h.last_success_at.map(|t| now.saturating_duration_since(t).as_secs_f64()),
                "consecutive_failures": h.consecutive_failures,
                "last_error_kind": h.last_error_kind,
                "last_error": h.last_error,
                "last_duration_seconds": h.last_duration.map(|d| d.as_secs_f64()),
                "scrapes": h.scrapes,
                "stale": self.is_stale(&h, now),
            },
        });
        if with_snapshot {
            v["metrics"] = self
                .snapshot()
                .map_or(Value::Null, |s| llm_metrics_host::json::snapshot(&s));
        }
        v
    }
}

/// What a change to the registry must respect.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The most entries at once.
    pub max_targets: usize,
    /// Entries from the config file may not be replaced or removed by the
    /// API.
    pub protect_configured: bool,
}

/// Why the registry refused a change.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The registry is full.
    #[error("this service keeps at most {0} targets (--max-targets); delete one first")]
    Full(usize),
    /// The target comes from the config file.
    #[error(
        "target `{0}` comes from the config file; the API may not replace or delete it \
         (--api-edits-configured allows it)"
    )]
    Configured(String),
}

/// All targets, by id.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<BTreeMap<String, Arc<Entry>>>,
}

impl Registry {
    /// Insert or replace within `rules`; returns the new entry and whether
    /// it replaced one (whose loop is told to stop).
    pub fn put(&self, spec: TargetSpec, rules: Rules) -> Result<(Arc<Entry>, bool), Refused> {
        let mut entries = self.lock();
        check_put(&entries, &spec, rules)?;
        let entry = Entry::new(spec);
        let old = entries.insert(entry.spec.id.clone(), entry.clone());
        if let Some(old) = &old {
            old.stop.send_replace(true);
        }
        Ok((entry, old.is_some()))
    }

    /// Whether [`Registry::put`] of `spec` would pass `rules` now (the
    /// same check; a caller that serializes its changes can act on it
    /// before putting).
    pub fn admits(&self, spec: &TargetSpec, rules: Rules) -> Result<(), Refused> {
        check_put(&self.lock(), spec, rules)
    }

    /// Whether [`Registry::remove`] of `id` would pass `rules` now: `Ok`
    /// with whether there is such an entry.
    pub fn removable(&self, id: &str, rules: Rules) -> Result<bool, Refused> {
        let entries = self.lock();
        check_remove(&entries, id, rules)?;
        Ok(entries.contains_key(id))
    }

    /// Remove `id` (an API request) and stop its loop; false if there was
    /// none.
    pub fn remove(&self, id: &str, rules: Rules) -> Result<bool, Refused> {
        let mut entries = self.lock();
        check_remove(&entries, id, rules)?;
        Ok(match entries.remove(id) {
            Some(old) => {
                old.stop.send_replace(true);
                true
            }
            None => false,
        })
    }

    /// The entry for `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.lock().get(id).cloned()
    }

    /// Every entry, by id.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        self.lock().values().cloned().collect()
    }

    /// Stop every loop (shutdown).
    pub fn stop_all(&self) {
        for e in self.lock().values() {
            e.stop.send_replace(true);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The registry's rules for putting `spec` into `entries`.
fn check_put(
    entries: &BTreeMap<String, Arc<Entry>>,
    spec: &TargetSpec,
    rules: Rules,
) -> Result<(), Refused> {
    match entries.get(&spec.id) {
        Some(old) if rules.protect_configured && spec.from_api && !old.spec.from_api => {
            Err(Refused::Configured(spec.id.clone()))
        }
        None if entries.len() >= rules.max_targets => Err(Refused::Full(rules.max_targets)),
        _ => Ok(()),
    }
}

/// The registry's rules for removing `id` from `entries` (an API request).
fn check_remove(
    entries: &BTreeMap<String, Arc<Entry>>,
    id: &str,
    rules: Rules,
) -> Result<(), Refused> {
    if rules.protect_configured && entries.get(id).is_some_and(|e| !e.spec.from_api) {
        return Err(Refused::Configured(id.to_string()));
    }
    Ok(())
}

/// `t` in RFC 3339 UTC with milliseconds (the contract's one writer).
pub fn rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    llm_metrics_host::json::timestamp(ms)
}
