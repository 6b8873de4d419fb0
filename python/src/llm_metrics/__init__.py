"""llm-metrics for Python: read LLM inference servers' Prometheus ``/metrics``
correctly, with the llm-metrics WebAssembly component run in wasmtime.

    import llm_metrics
    snap = llm_metrics.collect("http://127.0.0.1:8000/metrics", allow=["127.0.0.1:8000"])
    snap.load.requests_running, snap.totals.generation_tokens   # None when not exposed

    snap = await llm_metrics.collect_async(url, allow=[...])    # asyncio

The module-level functions share one ``LlmMetrics`` (the component compiled
once, no allow-list of its own: each URL may reach its own host and port,
never a link-local or metadata address). Services that fetch URLs their
callers name should pass ``allow`` (or build ``LlmMetrics(allow=[...])``).
Failures raise ``LlmMetricsError`` with the contract's ``kind``.
"""

from __future__ import annotations

import threading
from typing import List, Optional

from .client import AsyncLlmMetrics, LlmMetrics
from .errors import ContractError, LlmMetricsError
from .plain import families_from_compact, to_dict
from .types import (
    Bounds, Bucket, ByLabel, CompactParsed, Distribution, EngineField, EngineGroup, EngineInfo,
    Exemplar, Family, Label, LabeledValue, Latency, Load, MetricValue, ParseError, Parsed,
    Rates, Sample, Snapshot, Totals, WindowStats,
)

__all__ = [
    "AsyncLlmMetrics", "Bounds", "Bucket", "ByLabel", "CompactParsed", "ContractError", "Distribution",
    "EngineField", "EngineGroup", "EngineInfo", "Exemplar", "Family", "Label", "LabeledValue",
    "Latency", "LlmMetrics", "LlmMetricsError", "Load", "MetricValue", "ParseError", "Parsed",
    "Rates", "Sample", "Snapshot", "Totals", "WindowStats", "collect", "collect_async",
    "default", "engines", "families_from_compact", "map_exposition", "map_exposition_async",
    "parse", "parse_async", "to_dict", "window", "window_async",
]

_lock = threading.Lock()
_default: Optional[LlmMetrics] = None


def default() -> LlmMetrics:
    """The shared client the module-level functions use (created on first use)."""
    global _default
    with _lock:
        if _default is None:
            _default = LlmMetrics()
        return _default


def collect(url: str, engine: str = "auto", **kw) -> Snapshot:
    """``LlmMetrics.collect`` on the shared client."""
    return default().collect(url, engine, **kw)


def map_exposition(text: bytes, engine: str = "auto", **kw) -> Snapshot:
    """``LlmMetrics.map_exposition`` on the shared client."""
    return default().map_exposition(text, engine, **kw)


def parse(text: bytes, format: str = "auto", **kw) -> Parsed:
    """``LlmMetrics.parse`` on the shared client."""
    return default().parse(text, format, **kw)


def window(earlier: Snapshot, later: Snapshot) -> WindowStats:
    """``LlmMetrics.window`` on the shared client."""
    return default().window(earlier, later)


def engines() -> List[EngineInfo]:
    """``LlmMetrics.engines`` on the shared client."""
    return default().engines()


async def collect_async(url: str, engine: str = "auto", **kw) -> Snapshot:
    """``collect`` for asyncio (in a worker thread)."""
    return await default().aio.collect(url, engine, **kw)


async def map_exposition_async(text: bytes, engine: str = "auto", **kw) -> Snapshot:
    """``map_exposition`` for asyncio (in a worker thread)."""
    return await default().aio.map_exposition(text, engine, **kw)


async def parse_async(text: bytes, format: str = "auto", **kw) -> Parsed:
    """``parse`` for asyncio (in a worker thread)."""
    return await default().aio.parse(text, format, **kw)


async def window_async(earlier: Snapshot, later: Snapshot) -> WindowStats:
    """``window`` for asyncio (in a worker thread)."""
    return await default().aio.window(earlier, later)
