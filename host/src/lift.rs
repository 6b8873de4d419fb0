//! Lifting a call's result into the host under a byte budget.
//!
//! The guest's memory cap does not bound what lifting allocates in the host:
//! a hostile guest can return a million strings that all point at the same
//! megabyte of its memory, and the host would copy each one. So results are
//! lifted through mirror types whose strings ([`Str`]) and lists ([`List`])
//! charge their host size to the call's budget *before* anything is copied;
//! past the budget, lifting fails and the call ends with
//! `CallError::ResultTooLarge`. Invariant: a call's result never makes the
//! host allocate more than its budget (strings count their bytes, lists their
//! element count times the host element size; Rust guests use UTF-8, for
//! which this is exact).
//!
//! The budget lives in a thread-local that [`Budgeted`] installs around every
//! poll of the call, so it is per call even with many calls on one thread.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::ValRaw;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};

use crate::wit::collector::{
    CollectError, Distribution, EngineField, EngineGroup, EngineInfo, LabeledValue, Latency, Load,
    MetricValue, Snapshot, Totals,
};
use crate::wit::parser::Parsed;
use crate::wit::types::{Exemplar, Family, Format, Label, MetricType, ParseError, Sample};

thread_local! {
    /// Bytes the call being polled on this thread may still lift.
    static LEFT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Whether that call ran out.
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// Take `bytes` from the current call's budget; fail once it runs out (or
/// when no budget is installed: lifting outside a call is refused).
fn charge(bytes: u64) -> wasmtime::Result<()> {
    LEFT.with(|left| match left.get() {
        Some(n) if n >= bytes => {
            left.set(Some(n - bytes));
            Ok(())
        }
        _ => {
            left.set(Some(0));
            EXCEEDED.with(|e| e.set(true));
            Err(wasmtime::format_err!(
                "the result is over the host's budget"
            ))
        }
    })
}

/// A call future whose polls run under a lift budget; yields the output and
/// whether the budget ran out.
pub(crate) struct Budgeted<F: Future> {
    inner: Pin<Box<F>>,
    left: u64,
    exceeded: bool,
}

impl<F: Future> Budgeted<F> {
    /// Run `inner` with `bytes` of lift budget.
    pub(crate) fn new(bytes: u64, inner: F) -> Self {
        Budgeted {
            inner: Box::pin(inner),
            left: bytes,
            exceeded: false,
        }
    }
}

/// Restores the thread's previous budget even if the poll panics.
struct Restore(Option<u64>, bool);

impl Drop for Restore {
    fn drop(&mut self) {
        LEFT.with(|l| l.set(self.0));
        EXCEEDED.with(|e| e.set(self.1));
    }
}

impl<F: Future> Future for Budgeted<F> {
    type Output = (F::Output, bool);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _restore = Restore(
            LEFT.with(|l| l.replace(Some(this.left))),
            EXCEEDED.with(|e| e.replace(false)),
        );
        let polled = this.inner.as_mut().poll(cx);
        this.left = LEFT.with(|l| l.get()).unwrap_or(0);
        this.exceeded |= EXCEEDED.with(|e| e.get());
        polled.map(|out| (out, this.exceeded))
    }
}

/// The length word of a string or list: flat, or in memory.
fn flat_len(src: &[ValRaw; 2]) -> u64 {
    u64::from(src[1].get_u32())
}

fn memory_len(bytes: &[u8]) -> u64 {
    bytes
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(u64::MAX, |b| u64::from(u32::from_le_bytes(b)))
}

/// A `string` whose bytes are charged before they are copied.
pub(crate) struct Str(String);

// SAFETY: same type information and layout as `String`, which it wraps.
unsafe impl ComponentType for Str {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: delegates to `String`'s lift after charging.
unsafe impl Lift for Str {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(flat_len(src))?;
        Ok(Str(String::linear_lift_from_flat(cx, ty, src)?))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(memory_len(bytes))?;
        Ok(Str(String::linear_lift_from_memory(cx, ty, bytes)?))
    }
}

/// A `list<T>` whose host size is charged before it is allocated.
pub(crate) struct List<T>(Vec<T>);

// SAFETY: same type information and layout as `Vec<T>`, which it wraps.
unsafe impl<T: ComponentType> ComponentType for List<T> {
    type Lower = <Vec<T> as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <Vec<T> as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

fn list_bytes<T>(len: u64) -> u64 {
    len.saturating_mul(std::mem::size_of::<T>().max(1) as u64)
}

// SAFETY: delegates to `Vec<T>`'s lift after charging.
unsafe impl<T: Lift> Lift for List<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(list_bytes::<T>(flat_len(src)))?;
        Ok(List(Vec::linear_lift_from_flat(cx, ty, src)?))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(list_bytes::<T>(memory_len(bytes)))?;
        Ok(List(Vec::linear_lift_from_memory(cx, ty, bytes)?))
    }
}

fn strings(list: List<Str>) -> Vec<String> {
    list.0.into_iter().map(|s| s.0).collect()
}

fn each<T, U: From<T>>(list: List<T>) -> Vec<U> {
    list.0.into_iter().map(U::from).collect()
}

// Mirrors of the WIT records that hold strings or lists. Records without
// either (`distribution`, `totals`, `latency`) and enums are lifted as the
// generated types themselves: their size is fixed.

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawLabel {
    name: Str,
    value: Str,
}

impl From<RawLabel> for Label {
    fn from(l: RawLabel) -> Self {
        Label {
            name: l.name.0,
            value: l.value.0,
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawExemplar {
    labels: List<RawLabel>,
    value: f64,
    #[component(name = "timestamp-ms")]
    timestamp_ms: Option<i64>,
}

impl From<RawExemplar> for Exemplar {
    fn from(e: RawExemplar) -> Self {
        Exemplar {
            labels: each(e.labels),
            value: e.value,
            timestamp_ms: e.timestamp_ms,
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawSample {
    name: Str,
    labels: List<RawLabel>,
    value: f64,
    #[component(name = "timestamp-ms")]
    timestamp_ms: Option<i64>,
    exemplar: Option<RawExemplar>,
}

impl From<RawSample> for Sample {
    fn from(s: RawSample) -> Self {
        Sample {
            name: s.name.0,
            labels: each(s.labels),
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            exemplar: s.exemplar.map(Exemplar::from),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawFamily {
    name: Str,
    #[component(name = "type")]
    type_: MetricType,
    help: Option<Str>,
    unit: Option<Str>,
    samples: List<RawSample>,
}

impl From<RawFamily> for Family {
    fn from(f: RawFamily) -> Self {
        Family {
            name: f.name.0,
            type_: f.type_,
            help: f.help.map(|s| s.0),
            unit: f.unit.map(|s| s.0),
            samples: each(f.samples),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawParseError {
    line: u32,
    column: u32,
    message: Str,
}

impl From<RawParseError> for ParseError {
    fn from(e: RawParseError) -> Self {
        ParseError {
            line: e.line,
            column: e.column,
            message: e.message.0,
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawParsed {
    format: Format,
    families: List<RawFamily>,
}

impl From<RawParsed> for Parsed {
    fn from(p: RawParsed) -> Self {
        Parsed {
            format: p.format,
            families: each(p.families),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawLabeledValue {
    key: Str,
    value: f64,
}

impl From<RawLabeledValue> for LabeledValue {
    fn from(v: RawLabeledValue) -> Self {
        LabeledValue {
            key: v.key.0,
            value: v.value,
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(variant)]
pub(crate) enum RawMetricValue {
    #[component(name = "number")]
    Number(f64),
    #[component(name = "distribution")]
    Distribution(Distribution),
    #[component(name = "by-label")]
    ByLabel((Str, List<RawLabeledValue>)),
    #[component(name = "names")]
    Names(List<Str>),
}

impl From<RawMetricValue> for MetricValue {
    fn from(v: RawMetricValue) -> Self {
        match v {
            RawMetricValue::Number(n) => MetricValue::Number(n),
            RawMetricValue::Distribution(d) => MetricValue::Distribution(d),
            RawMetricValue::ByLabel((label, values)) => {
                MetricValue::ByLabel((label.0, each(values)))
            }
            RawMetricValue::Names(names) => MetricValue::Names(strings(names)),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawEngineField {
    name: Str,
    metric: Str,
    value: RawMetricValue,
}

impl From<RawEngineField> for EngineField {
    fn from(f: RawEngineField) -> Self {
        EngineField {
            name: f.name.0,
            metric: f.metric.0,
            value: f.value.into(),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawEngineGroup {
    name: Str,
    fields: List<RawEngineField>,
}

impl From<RawEngineGroup> for EngineGroup {
    fn from(g: RawEngineGroup) -> Self {
        EngineGroup {
            name: g.name.0,
            fields: each(g.fields),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawLoad {
    #[component(name = "requests-running")]
    requests_running: Option<f64>,
    #[component(name = "requests-waiting")]
    requests_waiting: Option<f64>,
    #[component(name = "kv-cache-usage")]
    kv_cache_usage: Option<f64>,
    #[component(name = "kv-cache-capacity-tokens")]
    kv_cache_capacity_tokens: Option<f64>,
    #[component(name = "running-lora-adapters")]
    running_lora_adapters: Option<List<Str>>,
    #[component(name = "waiting-lora-adapters")]
    waiting_lora_adapters: Option<List<Str>>,
    #[component(name = "max-lora")]
    max_lora: Option<f64>,
    #[component(name = "data-parallel-ranks")]
    data_parallel_ranks: Option<u32>,
}

impl From<RawLoad> for Load {
    fn from(l: RawLoad) -> Self {
        Load {
            requests_running: l.requests_running,
            requests_waiting: l.requests_waiting,
            kv_cache_usage: l.kv_cache_usage,
            kv_cache_capacity_tokens: l.kv_cache_capacity_tokens,
            running_lora_adapters: l.running_lora_adapters.map(strings),
            waiting_lora_adapters: l.waiting_lora_adapters.map(strings),
            max_lora: l.max_lora,
            data_parallel_ranks: l.data_parallel_ranks,
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawEngineInfo {
    id: Str,
    name: Str,
    versions: Str,
    prefixes: List<Str>,
    aliases: List<Str>,
}

impl From<RawEngineInfo> for EngineInfo {
    fn from(e: RawEngineInfo) -> Self {
        EngineInfo {
            id: e.id.0,
            name: e.name.0,
            versions: e.versions.0,
            prefixes: strings(e.prefixes),
            aliases: strings(e.aliases),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub(crate) struct RawSnapshot {
    #[component(name = "instance-id")]
    instance_id: Str,
    endpoint: Str,
    #[component(name = "content-type")]
    content_type: Option<Str>,
    engine: Str,
    #[component(name = "collected-at-ms")]
    collected_at_ms: u64,
    #[component(name = "model-names")]
    model_names: List<Str>,
    load: RawLoad,
    totals: Totals,
    latency: Latency,
    #[component(name = "engine-metrics")]
    engine_metrics: List<RawEngineGroup>,
    #[component(name = "raw-metrics")]
    raw_metrics: Option<List<RawFamily>>,
}

impl From<RawSnapshot> for Snapshot {
    fn from(s: RawSnapshot) -> Self {
        Snapshot {
            instance_id: s.instance_id.0,
            endpoint: s.endpoint.0,
            content_type: s.content_type.map(|c| c.0),
            engine: s.engine.0,
            collected_at_ms: s.collected_at_ms,
            model_names: strings(s.model_names),
            load: s.load.into(),
            totals: s.totals,
            latency: s.latency,
            engine_metrics: each(s.engine_metrics),
            raw_metrics: s.raw_metrics.map(each),
        }
    }
}

#[derive(ComponentType, Lift)]
#[component(variant)]
pub(crate) enum RawCollectError {
    #[component(name = "invalid-url")]
    InvalidUrl(Str),
    #[component(name = "denied")]
    Denied(Str),
    #[component(name = "connect")]
    Connect(Str),
    #[component(name = "timeout")]
    Timeout(Str),
    #[component(name = "http-status")]
    HttpStatus(u16),
    #[component(name = "body-too-large")]
    BodyTooLarge(u64),
    #[component(name = "not-an-exposition")]
    NotAnExposition(Str),
    #[component(name = "parse")]
    Parse(RawParseError),
    #[component(name = "unrecognized-engine")]
    UnrecognizedEngine(Str),
    #[component(name = "unknown-engine")]
    UnknownEngine(Str),
    #[component(name = "mixed-engines")]
    MixedEngines(List<Str>),
    #[component(name = "transport")]
    Transport(Str),
}

impl From<RawCollectError> for CollectError {
    fn from(e: RawCollectError) -> Self {
        use RawCollectError as R;
        match e {
            R::InvalidUrl(s) => CollectError::InvalidUrl(s.0),
            R::Denied(s) => CollectError::Denied(s.0),
            R::Connect(s) => CollectError::Connect(s.0),
            R::Timeout(s) => CollectError::Timeout(s.0),
            R::HttpStatus(code) => CollectError::HttpStatus(code),
            R::BodyTooLarge(n) => CollectError::BodyTooLarge(n),
            R::NotAnExposition(s) => CollectError::NotAnExposition(s.0),
            R::Parse(p) => CollectError::Parse(p.into()),
            R::UnrecognizedEngine(s) => CollectError::UnrecognizedEngine(s.0),
            R::UnknownEngine(s) => CollectError::UnknownEngine(s.0),
            R::MixedEngines(ids) => CollectError::MixedEngines(strings(ids)),
            R::Transport(s) => CollectError::Transport(s.0),
        }
    }
}

/// A lifted `result<parsed, parse-error>` as the generated types.
pub(crate) fn parsed(r: Result<RawParsed, RawParseError>) -> Result<Parsed, ParseError> {
    r.map(Parsed::from).map_err(ParseError::from)
}

/// A lifted `result<snapshot, collect-error>` as the generated types.
pub(crate) fn snapshot(r: Result<RawSnapshot, RawCollectError>) -> Result<Snapshot, CollectError> {
    r.map(Snapshot::from).map_err(CollectError::from)
}

/// A lifted `list<engine-info>` as the generated type.
pub(crate) fn engines(list: List<RawEngineInfo>) -> Vec<EngineInfo> {
    each(list)
}
