"""The contract's records as dataclasses: one class per WIT record, one
field per WIT field, named as the WIT names it in snake_case.

Invariant: this module is the only place the package names the contract's
fields. ``llm_metrics.wit`` builds its converters from these classes and the
component's own types when the component is loaded, and refuses to load when
a record's fields and its class's fields differ (a ``contract`` error naming
both sides), so a change to the WIT fails loudly until this module follows.
``tests/test_contract.py`` checks every fixture's results both ways.

Absent values are ``None``, never 0. Non-finite numbers are ``float('nan')``,
``float('inf')``, ``float('-inf')``. Enums are their WIT spelling as ``str``
(``"prometheus"``, ``"counter"``). Times are milliseconds since the Unix epoch
(``Snapshot.collected_at`` gives a ``datetime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Tuple, Union

# --- interface `types`: the parsed exposition ---


@dataclass(frozen=True)
class Label:
    """One label, escapes decoded."""

    name: str
    value: str


@dataclass(frozen=True)
class Exemplar:
    """An OpenMetrics exemplar attached to a sample."""

    labels: List[Label]
    value: float
    timestamp_ms: Optional[int]


@dataclass(frozen=True)
class Sample:
    """One sample line: the series name exactly as written, labels in input order."""

    name: str
    labels: List[Label]
    value: float
    timestamp_ms: Optional[int]
    exemplar: Optional[Exemplar]


@dataclass(frozen=True)
class Family:
    """A metric family: metadata and its samples. ``type`` is lower case as the
    format spells it (``untyped`` in 0.0.4, ``unknown`` in OpenMetrics)."""

    name: str
    type: str
    help: Optional[str]
    unit: Optional[str]
    samples: List[Sample]


@dataclass(frozen=True)
class ParseOptions:
    """How to parse: ``format`` is ``auto``, ``prometheus`` or ``openmetrics``."""

    format: str
    strict: bool
    content_type: Optional[str]


@dataclass(frozen=True)
class ParseError:
    """Why text was rejected, and where (1-based line, byte column). The detail
    of an ``LlmMetricsError`` of kind ``parse``."""

    line: int
    column: int
    message: str


# --- interface `parser` ---


@dataclass(frozen=True)
class Parsed:
    """A successful parse: the format used (never ``auto``) and the families."""

    format: str
    families: List[Family]


@dataclass(frozen=True)
class Span:
    """``len`` bytes at ``offset`` in the parsed text followed by ``CompactParsed.strings``."""

    offset: int
    len: int


@dataclass(frozen=True)
class CompactLabel:
    """One label of a compact result."""

    name: Span
    value: Span


@dataclass(frozen=True)
class CompactExemplar:
    """An exemplar of a compact result."""

    labels_start: int
    labels_len: int
    value: float
    timestamp_ms: Optional[int]


@dataclass(frozen=True)
class CompactSample:
    """A sample of a compact result."""

    name: Span
    labels_start: int
    labels_len: int
    value: float
    timestamp_ms: Optional[int]
    exemplar: Optional[int]


@dataclass(frozen=True)
class CompactFamily:
    """A family of a compact result."""

    name: Span
    type: str
    help: Optional[Span]
    unit: Optional[Span]
    samples_start: int
    samples_len: int


@dataclass(frozen=True)
class CompactParsed:
    """``parse`` in compact form: flat lists whose strings are spans into the
    text (``llm_metrics.families_from_compact`` reads them back)."""

    format: str
    families: List[CompactFamily]
    samples: List[CompactSample]
    labels: List[CompactLabel]
    exemplars: List[CompactExemplar]
    strings: str


# --- interface `mapper`: snapshots and windows ---


@dataclass(frozen=True)
class EngineInfo:
    """An engine the component maps."""

    id: str
    name: str
    versions: str
    prefixes: List[str]
    aliases: List[str]


@dataclass(frozen=True)
class Bucket:
    """One cumulative histogram bucket: ``count`` observations were <= ``le``."""

    le: float
    count: float


@dataclass(frozen=True)
class Bounds:
    """The bucket a quantile lies in: ``lower < value <= upper``."""

    lower: float
    upper: float


@dataclass(frozen=True)
class Distribution:
    """A histogram or summary reduced to count, sum, mean and quantiles, with
    the bucket each quantile was interpolated in (``None`` for a summary)."""

    count: float
    sum: float
    mean: Optional[float]
    p50: Optional[float]
    p90: Optional[float]
    p99: Optional[float]
    p50_bucket: Optional[Bounds]
    p90_bucket: Optional[Bounds]
    p99_bucket: Optional[Bounds]
    buckets: List[Bucket]


@dataclass(frozen=True)
class Load:
    """Current load, summed over data-parallel ranks (``kv_cache_usage``: the mean)."""

    requests_running: Optional[float]
    requests_waiting: Optional[float]
    kv_cache_usage: Optional[float]
    kv_cache_capacity_tokens: Optional[float]
    running_lora_adapters: Optional[List[str]]
    waiting_lora_adapters: Optional[List[str]]
    max_lora: Optional[float]
    data_parallel_ranks: Optional[int]


@dataclass(frozen=True)
class Totals:
    """Cumulative counters since the server started."""

    requests_succeeded: Optional[float]
    requests_failed: Optional[float]
    requests_rejected: Optional[float]
    prompt_tokens: Optional[float]
    prompt_tokens_cached: Optional[float]
    generation_tokens: Optional[float]
    preemptions: Optional[float]


@dataclass(frozen=True)
class Latency:
    """Latency distributions, in seconds."""

    time_to_first_token_seconds: Optional[Distribution]
    inter_token_latency_seconds: Optional[Distribution]
    e2e_request_latency_seconds: Optional[Distribution]
    queue_time_seconds: Optional[Distribution]


@dataclass(frozen=True)
class LabeledValue:
    """One value per label value."""

    key: str
    value: float


@dataclass(frozen=True)
class ByLabel:
    """The ``by-label`` case of ``metric-value``: values broken down by ``label``."""

    label: str
    values: List[LabeledValue]


MetricValue = Union[float, Distribution, ByLabel, List[str]]
"""An engine-specific figure: the WIT variant ``metric-value``."""

METRIC_VALUE_CASES = {
    "number": float,
    "distribution": Distribution,
    "by-label": ByLabel,
    "names": List[str],
}
"""``metric-value``'s cases and the Python type each one is."""


@dataclass(frozen=True)
class EngineField:
    """One engine-specific field and the exposed metric it was read from."""

    name: str
    metric: str
    value: MetricValue
    counter: bool


@dataclass(frozen=True)
class EngineGroup:
    """A named group of engine-specific fields."""

    name: str
    fields: List[EngineField]


@dataclass(frozen=True)
class Snapshot:
    """A server's state at one moment (README, "Snapshot fields")."""

    instance_id: str
    endpoint: str
    content_type: Optional[str]
    engine: str
    collected_at_ms: int
    model_names: List[str]
    load: Load
    totals: Totals
    latency: Latency
    engine_metrics: List[EngineGroup]
    raw_metrics: Optional[List[Family]]
    process_start_time_seconds: Optional[float]
    created_seconds: Optional[float]

    @property
    def collected_at(self) -> datetime:
        """``collected_at_ms`` as an aware UTC ``datetime``."""
        return datetime.fromtimestamp(self.collected_at_ms / 1000, tz=timezone.utc)


@dataclass(frozen=True)
class Rates:
    """Per-second rates of the totals over a window."""

    requests_succeeded: Optional[float]
    requests_failed: Optional[float]
    requests_rejected: Optional[float]
    prompt_tokens: Optional[float]
    prompt_tokens_cached: Optional[float]
    generation_tokens: Optional[float]
    preemptions: Optional[float]


@dataclass(frozen=True)
class WindowStats:
    """Rates and latency between two snapshots of one server (README, "Windows")."""

    instance_id: str
    engine: str
    start_ms: int
    end_ms: int
    seconds: float
    restarted: bool
    resets: List[str]
    rates: Rates
    latency: Latency
    engine_metrics: List[EngineGroup]


# The payloads of the error variants that are tuples.
Pair = Tuple[str, str]
"""``different-engines`` / ``different-instances``: (earlier, later)."""
MsPair = Tuple[int, int]
"""``not-later``: the two ``collected_at_ms``, earlier then later."""
