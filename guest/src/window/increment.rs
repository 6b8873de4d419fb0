//! Increments: what every counter and bucket of one server gained between
//! two snapshots, before anything is divided by time.
//!
//! Invariant: [`increase`] applies the reset and restart rules once, per
//! counter and per bucket (a decrease is a reset and counts the later
//! value; a changed incarnation restarts every counter from 0), and keeps
//! the evidence. Increments of consecutive, contiguous spans of one
//! instance [`add`](Increment::add) up to the increment of the whole span:
//! increases sum, reset evidence accumulates, and a figure either side
//! lacks is `None`, never 0. Nothing here divides by time or interpolates:
//! that is [`super::finish`].

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

/// `Totals` whose fields are `a.f + b.f` where both have one.
macro_rules! sum_each {
    (($a:ident, $b:ident) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        Totals { $( $field: plus($a.$field, $b.$field), )* }
    };
}

/// Whether each field of two `Totals` is present in both or in neither.
macro_rules! same_presence {
    (($a:expr, $b:expr) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        true $( && $a.$field.is_some() == $b.$field.is_some() )*
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
fn same_bounds(a: &[Bucket], b: &[Bucket]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.le == y.le)
}

/// `a + b` where both exist.
fn plus(a: Option<f64>, b: Option<f64>) -> Option<f64> {
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
fn comparable(a: (&str, &str), b: (&str, &str)) -> Result<(), WindowError> {
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

impl Increment {
    /// The increment over `self`'s span followed by `later`'s: increases
    /// summed, reset evidence kept (`self`'s first), figures only one side
    /// has dropped. `later` should start where `self` ends; the span is
    /// from the earlier start to the later end.
    ///
    /// # Errors
    /// [`WindowError`] when the two are of different engines or instances,
    /// or a distribution's bucket bounds differ.
    pub fn add(&self, later: &Increment) -> Result<Increment, WindowError> {
        comparable(
            (&self.engine, &self.instance_id),
            (&later.engine, &later.instance_id),
        )?;
        let (ta, tb) = (&self.totals, &later.totals);
        let (la, lb) = (&self.latency, &later.latency);
        let latency = LatencyIncrease {
            time_to_first_token_seconds: sum_dist(
                "latency.time_to_first_token_seconds",
                la.time_to_first_token_seconds.as_ref(),
                lb.time_to_first_token_seconds.as_ref(),
            )?,
            inter_token_latency_seconds: sum_dist(
                "latency.inter_token_latency_seconds",
                la.inter_token_latency_seconds.as_ref(),
                lb.inter_token_latency_seconds.as_ref(),
            )?,
            e2e_request_latency_seconds: sum_dist(
                "latency.e2e_request_latency_seconds",
                la.e2e_request_latency_seconds.as_ref(),
                lb.e2e_request_latency_seconds.as_ref(),
            )?,
            queue_time_seconds: sum_dist(
                "latency.queue_time_seconds",
                la.queue_time_seconds.as_ref(),
                lb.queue_time_seconds.as_ref(),
            )?,
        };
        let mut resets = self.resets.clone();
        resets.extend(later.resets.iter().cloned());
        Ok(Increment {
            instance_id: later.instance_id.clone(),
            engine: later.engine.clone(),
            start_ms: self.start_ms.min(later.start_ms),
            end_ms: self.end_ms.max(later.end_ms),
            restarted: self.restarted || later.restarted,
            resets,
            totals: totals_fields!(sum_each!(ta, tb)),
            latency,
            engine_metrics: sum_groups(&self.engine_metrics, &later.engine_metrics)?,
        })
    }
}

impl Increment {
    /// `*self = self.add(later)`, without allocating when both have the
    /// same fields, names, labels and bucket bounds in the same order (a
    /// target's consecutive scrapes, as a rule).
    ///
    /// # Errors
    /// As [`Increment::add`].
    pub fn add_assign(&mut self, later: &Increment) -> Result<(), WindowError> {
        if !self.same_shape(later) {
            *self = self.add(later)?;
            return Ok(());
        }
        self.start_ms = self.start_ms.min(later.start_ms);
        self.end_ms = self.end_ms.max(later.end_ms);
        self.restarted |= later.restarted;
        self.resets.extend(later.resets.iter().cloned());
        let (ta, tb) = (&self.totals, &later.totals);
        self.totals = totals_fields!(sum_each!(ta, tb));
        let (la, lb) = (&mut self.latency, &later.latency);
        for (a, b) in [
            (
                &mut la.time_to_first_token_seconds,
                &lb.time_to_first_token_seconds,
            ),
            (
                &mut la.inter_token_latency_seconds,
                &lb.inter_token_latency_seconds,
            ),
            (
                &mut la.e2e_request_latency_seconds,
                &lb.e2e_request_latency_seconds,
            ),
            (&mut la.queue_time_seconds, &lb.queue_time_seconds),
        ] {
            if let (Some(a), Some(b)) = (a, b) {
                add_dist_in_place(a, b);
            }
        }
        for (ga, gb) in self.engine_metrics.iter_mut().zip(&later.engine_metrics) {
            for (fa, fb) in ga.fields.iter_mut().zip(&gb.fields) {
                match (&mut fa.value, &fb.value) {
                    (ValueIncrease::Number(a), ValueIncrease::Number(b)) => *a += b,
                    (ValueIncrease::ByLabel(_, va), ValueIncrease::ByLabel(_, vb)) => {
                        for (a, b) in va.iter_mut().zip(vb) {
                            a.value += b.value;
                        }
                    }
                    (ValueIncrease::Distribution(a), ValueIncrease::Distribution(b)) => {
                        add_dist_in_place(a, b);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Same instance, engine, fields (present or not), names, labels and
    /// bucket bounds, in the same order: adding is then field by field.
    fn same_shape(&self, other: &Increment) -> bool {
        let dist = |a: &Option<DistIncrease>, b: &Option<DistIncrease>| match (a, b) {
            (Some(a), Some(b)) => same_bounds(&a.buckets, &b.buckets),
            (None, None) => true,
            _ => false,
        };
        let (la, lb) = (&self.latency, &other.latency);
        self.instance_id == other.instance_id
            && self.engine == other.engine
            && totals_fields!(same_presence!(self.totals, other.totals))
            && dist(
                &la.time_to_first_token_seconds,
                &lb.time_to_first_token_seconds,
            )
            && dist(
                &la.inter_token_latency_seconds,
                &lb.inter_token_latency_seconds,
            )
            && dist(
                &la.e2e_request_latency_seconds,
                &lb.e2e_request_latency_seconds,
            )
            && dist(&la.queue_time_seconds, &lb.queue_time_seconds)
            && self.engine_metrics.len() == other.engine_metrics.len()
            && self
                .engine_metrics
                .iter()
                .zip(&other.engine_metrics)
                .all(|(ga, gb)| {
                    ga.name == gb.name
                        && ga.fields.len() == gb.fields.len()
                        && ga.fields.iter().zip(&gb.fields).all(|(fa, fb)| {
                            fa.name == fb.name
                                && fa.metric == fb.metric
                                && match (&fa.value, &fb.value) {
                                    (ValueIncrease::Number(_), ValueIncrease::Number(_)) => true,
                                    (
                                        ValueIncrease::ByLabel(la, va),
                                        ValueIncrease::ByLabel(lb, vb),
                                    ) => {
                                        la == lb
                                            && va.len() == vb.len()
                                            && va.iter().zip(vb).all(|(a, b)| a.key == b.key)
                                    }
                                    (
                                        ValueIncrease::Distribution(a),
                                        ValueIncrease::Distribution(b),
                                    ) => same_bounds(&a.buckets, &b.buckets),
                                    _ => false,
                                }
                        })
                })
    }
}

/// `a += b` per count, sum and bucket (same bounds).
fn add_dist_in_place(a: &mut DistIncrease, b: &DistIncrease) {
    a.count += b.count;
    a.sum += b.sum;
    for (x, y) in a.buckets.iter_mut().zip(&b.buckets) {
        x.count += y.count;
    }
}

/// `a + b` per count, sum and bucket, or `None` unless both exist.
fn sum_dist(
    what: &str,
    a: Option<&DistIncrease>,
    b: Option<&DistIncrease>,
) -> Result<Option<DistIncrease>, WindowError> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(None);
    };
    if !same_bounds(&a.buckets, &b.buckets) {
        return Err(WindowError::BucketLayoutChanged(what.to_string()));
    }
    Ok(Some(DistIncrease {
        count: a.count + b.count,
        sum: a.sum + b.sum,
        buckets: a
            .buckets
            .iter()
            .zip(&b.buckets)
            .map(|(x, y)| Bucket {
                le: y.le,
                count: x.count + y.count,
            })
            .collect(),
    }))
}

/// The fields both sides carry, summed, in `later`'s order.
fn sum_groups(
    earlier: &[GroupIncrease],
    later: &[GroupIncrease],
) -> Result<Vec<GroupIncrease>, WindowError> {
    let mut out = Vec::new();
    for gb in later {
        let Some(ga) = earlier.iter().find(|g| g.name == gb.name) else {
            continue;
        };
        let mut fields = Vec::new();
        for fb in &gb.fields {
            let Some(fa) = ga
                .fields
                .iter()
                .find(|f| f.name == fb.name && f.metric == fb.metric)
            else {
                continue;
            };
            let value = match (&fa.value, &fb.value) {
                (ValueIncrease::Number(a), ValueIncrease::Number(b)) => {
                    Some(ValueIncrease::Number(a + b))
                }
                (ValueIncrease::ByLabel(la, va), ValueIncrease::ByLabel(lb, vb)) if la == lb => {
                    let sums: Vec<LabeledValue> = vb
                        .iter()
                        .filter_map(|b| {
                            let a = va.iter().find(|a| a.key == b.key)?;
                            Some(LabeledValue {
                                key: b.key.clone(),
                                value: a.value + b.value,
                            })
                        })
                        .collect();
                    (!sums.is_empty()).then(|| ValueIncrease::ByLabel(lb.clone(), sums))
                }
                (ValueIncrease::Distribution(a), ValueIncrease::Distribution(b)) => {
                    let what = format!("engine_metrics.{}.{}", gb.name, fb.name);
                    sum_dist(&what, Some(a), Some(b))?.map(ValueIncrease::Distribution)
                }
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
