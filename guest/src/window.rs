//! Windows: what happened between two snapshots of one server.
//!
//! Guarantees: a window is computed from the two snapshots alone, with
//! Prometheus' semantics. A counter's increase is `later - earlier`, or, when
//! it went down (a reset, as `rate()` takes it), its later value; when the
//! incarnation markers show a restart (process start time changed, or the
//! earliest `_created` moved forward) every counter is taken to have restarted
//! from 0. Rates are increases divided by the window's length: exactly
//! `rate(x[w])` over a range holding these two samples at its edges, where
//! Prometheus does not extrapolate. Windowed quantiles are
//! `histogram_quantile(q, rate(x_bucket[w]))`: per-bucket increases (each with
//! its own reset rule), then [`histogram_quantile`]. A figure either snapshot
//! lacks is `None`, never 0; snapshots that cannot be compared (other engine,
//! other instance, changed bucket bounds, not later) are a [`WindowError`].
//!
//! A window is computed in two steps, the one implementation of this
//! arithmetic: [`increase`] (the reset rules, per counter and per bucket,
//! giving an [`Increment`]), then [`finish`] (rates, means and quantiles).
//! Increments of consecutive spans [`Increment::add`] up, so the window
//! over a range of stored increments is `finish` of their sum.

use std::fmt;

use llm_metrics_contract::totals_fields;

use crate::distribution::from_histogram;
use crate::snapshot::{
    Distribution, EngineField, EngineGroup, EngineSnapshot, Incarnation, LabeledValue, Latency,
    MetricValue, Totals,
};

mod increment;
mod sum;
pub use increment::{
    DistIncrease, FieldIncrease, GroupIncrease, Increment, LatencyIncrease, ValueIncrease, increase,
};

/// `Totals` of per-second rates, one per field of the contract's list:
/// `rate(t.requests_succeeded)`, ….
macro_rules! rate_each {
    (($rate:ident, $a:ident) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        Totals { $( $field: $rate($a.$field), )* }
    };
}

/// One side of a window: a snapshot and when it was collected.
#[derive(Clone, Copy, Debug)]
pub struct Point<'s> {
    /// The instance id the snapshot reports.
    pub instance_id: &'s str,
    /// The engine id the snapshot reports.
    pub engine: &'s str,
    /// When the body was received, milliseconds since the Unix epoch.
    pub collected_at_ms: u64,
    /// Cumulative totals.
    pub totals: &'s Totals,
    /// Cumulative latency distributions.
    pub latency: &'s Latency,
    /// Engine-specific detail.
    pub engine_metrics: &'s [EngineGroup],
    /// The incarnation markers.
    pub incarnation: Incarnation,
}

impl<'s> Point<'s> {
    /// A point from a mapped snapshot.
    pub fn of(snapshot: &'s EngineSnapshot, instance_id: &'s str, collected_at_ms: u64) -> Self {
        Point {
            instance_id,
            engine: snapshot.engine,
            collected_at_ms,
            totals: &snapshot.totals,
            latency: &snapshot.latency,
            engine_metrics: &snapshot.engine_metrics,
            incarnation: snapshot.incarnation,
        }
    }
}

/// A window between two snapshots (see the module guarantees).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// The instance both snapshots come from.
    pub instance_id: String,
    /// The engine both snapshots report.
    pub engine: String,
    /// The earlier snapshot's collection time (ms since the epoch).
    pub start_ms: u64,
    /// The later snapshot's collection time (ms since the epoch).
    pub end_ms: u64,
    /// `(end_ms - start_ms) / 1000`.
    pub seconds: f64,
    /// A restart or counter reset was seen.
    pub restarted: bool,
    /// The evidence, one line each (e.g. `totals.prompt_tokens 2060000 -> 120`).
    pub resets: Vec<String>,
    /// Per-second rates of the totals.
    pub rates: Totals,
    /// Distributions over the window (count and sum are increases).
    pub latency: Latency,
    /// Counter rates and windowed distributions of engine-specific fields.
    pub engine_metrics: Vec<EngineGroup>,
}

/// Why two snapshots give no window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// Different engine ids (earlier, later).
    DifferentEngines(String, String),
    /// Different instance ids (earlier, later).
    DifferentInstances(String, String),
    /// A distribution's bucket bounds differ; names it.
    BucketLayoutChanged(String),
    /// `later` was not collected after `earlier` (earlier ms, later ms).
    NotLater(u64, u64),
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowError::DifferentEngines(a, b) => write!(f, "different engines: {a} and {b}"),
            WindowError::DifferentInstances(a, b) => {
                write!(f, "different instances: {a} and {b}")
            }
            WindowError::BucketLayoutChanged(name) => {
                write!(f, "bucket layout changed: {name} has other bounds")
            }
            WindowError::NotLater(a, b) => write!(
                f,
                "not later: the later snapshot ({b} ms) was not collected after the earlier ({a} ms)"
            ),
        }
    }
}

impl std::error::Error for WindowError {}

/// The window from `earlier` to `later`: [`finish`] of their [`increase`].
///
/// # Errors
/// [`WindowError`] when the snapshots are of different engines or
/// instances, `later` is not later, or a distribution's bucket bounds changed.
pub fn window(earlier: &Point<'_>, later: &Point<'_>) -> Result<Window, WindowError> {
    Ok(finish(&increase(earlier, later)?))
}

/// The window an increment stands for: increases divided by its span's
/// length, distributions (count and sum increases) with quantiles from
/// the bucket increases. A zero-length span has no rates (`None`).
pub fn finish(inc: &Increment) -> Window {
    let seconds = inc.end_ms.saturating_sub(inc.start_ms) as f64 / 1000.0;
    let rate = |v: Option<f64>| v.filter(|_| seconds > 0.0).map(|v| v / seconds);
    let t = &inc.totals;
    let rates = totals_fields!(rate_each!(rate, t));
    let l = &inc.latency;
    let latency = Latency {
        time_to_first_token_seconds: finish_dist(l.time_to_first_token_seconds.as_ref()),
        inter_token_latency_seconds: finish_dist(l.inter_token_latency_seconds.as_ref()),
        e2e_request_latency_seconds: finish_dist(l.e2e_request_latency_seconds.as_ref()),
        queue_time_seconds: finish_dist(l.queue_time_seconds.as_ref()),
    };
    Window {
        instance_id: inc.instance_id.clone(),
        engine: inc.engine.clone(),
        start_ms: inc.start_ms,
        end_ms: inc.end_ms,
        seconds,
        restarted: inc.restarted,
        resets: inc.resets.clone(),
        rates,
        latency,
        engine_metrics: finish_groups(&inc.engine_metrics, seconds),
    }
}

/// A distribution over a window from its increase: a summary's quantiles
/// cover its own window, not ours, so it keeps count, sum and mean only.
fn finish_dist(d: Option<&DistIncrease>) -> Option<Distribution> {
    let d = d?;
    if d.buckets.is_empty() {
        return Some(Distribution {
            count: d.count,
            sum: d.sum,
            mean: (d.count > 0.0).then(|| d.sum / d.count),
            p50: None,
            p90: None,
            p99: None,
            p50_bucket: None,
            p90_bucket: None,
            p99_bucket: None,
            buckets: Vec::new(),
        });
    }
    from_histogram(&d.buckets, Some(d.count), Some(d.sum))
}

/// Counter rates and windowed distributions of engine-specific increases,
/// in their order; groups left without a field are dropped.
fn finish_groups(groups: &[GroupIncrease], seconds: f64) -> Vec<EngineGroup> {
    let per_second = |v: f64| (seconds > 0.0).then(|| v / seconds);
    groups
        .iter()
        .filter_map(|g| {
            let fields: Vec<EngineField> = g
                .fields
                .iter()
                .filter_map(|f| {
                    let value = match &f.value {
                        ValueIncrease::Number(v) => per_second(*v).map(MetricValue::Number),
                        ValueIncrease::ByLabel(label, values) => {
                            let rates: Option<Vec<LabeledValue>> = values
                                .iter()
                                .map(|v| {
                                    Some(LabeledValue {
                                        key: v.key.clone(),
                                        value: per_second(v.value)?,
                                    })
                                })
                                .collect();
                            rates.map(|r| MetricValue::ByLabel(label.clone(), r))
                        }
                        ValueIncrease::Distribution(d) => {
                            finish_dist(Some(d)).map(MetricValue::Distribution)
                        }
                    }?;
                    Some(EngineField {
                        name: f.name.clone(),
                        metric: f.metric.clone(),
                        value,
                        counter: f.counter,
                    })
                })
                .collect();
            (!fields.is_empty()).then(|| EngineGroup {
                name: g.name.clone(),
                fields,
            })
        })
        .collect()
}
