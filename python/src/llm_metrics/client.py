"""The package's API: ``LlmMetrics`` (blocking) and ``AsyncLlmMetrics`` (asyncio).

Invariant: metric semantics stay in the component. ``collect`` is the one
thing done in Python, and only the fetch: the URL is checked against the
egress policy (``llm_metrics.allow``), fetched from a checked address within
its time and size budgets (``llm_metrics.fetch``), and the body is handed to
the component's ``map-exposition``, exactly as a gateway that fetched the text
itself would. The snapshot then says where it came from (``endpoint``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

from . import types as t
from .allow import Egress
from .component import Plugin
from .errors import LlmMetricsError
from .fetch import get

MAX_TIMEOUT = 300.0
"""The longest fetch budget, in seconds (the Rust host's ``MAX_FETCH_BUDGET``)."""
DEFAULT_MAX_BODY = 16 << 20


class LlmMetrics:
    """The component and an egress policy. ``allow`` lists the patterns
    ``collect`` may reach (``None``: each URL's own host and port, never a
    link-local or metadata address). ``component`` loads another build."""

    def __init__(self, allow: Optional[Iterable[str]] = None, *,
                 component: Union[str, Path, None] = None,
                 memory_bytes: int = 512 << 20, time_budget: float = 10.0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.plugin = Plugin(component, memory_bytes=memory_bytes, time_budget=time_budget)
        self.egress = Egress(allow)
        self.ssl_context = ssl_context

    def parse(self, text: bytes, format: str = "auto", *, strict: bool = False,
              content_type: Optional[str] = None) -> t.Parsed:
        """The families of Prometheus 0.0.4 or OpenMetrics text (kind ``parse`` with
        line and column otherwise). ``format``: ``auto``, ``prometheus``, ``openmetrics``."""
        return self.plugin.call("parse", _bytes(text), t.ParseOptions(format, strict, content_type))

    def parse_compact(self, text: bytes, format: str = "auto", *, strict: bool = False,
                      content_type: Optional[str] = None) -> t.CompactParsed:
        """``parse`` in compact form (spans into ``text``; see ``families_from_compact``)."""
        return self.plugin.call("parse-compact", _bytes(text),
                                t.ParseOptions(format, strict, content_type))

    def map_exposition(self, text: bytes, engine: str = "auto", *, instance_id: str = "",
                       content_type: Optional[str] = None) -> t.Snapshot:
        """The snapshot of exposition text fetched elsewhere; ``endpoint`` is empty."""
        return self.plugin.call("map-exposition", _bytes(text), content_type, engine, instance_id)

    def engines(self) -> List[t.EngineInfo]:
        """The engines the component maps, in detection order."""
        return self.plugin.call("engines")

    def window(self, earlier: t.Snapshot, later: t.Snapshot) -> t.WindowStats:
        """Rates and latency between two snapshots of one server."""
        return self.plugin.call("window", earlier, later)

    def collect(self, url: str, engine: str = "auto", *, timeout: float = 10.0,
                headers: Optional[Dict[str, str]] = None, allow: Optional[Iterable[str]] = None,
                instance_id: Optional[str] = None, max_body_bytes: int = DEFAULT_MAX_BODY,
                raw: bool = False) -> t.Snapshot:
        """Fetch ``url`` (within ``timeout`` seconds and ``max_body_bytes``) and map it.

        ``allow`` replaces this client's allow-list for this call. A refused
        destination is ``denied`` before any connection is opened. The
        instance id defaults to the URL's ``host[:port]``; ``raw`` adds the
        parsed families.
        """
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds, not {timeout}")
        egress = self.egress if allow is None else Egress(allow)
        started = time.monotonic()
        grant = egress.check(url, timeout)
        left = timeout - (time.monotonic() - started)  # one budget for lookup and fetch
        if left <= 0:
            raise LlmMetricsError("timeout", "budget ran out looking up the host")
        response = get(grant, left, max_body_bytes, headers, self.ssl_context)
        snapshot = self.map_exposition(
            response.body, engine,
            instance_id=grant.destination.authority if instance_id is None else instance_id,
            content_type=response.content_type)
        families = None
        if raw:
            families = self.parse(response.body, content_type=response.content_type).families
        return dataclasses.replace(snapshot, endpoint=url, raw_metrics=families)

    @property
    def aio(self) -> "AsyncLlmMetrics":
        """The same client for ``asyncio``."""
        return AsyncLlmMetrics(self)


class AsyncLlmMetrics:
    """``LlmMetrics`` for asyncio: each call runs in a worker thread
    (``asyncio.to_thread``), so the event loop keeps running while the
    component computes or a fetch waits. A cancelled call's thread still ends
    within its own budgets."""

    def __init__(self, client: Optional[LlmMetrics] = None, **kwargs) -> None:
        self.sync = client if client is not None else LlmMetrics(**kwargs)

    async def parse(self, text: bytes, format: str = "auto", **kw) -> t.Parsed:
        """``LlmMetrics.parse``."""
        return await asyncio.to_thread(self.sync.parse, text, format, **kw)

    async def parse_compact(self, text: bytes, format: str = "auto", **kw) -> t.CompactParsed:
        """``LlmMetrics.parse_compact``."""
        return await asyncio.to_thread(self.sync.parse_compact, text, format, **kw)

    async def map_exposition(self, text: bytes, engine: str = "auto", **kw) -> t.Snapshot:
        """``LlmMetrics.map_exposition``."""
        return await asyncio.to_thread(self.sync.map_exposition, text, engine, **kw)

    async def engines(self) -> List[t.EngineInfo]:
        """``LlmMetrics.engines``."""
        return await asyncio.to_thread(self.sync.engines)

    async def window(self, earlier: t.Snapshot, later: t.Snapshot) -> t.WindowStats:
        """``LlmMetrics.window``."""
        return await asyncio.to_thread(self.sync.window, earlier, later)

    async def collect(self, url: str, engine: str = "auto", **kw) -> t.Snapshot:
        """``LlmMetrics.collect``."""
        return await asyncio.to_thread(self.sync.collect, url, engine, **kw)


def _bytes(text: Union[bytes, bytearray, memoryview, str]) -> bytes:
    return text.encode() if isinstance(text, str) else bytes(text)
