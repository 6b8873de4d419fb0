"""Reading results: compact parses back into families, results into JSON-ready dicts.

Invariant: both are pure re-spellings of what the component returned, with
nothing computed: ``families_from_compact`` gives exactly the families
``parse`` returns for the same text (the tests check every fixture), and
``to_dict`` keeps every field, spelling non-finite numbers as the contract's
JSON does (``"NaN"``, ``"+Inf"``, ``"-Inf"``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Optional

from . import types as t


def families_from_compact(text: bytes, compact: t.CompactParsed) -> List[t.Family]:
    """The families ``parse`` returns, read from ``parse_compact``'s result and
    the text it parsed."""
    strings = compact.strings.encode()

    def string(span: Optional[t.Span]) -> Optional[str]:
        if span is None:
            return None
        at, n = span.offset, span.len
        if at < len(text):
            return text[at:at + n].decode()
        at -= len(text)
        return strings[at:at + n].decode()

    def labels(start: int, n: int) -> List[t.Label]:
        return [t.Label(string(label.name), string(label.value))
                for label in compact.labels[start:start + n]]

    def sample(s: t.CompactSample) -> t.Sample:
        exemplar = None
        if s.exemplar is not None:
            e = compact.exemplars[s.exemplar]
            exemplar = t.Exemplar(labels(e.labels_start, e.labels_len), e.value, e.timestamp_ms)
        return t.Sample(string(s.name), labels(s.labels_start, s.labels_len), s.value,
                        s.timestamp_ms, exemplar)

    return [t.Family(string(f.name), f.type, string(f.help), string(f.unit),
                     [sample(s) for s in compact.samples[f.samples_start:
                                                         f.samples_start + f.samples_len]])
            for f in compact.families]


def _number(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def to_dict(value: Any) -> Any:
    """A result as plain JSON-ready data: dataclasses to dicts (every field,
    ``None`` kept), tuples to lists, non-finite floats to strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_dict(v) for v in value]
    if isinstance(value, float):
        return _number(value)
    return value
