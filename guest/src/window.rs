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

use std::fmt;

use llm_metrics_contract::totals_fields;

use crate::distribution::{Bucket, from_histogram};
use crate::snapshot::{
    Distribution, EngineField, EngineGroup, EngineSnapshot, Incarnation, LabeledValue, Latency,
    MetricValue, Totals,
};

/// `Totals` of per-second rates, one per field of the contract's list:
/// `rate("requests_succeeded", a.requests_succeeded, b.requests_succeeded)`, ….
macro_rules! rate_each {
    (($rate:ident, $a:ident, $b:ident) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        Totals { $( $field: $rate(stringify!($field), $a.$field, $b.$field), )* }
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

/// Increases with Prometheus' reset rule, recording the evidence.
struct Deltas {
    /// The incarnation changed: every counter restarted from 0.
    restarted: bool,
    resets: Vec<String>,
}

impl Deltas {
    /// The increase of a counter from `a` to `b`; `None` unless both exist
    /// and the result is a number. A decrease is a reset (noted as `what`).
    fn inc(&mut self, what: &str, a: Option<f64>, b: Option<f64>) -> Option<f64> {
        let (a, b) = (a?, b?);
        let d = if self.restarted {
            b
        } else if b < a {
            self.resets.push(format!("{what} {a} -> {b}"));
            b
        } else {
            b - a
        };
        (!d.is_nan()).then_some(d)
    }

    /// A distribution over the window, or `None` unless both sides have it.
    fn dist(
        &mut self,
        what: &str,
        a: Option<&Distribution>,
        b: Option<&Distribution>,
    ) -> Result<Option<Distribution>, WindowError> {
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(None);
        };
        let same_bounds = a.buckets.len() == b.buckets.len()
            && a.buckets.iter().zip(&b.buckets).all(|(x, y)| x.le == y.le);
        if !same_bounds {
            return Err(WindowError::BucketLayoutChanged(what.to_string()));
        }
        let count = self.inc(&format!("{what} count"), Some(a.count), Some(b.count));
        let sum = self.inc(&format!("{what} sum"), Some(a.sum), Some(b.sum));
        let (Some(count), Some(sum)) = (count, sum) else {
            return Ok(None);
        };
        if b.buckets.is_empty() {
            // A summary: its quantiles cover its own window, not ours.
            return Ok(Some(Distribution {
                count,
                sum,
                mean: (count > 0.0).then(|| sum / count),
                p50: None,
                p90: None,
                p99: None,
                p50_bucket: None,
                p90_bucket: None,
                p99_bucket: None,
                buckets: Vec::new(),
            }));
        }
        let mut went_down = false;
        let deltas: Vec<Bucket> = a
            .buckets
            .iter()
            .zip(&b.buckets)
            .map(|(x, y)| {
                went_down |= !self.restarted && y.count < x.count;
                let count = if self.restarted || y.count < x.count {
                    y.count
                } else {
                    y.count - x.count
                };
                Bucket { le: y.le, count }
            })
            .collect();
        if went_down {
            self.resets.push(format!("{what} buckets went down"));
        }
        Ok(from_histogram(&deltas, Some(count), Some(sum)))
    }
}

/// The window from `earlier` to `later`.
///
/// # Errors
/// [`WindowError`] when the snapshots are of different engines or
/// instances, `later` is not later, or a distribution's bucket bounds changed.
pub fn window(earlier: &Point<'_>, later: &Point<'_>) -> Result<Window, WindowError> {
    if earlier.engine != later.engine {
        return Err(WindowError::DifferentEngines(
            earlier.engine.into(),
            later.engine.into(),
        ));
    }
    if earlier.instance_id != later.instance_id {
        return Err(WindowError::DifferentInstances(
            earlier.instance_id.into(),
            later.instance_id.into(),
        ));
    }
    if later.collected_at_ms <= earlier.collected_at_ms {
        return Err(WindowError::NotLater(
            earlier.collected_at_ms,
            later.collected_at_ms,
        ));
    }
    let seconds = (later.collected_at_ms - earlier.collected_at_ms) as f64 / 1000.0;
    let mut resets = Vec::new();
    let (ia, ib) = (earlier.incarnation, later.incarnation);
    if let (Some(a), Some(b)) = (ia.process_start_time_seconds, ib.process_start_time_seconds)
        && a != b
    {
        resets.push(format!("process_start_time_seconds {a} -> {b}"));
    }
    if let (Some(a), Some(b)) = (ia.created_seconds, ib.created_seconds)
        && b > a
    {
        resets.push(format!("earliest _created {a} -> {b}"));
    }
    let mut d = Deltas {
        restarted: !resets.is_empty(),
        resets,
    };
    let (ta, tb) = (earlier.totals, later.totals);
    let mut rate = |what: &str, a: Option<f64>, b: Option<f64>| {
        d.inc(&format!("totals.{what}"), a, b).map(|v| v / seconds)
    };
    let rates = totals_fields!(rate_each!(rate, ta, tb));
    let (la, lb) = (earlier.latency, later.latency);
    let latency = Latency {
        time_to_first_token_seconds: d.dist(
            "latency.time_to_first_token_seconds",
            la.time_to_first_token_seconds.as_ref(),
            lb.time_to_first_token_seconds.as_ref(),
        )?,
        inter_token_latency_seconds: d.dist(
            "latency.inter_token_latency_seconds",
            la.inter_token_latency_seconds.as_ref(),
            lb.inter_token_latency_seconds.as_ref(),
        )?,
        e2e_request_latency_seconds: d.dist(
            "latency.e2e_request_latency_seconds",
            la.e2e_request_latency_seconds.as_ref(),
            lb.e2e_request_latency_seconds.as_ref(),
        )?,
        queue_time_seconds: d.dist(
            "latency.queue_time_seconds",
            la.queue_time_seconds.as_ref(),
            lb.queue_time_seconds.as_ref(),
        )?,
    };
    let engine_metrics = engine_groups(
        &mut d,
        earlier.engine_metrics,
        later.engine_metrics,
        seconds,
    )?;
    Ok(Window {
        instance_id: later.instance_id.to_string(),
        engine: later.engine.to_string(),
        start_ms: earlier.collected_at_ms,
        end_ms: later.collected_at_ms,
        seconds,
        restarted: d.restarted || !d.resets.is_empty(),
        resets: d.resets,
        rates,
        latency,
        engine_metrics,
    })
}

/// Counter rates and windowed distributions of the fields both sides carry
/// (same group, name and metric), in the later snapshot's order.
fn engine_groups(
    d: &mut Deltas,
    earlier: &[EngineGroup],
    later: &[EngineGroup],
    seconds: f64,
) -> Result<Vec<EngineGroup>, WindowError> {
    let mut out = Vec::new();
    for gb in later {
        let Some(ga) = earlier.iter().find(|g| g.name == gb.name) else {
            continue;
        };
        let mut fields = Vec::new();
        for fb in &gb.fields {
            let Some(fa) = ga.field(&fb.name).filter(|fa| fa.metric == fb.metric) else {
                continue;
            };
            let what = format!("engine_metrics.{}.{}", gb.name, fb.name);
            let value = match (&fa.value, &fb.value) {
                (MetricValue::Number(a), MetricValue::Number(b)) if fb.counter => d
                    .inc(&what, Some(*a), Some(*b))
                    .map(|v| MetricValue::Number(v / seconds)),
                (MetricValue::ByLabel(la, va), MetricValue::ByLabel(lb, vb))
                    if fb.counter && la == lb =>
                {
                    let rates: Vec<LabeledValue> = vb
                        .iter()
                        .filter_map(|b| {
                            let a = va.iter().find(|a| a.key == b.key)?;
                            let what = format!("{what}{{{}}}", b.key);
                            let v = d.inc(&what, Some(a.value), Some(b.value))?;
                            Some(LabeledValue {
                                key: b.key.clone(),
                                value: v / seconds,
                            })
                        })
                        .collect();
                    (!rates.is_empty()).then(|| MetricValue::ByLabel(lb.clone(), rates))
                }
                (MetricValue::Distribution(a), MetricValue::Distribution(b)) => d
                    .dist(&what, Some(a), Some(b))?
                    .map(MetricValue::Distribution),
                _ => None,
            };
            if let Some(value) = value {
                fields.push(EngineField {
                    name: fb.name.clone(),
                    metric: fb.metric.clone(),
                    value,
                    counter: fb.counter,
                });
            }
        }
        if !fields.is_empty() {
            out.push(EngineGroup {
                name: gb.name.clone(),
                fields,
            });
        }
    }
    Ok(out)
}
