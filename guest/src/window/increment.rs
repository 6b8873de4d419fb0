//! Increments: what every counter and bucket of one server gained between
//! two snapshots, before anything is divided by time.
//!
//! Invariant: [`increase`] applies the reset and restart rules once, per
//! counter and per bucket (a decrease is a reset and counts the later
//! value; a changed incarnation restarts every counter from 0), and keeps
//! the evidence. Adding increments is `sum`'s. Nothing here divides by
//! time or interpolates: that is [`super::finish`].

use llm_metrics_contract::totals_fields;

use super::{Point, WindowError};
use crate::distribution::Bucket;
use crate::snapshot::{Distribution, EngineGroup, LabeledValue, MetricValue, Totals};

/// `Totals` of increases: `inc("requests_succeeded", a.requests_succeeded,
/// b.requests_succeeded)`, ….
macro_rules! inc_each {
    (($inc:ident, $a:ident, $b:ident) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        Totals { $( $field: $inc(stringify!($field), $a.$field, $b.$field), )* }
    };
}

/// A histogram's (or summary's) increase.
#[derive(Clone, Debug, PartialEq)]
pub struct DistIncrease {
    /// Observations added.
    pub count: f64,
    /// Their sum.
    pub sum: f64,
    /// Per bucket (same `le` as the snapshots'), the increase of its
    /// cumulative count; empty for a summary.
    pub buckets: Vec<Bucket>,
}

/// Latency increases, one per distribution of `Latency`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyIncrease {
    /// Time to first token.
    pub time_to_first_token_seconds: Option<DistIncrease>,
    /// Time between output tokens.
    pub inter_token_latency_seconds: Option<DistIncrease>,
    /// Whole-request latency.
    pub e2e_request_latency_seconds: Option<DistIncrease>,
    /// Time spent queued.
    pub queue_time_seconds: Option<DistIncrease>,
}

/// The increase of an engine-specific counter or distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueIncrease {
    /// A counter's increase.
    Number(f64),
    /// Per label value (keys sorted), each counter's increase; the string
    /// names the label.
    ByLabel(String, Vec<LabeledValue>),
    /// A distribution's increase.
    Distribution(DistIncrease),
}

/// One engine-specific field's increase.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldIncrease {
    /// Field name.
    pub name: String,
    /// The exposed metric it was read from.
    pub metric: String,
    /// Whether the metric is a counter.
    pub counter: bool,
    /// The increase.
    pub value: ValueIncrease,
}

/// A group of engine-specific increases.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupIncrease {
    /// Group name.
    pub name: String,
    /// Fields both sides carry, in the later snapshot's order.
    pub fields: Vec<FieldIncrease>,
}

/// What one instance's counters gained from `start_ms` to `end_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Increment {
    /// The instance.
    pub instance_id: String,
    /// Its engine.
    pub engine: String,
    /// The span's start (ms since the epoch).
    pub start_ms: u64,
    /// The span's end (ms since the epoch).
    pub end_ms: u64,
    /// A restart or counter reset was seen in the span.
    pub restarted: bool,
    /// The evidence, one line each, oldest first.
    pub resets: Vec<String>,
    /// Increases of the totals.
    pub totals: Totals,
    /// Increases of the latency distributions.
    pub latency: LatencyIncrease,
    /// Increases of engine-specific counters and distributions.
    pub engine_metrics: Vec<GroupIncrease>,
}

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

    /// A distribution's increase, or `None` unless both sides have it.
    fn dist(
        &mut self,
        what: &str,
        a: Option<&Distribution>,
        b: Option<&Distribution>,
    ) -> Result<Option<DistIncrease>, WindowError> {
        let (Some(a), Some(b)) = (a, b) else {
            return Ok(None);
        };
        if !same_bounds(&a.buckets, &b.buckets) {
            return Err(WindowError::BucketLayoutChanged(what.to_string()));
        }
        let count = self.inc(&format!("{what} count"), Some(a.count), Some(b.count));
        let sum = self.inc(&format!("{what} sum"), Some(a.sum), Some(b.sum));
        let (Some(count), Some(sum)) = (count, sum) else {
            return Ok(None);
        };
        let mut went_down = false;
        let buckets: Vec<Bucket> = a
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
        Ok(Some(DistIncrease {
            count,
            sum,
            buckets,
        }))
    }
}

/// The two bucket lists have the same bounds, in order.
pub(super) fn same_bounds(a: &[Bucket], b: &[Bucket]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.le == y.le)
}

/// `a + b` where both exist.
pub(super) fn plus(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? + b?)
}

/// The increment from `earlier` to `later`.
///
/// # Errors
/// [`WindowError`] when the snapshots are of different engines or
/// instances, `later` is not later, or a distribution's bucket bounds changed.
pub fn increase(earlier: &Point<'_>, later: &Point<'_>) -> Result<Increment, WindowError> {
    comparable(
        (earlier.engine, earlier.instance_id),
        (later.engine, later.instance_id),
    )?;
    if later.collected_at_ms <= earlier.collected_at_ms {
        return Err(WindowError::NotLater(
            earlier.collected_at_ms,
            later.collected_at_ms,
        ));
    }
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
    let mut inc =
        |what: &str, a: Option<f64>, b: Option<f64>| d.inc(&format!("totals.{what}"), a, b);
    let totals = totals_fields!(inc_each!(inc, ta, tb));
    let (la, lb) = (earlier.latency, later.latency);
    let latency = LatencyIncrease {
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
    let engine_metrics = engine_groups(&mut d, earlier.engine_metrics, later.engine_metrics)?;
    Ok(Increment {
        instance_id: later.instance_id.to_string(),
        engine: later.engine.to_string(),
        start_ms: earlier.collected_at_ms,
        end_ms: later.collected_at_ms,
        restarted: d.restarted || !d.resets.is_empty(),
        resets: d.resets,
        totals,
        latency,
        engine_metrics,
    })
}

/// Same engine, then same instance (`(engine, instance)` each).
pub(super) fn comparable(a: (&str, &str), b: (&str, &str)) -> Result<(), WindowError> {
    if a.0 != b.0 {
        return Err(WindowError::DifferentEngines(a.0.into(), b.0.into()));
    }
    if a.1 != b.1 {
        return Err(WindowError::DifferentInstances(a.1.into(), b.1.into()));
    }
    Ok(())
}

/// Increases of the counters and distributions both sides carry (same
/// group, name and metric), in the later snapshot's order.
fn engine_groups(
    d: &mut Deltas,
    earlier: &[EngineGroup],
    later: &[EngineGroup],
) -> Result<Vec<GroupIncrease>, WindowError> {
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
                (MetricValue::Number(a), MetricValue::Number(b)) if fb.counter => {
                    d.inc(&what, Some(*a), Some(*b)).map(ValueIncrease::Number)
                }
                (MetricValue::ByLabel(la, va), MetricValue::ByLabel(lb, vb))
                    if fb.counter && la == lb =>
                {
                    let incs: Vec<LabeledValue> = vb
                        .iter()
                        .filter_map(|b| {
                            let a = va.iter().find(|a| a.key == b.key)?;
                            let what = format!("{what}{{{}}}", b.key);
                            let value = d.inc(&what, Some(a.value), Some(b.value))?;
                            Some(LabeledValue {
                                key: b.key.clone(),
                                value,
                            })
                        })
                        .collect();
                    (!incs.is_empty()).then(|| ValueIncrease::ByLabel(lb.clone(), incs))
                }
                (MetricValue::Distribution(a), MetricValue::Distribution(b)) => d
                    .dist(&what, Some(a), Some(b))?
                    .map(ValueIncrease::Distribution),
                _ => None,
            };
            if let Some(value) = value {
                fields.push(FieldIncrease {
                    name: fb.name.clone(),
                    metric: fb.metric.clone(),
                    counter: fb.counter,
                    value,
                });
            }
        }
        if !fields.is_empty() {
            out.push(GroupIncrease {
                name: gb.name.clone(),
                fields,
            });
        }
    }
    Ok(out)
}
