"""The llm-metrics component from Python, through wasmtime-py's component API.

A small example embedding: ``LlmMetrics(path)`` loads the built component
(``cargo run -q -p llm-metrics-host --example component_path`` prints where
it is) and offers ``parse``, ``map`` and ``collect``, returning plain dicts. WIT records arrive from
wasmtime-py as objects whose attributes keep the WIT (kebab-case) names,
variants as ``Variant(tag, payload)``; this module turns both into dicts with
snake_case keys, and errors into ``ComponentError(kind, detail)``.

Every call gets a fresh store, as the Rust host does, so one call's state
never leaks into the next.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

import wasmtime
from wasmtime.component import Component, Linker, Record, Variant

PARSER = "llm-metrics:plugin/parser@0.4.0"
MAPPER = "llm-metrics:plugin/mapper@0.4.0"
COLLECTOR = "llm-metrics:plugin/collector@0.4.0"


class ComponentError(Exception):
    """A typed error the component returned: ``kind`` is the WIT case."""

    def __init__(self, kind: str, detail: Any):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def plain(value: Any) -> Any:
    """WIT values as plain Python: records to dicts with snake_case keys."""
    if isinstance(value, Record):
        return {k.replace("-", "_"): plain(v) for k, v in vars(value).items()}
    if isinstance(value, Variant):
        return {"tag": value.tag, "value": plain(value.payload)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def record(**fields: Any) -> SimpleNamespace:
    """A WIT record argument: keyword names become kebab-case fields."""
    ns = SimpleNamespace()
    for name, value in fields.items():
        setattr(ns, name.replace("_", "-"), value)
    return ns


class LlmMetrics:
    """The component, loaded once; each call runs in a fresh store."""

    def __init__(self, path: str, http: bool = True):
        self.engine = wasmtime.Engine()
        self.component = Component.from_file(self.engine, path)
        self.http = http
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        if http:
            self.linker.add_wasi_http()

    def _call(self, interface: str, func: str, *args: Any) -> Any:
        store = wasmtime.Store(self.engine)
        # No arguments, environment, stdio or directories.
        store.set_wasi(wasmtime.WasiConfig())
        if self.http:
            store.set_wasi_http()
        instance = self.linker.instantiate(store, self.component)
        iface = instance.get_export_index(store, interface)
        if iface is None:
            raise LookupError(f"the component does not export {interface}")
        f = instance.get_func(store, instance.get_export_index(store, func, iface))
        result = f(store, *args)
        f.post_return(store)
        return result

    def parse(self, text: bytes, fmt: str = "auto", strict: bool = False,
              content_type: Optional[str] = None) -> dict:
        """``parser.parse``: the families, or ``ComponentError('parse', …)``."""
        options = record(format=fmt, strict=strict, content_type=content_type)
        result = self._call(PARSER, "parse", text, options)
        # ok and err are both records, so wasmtime-py tags them.
        if result.tag == "err":
            raise ComponentError("parse", plain(result.payload))
        return plain(result.payload)

    def parse_compact(self, text: bytes, fmt: str = "auto", strict: bool = False,
                      content_type: Optional[str] = None) -> dict:
        """``parser.parse-compact``: flat lists of records whose strings are
        spans (``offset``, ``len``) into ``text`` followed by ``strings``;
        ``families_from_compact`` reads them back."""
        options = record(format=fmt, strict=strict, content_type=content_type)
        result = self._call(PARSER, "parse-compact", text, options)
        if result.tag == "err":
            raise ComponentError("parse", plain(result.payload))
        return plain(result.payload)

    def map(self, text: bytes, engine: str = "auto", instance_id: str = "",
            content_type: Optional[str] = None) -> dict:
        """``mapper.map-exposition``: the snapshot."""
        return self._snapshot(self._call(MAPPER, "map-exposition", text, content_type,
                                         engine, instance_id))

    def engines(self) -> list:
        """``mapper.engines``."""
        return plain(self._call(MAPPER, "engines"))

    def collect(self, url: str, engine: str = "auto", timeout_ms: int = 10_000,
                max_body_bytes: int = 16 << 20, instance_id: Optional[str] = None,
                headers: Optional[dict] = None, include_raw: bool = False) -> dict:
        """``collector.collect``: fetch ``url`` and map it."""
        target = record(
            url=url, instance_id=instance_id, engine=engine, timeout_ms=timeout_ms,
            max_body_bytes=max_body_bytes,
            headers=[record(name=k, value=v) for k, v in (headers or {}).items()],
            include_raw=include_raw,
        )
        return self._snapshot(self._call(COLLECTOR, "collect", target))

    @staticmethod
    def _snapshot(result: Any) -> dict:
        # ok is a record and err a variant, so wasmtime-py returns either
        # payload as it is.
        if isinstance(result, Variant):
            raise ComponentError(result.tag, plain(result.payload))
        return plain(result)


def families_from_compact(text: bytes, compact: dict) -> list:
    """The families ``parse`` returns, read from ``parse-compact``'s result
    and the text it parsed."""
    strings = compact["strings"].encode()

    def string(span: Optional[dict]) -> Optional[str]:
        if span is None:
            return None
        at, n = span["offset"], span["len"]
        if at < len(text):
            return text[at:at + n].decode()
        at -= len(text)
        return strings[at:at + n].decode()

    def labels(start: int, n: int) -> list:
        return [{"name": string(l["name"]), "value": string(l["value"])}
                for l in compact["labels"][start:start + n]]

    def sample(s: dict) -> dict:
        exemplar = None
        if s["exemplar"] is not None:
            e = compact["exemplars"][s["exemplar"]]
            exemplar = {"labels": labels(e["labels_start"], e["labels_len"]),
                        "value": e["value"], "timestamp_ms": e["timestamp_ms"]}
        return {"name": string(s["name"]), "labels": labels(s["labels_start"], s["labels_len"]),
                "value": s["value"], "timestamp_ms": s["timestamp_ms"], "exemplar": exemplar}

    samples = compact["samples"]
    return [{"name": string(f["name"]), "type": f["type"], "help": string(f["help"]),
             "unit": string(f["unit"]),
             "samples": [sample(s) for s in samples[f["samples_start"]:
                                                    f["samples_start"] + f["samples_len"]]]}
            for f in compact["families"]]
