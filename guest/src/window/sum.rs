//! Sums of increments: the increment of consecutive, contiguous spans of
//! one instance is the sum of theirs.
//!
//! Invariant: increases sum field by field, reset evidence accumulates
//! (oldest first), and a figure either side lacks is `None`, never 0;
//! [`Increment::add_assign`] gives exactly what [`Increment::add`] gives,
//! in place.

use llm_metrics_contract::totals_fields;

use super::WindowError;
use super::increment::{
    DistIncrease, FieldIncrease, GroupIncrease, Increment, LatencyIncrease, ValueIncrease,
    comparable, plus, same_bounds,
};
use crate::distribution::Bucket;
use crate::snapshot::{LabeledValue, Totals};

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
