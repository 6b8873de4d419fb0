"""The package's one exception type, carrying the contract's error kinds.

Invariant: every failure of a call, the component's and the fetch's alike, is
an ``LlmMetricsError`` whose ``kind`` is the WIT case (``parse``,
``unknown-engine``, ``http-status``, ``denied``, ...) or one of the host's
kinds ``llm-metrics-serve`` also uses (``cpu-budget``, ``plugin-trap``), and
whose ``detail`` is that case's payload, typed (``ParseError``, an ``int``
status, a ``str``, a list of engine ids, a pair).
"""

from __future__ import annotations

from typing import Any


class LlmMetricsError(Exception):
    """A typed failure: ``kind`` is the error kind, ``detail`` its payload."""

    def __init__(self, kind: str, detail: Any):
        super().__init__(f"{kind}: {describe(kind, detail)}")
        self.kind = kind
        self.detail = detail


class ContractError(LlmMetricsError):
    """The component's types and the package's dataclasses disagree (kind ``contract``)."""

    def __init__(self, detail: str):
        super().__init__("contract", detail)


def describe(kind: str, detail: Any) -> str:
    """A one-line description of an error's detail."""
    if kind == "parse" and hasattr(detail, "line"):
        return f"line {detail.line}, column {detail.column}: {detail.message}"
    if kind == "http-status":
        return f"the server answered {detail}"
    if kind == "body-too-large":
        return f"the body is larger than {detail} bytes"
    if isinstance(detail, (list, tuple)):
        return ", ".join(str(d) for d in detail)
    return str(detail)
