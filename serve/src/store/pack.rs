//! A stored scrape as two byte strings: its *layout* (engine, instance,
//! models, which fields exist, names, labels and bucket bounds: what
//! repeats from scrape to scrape, stored once per target and layout) and
//! its *values* (the gauges, the cumulative totals and the increments since
//! the target's previous successful scrape, in layout order).
//!
//! Invariant: one walk per record type ([`Codec`]) writes and reads both
//! strings, so encoder and decoder cannot disagree on the order. A value
//! that is a non-negative integer below 2^62 (most counters and every
//! increase of one) is a varint of `2n`, so 0 is one byte; any other number
//! is the byte 1 and its 8 bytes. Decoding checks every length against the
//! bytes left and fails with a message, never a panic.

use llm_metrics_contract::{load_fields, totals_fields};
use llm_metrics_guest::snapshot::{Bucket, LabeledValue, Load, Totals};
use llm_metrics_guest::window::{
    DistIncrease, FieldIncrease, GroupIncrease, Increment, LatencyIncrease, ValueIncrease,
    WindowError,
};

/// What a successful scrape keeps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// The instance id the snapshot reported.
    pub instance_id: String,
    /// The engine id.
    pub engine: String,
    /// Served model names.
    pub model_names: Vec<String>,
    /// Current load (gauges).
    pub load: Load,
    /// Cumulative totals.
    pub totals: Totals,
    /// What changed since the target's previous successful scrape; `None`
    /// for its first, or when the two could not be compared (`gap`).
    pub increment: Option<Increment>,
    /// Why this scrape could not be compared with the previous one.
    pub gap: Option<WindowError>,
}

/// Both directions of the walk.
trait Codec {
    /// A number of the values string.
    fn value(&mut self, v: &mut f64);
    /// A count or tag of the layout.
    fn size(&mut self, n: &mut usize);
    /// A name of the layout.
    fn text(&mut self, s: &mut String);
    /// A bucket bound of the layout, bit for bit.
    fn bound(&mut self, v: &mut f64);
    /// The scrape's time when decoding (an increment ends there).
    fn decoding(&self) -> Option<u64>;
}

/// Writes the two strings.
#[derive(Default)]
struct Enc {
    layout: Vec<u8>,
    values: Vec<u8>,
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Codec for Enc {
    fn value(&mut self, v: &mut f64) {
        let x = *v;
        if x.fract() == 0.0 && x.is_sign_positive() && x < (1u64 << 62) as f64 {
            varint(&mut self.values, (x as u64) << 1);
        } else {
            self.values.push(1);
            self.values.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn size(&mut self, n: &mut usize) {
        varint(&mut self.layout, *n as u64);
    }
    fn text(&mut self, s: &mut String) {
        varint(&mut self.layout, s.len() as u64);
        self.layout.extend_from_slice(s.as_bytes());
    }
    fn bound(&mut self, v: &mut f64) {
        self.layout.extend_from_slice(&v.to_le_bytes());
    }
    fn decoding(&self) -> Option<u64> {
        None
    }
}

/// Reads the two strings; the first problem is kept and reading goes on
/// with zeros.
struct Dec<'a> {
    layout: &'a [u8],
    values: &'a [u8],
    at_ms: u64,
    error: Option<&'static str>,
}

impl Dec<'_> {
    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
        self.layout = &[];
        self.values = &[];
    }
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

fn read_f64(bytes: &mut &[u8]) -> Option<f64> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    *bytes = rest;
    Some(f64::from_le_bytes(*head))
}

impl Codec for Dec<'_> {
    fn value(&mut self, v: &mut f64) {
        *v = match read_varint(&mut self.values) {
            Some(1) => match read_f64(&mut self.values) {
                Some(x) => x,
                None => return self.fail("a value is cut short"),
            },
            Some(n) if n & 1 == 0 => (n >> 1) as f64,
            _ => return self.fail("a value is not a number"),
        };
    }
    fn size(&mut self, n: &mut usize) {
        // Every element of a list takes at least a byte of the layout.
        match read_varint(&mut self.layout).and_then(|x| usize::try_from(x).ok()) {
            Some(x) if x <= self.layout.len() + 1 => *n = x,
            _ => self.fail("a count is out of range"),
        }
    }
    fn text(&mut self, s: &mut String) {
        let mut n = 0;
        self.size(&mut n);
        if n > self.layout.len() {
            return self.fail("a name is cut short");
        }
        let (head, rest) = self.layout.split_at(n);
        self.layout = rest;
        match std::str::from_utf8(head) {
            // The same layout decodes to the same names: no allocation.
            Ok(t) if s != t => {
                s.clear();
                s.push_str(t);
            }
            Ok(_) => {}
            Err(_) => self.fail("a name is not UTF-8"),
        }
    }
    fn bound(&mut self, v: &mut f64) {
        match read_f64(&mut self.layout) {
            Some(x) => *v = x,
            None => self.fail("a bucket bound is cut short"),
        }
    }
    fn decoding(&self) -> Option<u64> {
        Some(self.at_ms)
    }
}

/// `record` as (layout, values).
pub fn pack(record: &Record) -> (Vec<u8>, Vec<u8>) {
    let mut enc = Enc::default();
    let mut r = record.clone();
    walk_record(&mut enc, &mut r);
    (enc.layout, enc.values)
}

/// The record of a scrape at `at_ms` stored as `layout` and `values`.
pub fn unpack(layout: &[u8], values: &[u8], at_ms: u64) -> Result<Record, String> {
    let mut r = Record::default();
    unpack_into(layout, values, at_ms, &mut r)?;
    Ok(r)
}

/// [`unpack`] into `r`, reusing what it holds: decoding the scrapes of one
/// layout one after the other into the same record allocates nothing.
pub fn unpack_into(layout: &[u8], values: &[u8], at_ms: u64, r: &mut Record) -> Result<(), String> {
    let mut dec = Dec {
        layout,
        values,
        at_ms,
        error: None,
    };
    walk_record(&mut dec, r);
    if dec.error.is_none() && !(dec.layout.is_empty() && dec.values.is_empty()) {
        dec.error = Some("bytes left over");
    }
    match dec.error {
        Some(why) => Err(format!("a stored scrape does not decode: {why}")),
        None => Ok(()),
    }
}

fn flag<C: Codec>(c: &mut C, b: &mut bool) {
    let mut n = usize::from(*b);
    c.size(&mut n);
    *b = n == 1;
}

fn list<C: Codec, T>(
    c: &mut C,
    v: &mut Vec<T>,
    new: impl Fn() -> T,
    mut each: impl FnMut(&mut C, &mut T),
) {
    let mut n = v.len();
    c.size(&mut n);
    if c.decoding().is_some() && v.len() != n {
        v.truncate(n);
        v.resize_with(n, new);
    }
    for x in v {
        each(c, x);
    }
}

fn option<C: Codec, T>(
    c: &mut C,
    v: &mut Option<T>,
    new: impl Fn() -> T,
    each: impl FnOnce(&mut C, &mut T),
) {
    let mut present = v.is_some();
    flag(c, &mut present);
    if !present {
        *v = None;
        return;
    }
    each(c, v.get_or_insert_with(new));
}

/// How a field of the flat records is walked.
trait Walk {
    fn walk<C: Codec>(&mut self, c: &mut C);
}

impl Walk for Option<f64> {
    fn walk<C: Codec>(&mut self, c: &mut C) {
        option(c, self, || 0.0, |c, v| c.value(v));
    }
}

impl Walk for Option<u32> {
    fn walk<C: Codec>(&mut self, c: &mut C) {
        let mut wide = self.map(f64::from);
        wide.walk(c);
        *self = wide.map(|v| v as u32);
    }
}

impl Walk for Option<Vec<String>> {
    fn walk<C: Codec>(&mut self, c: &mut C) {
        option(c, self, Vec::new, |c, v| {
            list(c, v, String::new, |c, s| c.text(s))
        });
    }
}

/// Walks every field of a flat record (callback of `load_fields!` and
/// `totals_fields!`).
macro_rules! walk_each {
    (($c:ident, $rec:expr) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        $( Walk::walk(&mut $rec.$field, $c); )*
    };
}

fn walk_record<C: Codec>(c: &mut C, r: &mut Record) {
    c.text(&mut r.instance_id);
    c.text(&mut r.engine);
    list(c, &mut r.model_names, String::new, |c, s| c.text(s));
    load_fields!(walk_each!(c, r.load));
    totals_fields!(walk_each!(c, r.totals));
    option(c, &mut r.gap, || WindowError::NotLater(0, 0), walk_gap);
    option(c, &mut r.increment, || empty("", ""), walk_increment);
    if let Some(i) = &mut r.increment {
        if i.instance_id != r.instance_id {
            i.instance_id.clone_from(&r.instance_id);
        }
        if i.engine != r.engine {
            i.engine.clone_from(&r.engine);
        }
    }
}

fn empty(instance_id: &str, engine: &str) -> Increment {
    Increment {
        instance_id: instance_id.to_string(),
        engine: engine.to_string(),
        start_ms: 0,
        end_ms: 0,
        restarted: false,
        resets: Vec::new(),
        totals: Totals::default(),
        latency: LatencyIncrease::default(),
        engine_metrics: Vec::new(),
    }
}

fn walk_gap<C: Codec>(c: &mut C, e: &mut WindowError) {
    let mut tag = match e {
        WindowError::DifferentEngines(..) => 0,
        WindowError::DifferentInstances(..) => 1,
        WindowError::BucketLayoutChanged(..) => 2,
        WindowError::NotLater(..) => 3,
    };
    c.size(&mut tag);
    if c.decoding().is_some() {
        *e = match tag {
            0 => WindowError::DifferentEngines(String::new(), String::new()),
            1 => WindowError::DifferentInstances(String::new(), String::new()),
            2 => WindowError::BucketLayoutChanged(String::new()),
            _ => WindowError::NotLater(0, 0),
        };
    }
    match e {
        WindowError::DifferentEngines(a, b) | WindowError::DifferentInstances(a, b) => {
            c.text(a);
            c.text(b);
        }
        WindowError::BucketLayoutChanged(n) => c.text(n),
        WindowError::NotLater(a, b) => {
            for v in [a, b] {
                let mut text = v.to_string();
                c.text(&mut text);
                *v = text.parse().unwrap_or(0);
            }
        }
    }
}

fn walk_increment<C: Codec>(c: &mut C, i: &mut Increment) {
    let mut span = i.end_ms.saturating_sub(i.start_ms) as f64;
    c.value(&mut span);
    if let Some(at) = c.decoding() {
        i.end_ms = at;
        i.start_ms = at.saturating_sub(span as u64);
    }
    flag(c, &mut i.restarted);
    list(c, &mut i.resets, String::new, |c, s| c.text(s));
    totals_fields!(walk_each!(c, i.totals));
    let l = &mut i.latency;
    for d in [
        &mut l.time_to_first_token_seconds,
        &mut l.inter_token_latency_seconds,
        &mut l.e2e_request_latency_seconds,
        &mut l.queue_time_seconds,
    ] {
        option(c, d, empty_dist, walk_dist);
    }
    list(c, &mut i.engine_metrics, empty_group, |c, g| {
        c.text(&mut g.name);
        list(c, &mut g.fields, empty_field, walk_field);
    });
}

fn empty_dist() -> DistIncrease {
    DistIncrease {
        count: 0.0,
        sum: 0.0,
        buckets: Vec::new(),
    }
}

fn empty_group() -> GroupIncrease {
    GroupIncrease {
        name: String::new(),
        fields: Vec::new(),
    }
}

fn empty_field() -> FieldIncrease {
    FieldIncrease {
        name: String::new(),
        metric: String::new(),
        counter: false,
        value: ValueIncrease::Number(0.0),
    }
}

fn walk_dist<C: Codec>(c: &mut C, d: &mut DistIncrease) {
    c.value(&mut d.count);
    c.value(&mut d.sum);
    list(
        c,
        &mut d.buckets,
        || Bucket {
            le: 0.0,
            count: 0.0,
        },
        |c, b| {
            c.bound(&mut b.le);
            c.value(&mut b.count);
        },
    );
}

fn walk_field<C: Codec>(c: &mut C, f: &mut FieldIncrease) {
    c.text(&mut f.name);
    c.text(&mut f.metric);
    flag(c, &mut f.counter);
    let mut tag = match f.value {
        ValueIncrease::Number(_) => 0,
        ValueIncrease::ByLabel(..) => 1,
        ValueIncrease::Distribution(_) => 2,
    };
    let was = tag;
    c.size(&mut tag);
    if c.decoding().is_some() && tag != was {
        f.value = match tag {
            0 => ValueIncrease::Number(0.0),
            1 => ValueIncrease::ByLabel(String::new(), Vec::new()),
            _ => ValueIncrease::Distribution(empty_dist()),
        };
    }
    match &mut f.value {
        ValueIncrease::Number(v) => c.value(v),
        ValueIncrease::ByLabel(label, values) => {
            c.text(label);
            list(
                c,
                values,
                || LabeledValue {
                    key: String::new(),
                    value: 0.0,
                },
                |c, v| {
                    c.text(&mut v.key);
                    c.value(&mut v.value);
                },
            );
        }
        ValueIncrease::Distribution(d) => walk_dist(c, d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_metrics_guest::engines::{self, EngineSnapshot};
    use llm_metrics_guest::text::{self, ParseOptions};
    use llm_metrics_guest::window::{Point, increase};

    fn fixture(name: &str) -> EngineSnapshot {
        let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(path).unwrap();
        let exposition = text::parse(&body, &ParseOptions::default()).unwrap();
        engines::map(&exposition.families, "auto").unwrap()
    }

    fn record(a: &EngineSnapshot, b: &EngineSnapshot, restarted: bool) -> Record {
        let at = |s, ms| Point::of(s, "i-0", ms);
        let inc = increase(&at(a, 1_000), &at(b, 11_000)).unwrap();
        assert_eq!(inc.restarted, restarted);
        Record {
            instance_id: "i-0".into(),
            engine: b.engine.into(),
            model_names: b.model_names.clone(),
            load: b.load.clone(),
            totals: b.totals.clone(),
            increment: Some(inc),
            gap: None,
        }
    }

    #[test]
    fn records_read_back_as_written() {
        let t =
            ["t0", "t1", "t2_restarted", "t3"].map(|n| fixture(&format!("window/vllm_{n}.prom")));
        for (a, b, restarted) in [(0, 1, false), (1, 2, true), (2, 3, false)] {
            let r = record(&t[a], &t[b], restarted);
            let (layout, values) = pack(&r);
            assert_eq!(unpack(&layout, &values, 11_000), Ok(r.clone()));
            // Integral increases are a byte or two each.
            assert!(values.len() < 400, "{}", values.len());
        }
        let gap = Record {
            gap: Some(WindowError::NotLater(5, 4)),
            increment: None,
            ..record(&t[0], &t[1], false)
        };
        let (layout, values) = pack(&gap);
        assert_eq!(unpack(&layout, &values, 4), Ok(gap));
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let t = [
            fixture("window/vllm_t0.prom"),
            fixture("window/vllm_t1.prom"),
        ];
        let (layout, values) = pack(&record(&t[0], &t[1], false));
        for cut in [0, 1, values.len() / 2, values.len() - 1] {
            assert!(
                unpack(&layout, &values[..cut], 0).is_err(),
                "values cut at {cut}"
            );
        }
        for cut in [0, 3, layout.len() / 2, layout.len() - 1] {
            assert!(
                unpack(&layout[..cut], &values, 0).is_err(),
                "layout cut at {cut}"
            );
        }
        let mut longer = values.clone();
        longer.push(0);
        assert!(unpack(&layout, &longer, 0).is_err());
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(unpack(&noise, &noise, 0).is_err());
        assert!(unpack(&[0xff; 64], &[0xff; 64], 0).is_err());
    }
}
