"""The component in wasmtime-py: loaded once, one fresh store per call.

Invariant: the component runs with no capability beyond what Rust's standard
library asks of a ``wasm32-wasip2`` host (clocks, a random seed, empty cli
basics): no ``wasi:http``, no environment, arguments, stdio or directories,
so it cannot reach the network or the file system whatever it does. Each call
gets its own store (one call's state never leaks into the next), a memory
cap and a time budget (an epoch deadline, ticked every 10 ms by one daemon
thread); an exhausted budget or a trap is an ``LlmMetricsError``
(``wall-clock``, ``plugin-trap``), and the component keeps serving.
"""

from __future__ import annotations

import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import wasmtime
from wasmtime.component import Component, Linker

from . import types as t
from .errors import ContractError, LlmMetricsError
from .invoke import call
from .wit import COLLECT_ERROR_CASES, WINDOW_ERROR_CASES, Function

PACKAGE = "llm-metrics:plugin"
ALLOWED_IMPORTS = (PACKAGE + "/types@", "wasi:cli/", "wasi:clocks/", "wasi:io/",
                   "wasi:random/insecure-seed@")
"""What the ``mapping`` world may import: its own types and Rust std's needs (no network, no files)."""
TICK_SECONDS = 0.01


def bundled_component() -> Path:
    """The component inside the installed package (the ``mapping`` world)."""
    path = resources.files("llm_metrics") / "llm-metrics.wasm"
    return Path(str(path))


_ENGINE_LOCK = threading.Lock()
_ENGINE: Optional[wasmtime.Engine] = None
_LOADED: Dict[str, "_Loaded"] = {}


def shared_engine() -> wasmtime.Engine:
    """The process's one engine (epoch interruption on), and the daemon thread
    that ticks it every ``TICK_SECONDS``."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            config = wasmtime.Config()
            config.epoch_interruption = True
            engine = wasmtime.Engine(config)

            def tick() -> None:
                while True:
                    time.sleep(TICK_SECONDS)
                    engine.increment_epoch()

            threading.Thread(target=tick, name="llm-metrics-epoch", daemon=True).start()
            _ENGINE = engine
        return _ENGINE


def _interfaces(component: Component, engine: wasmtime.Engine) -> Dict[str, Any]:
    """The component's exported interfaces by short name (``parser``, ``mapper``),
    whatever version of the package they carry."""
    found = {}
    for name, item in component.type.exports(engine).items():
        if name.startswith(PACKAGE + "/"):
            found[name[len(PACKAGE) + 1:].split("@")[0]] = (name, item.ty)
    return found


class _Loaded:
    """A compiled component, its linker and its functions' converters."""

    def __init__(self, path: Path) -> None:
        self.engine = shared_engine()
        self.path = path
        self.component = Component.from_file(self.engine, str(path))
        refused = [i for i in self.imports() if not i.startswith(ALLOWED_IMPORTS)]
        if refused:
            raise ContractError(
                f"{path} imports {', '.join(refused)}: this package runs the `mapping` "
                "world, which needs no network (`component_path -- mapping` builds it)")
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        self.exports = _interfaces(self.component, self.engine)
        for needed in ("parser", "mapper"):
            if needed not in self.exports:
                raise ContractError(f"the component exports no {PACKAGE}/{needed} interface")
        func = self.exports_func
        parse_err = dict(err=t.ParseError, error_kind="parse")
        self.functions: Dict[str, Function] = {
            "parse": Function("parse", func("parser", "parse"),
                              [bytes, t.ParseOptions], t.Parsed, **parse_err),
            "parse-compact": Function("parse-compact", func("parser", "parse-compact"),
                                      [bytes, t.ParseOptions], t.CompactParsed, **parse_err),
            "map-exposition": Function(
                "map-exposition", func("mapper", "map-exposition"),
                [bytes, Optional[str], str, str], t.Snapshot, err=COLLECT_ERROR_CASES),
            "engines": Function("engines", func("mapper", "engines"), [], List[t.EngineInfo]),
            "window": Function("window", func("mapper", "window"),
                               [t.Snapshot, t.Snapshot], t.WindowStats, err=WINDOW_ERROR_CASES),
        }
        where = {"parse": "parser", "parse-compact": "parser"}
        self.interface = {f: self.exports[where.get(f, "mapper")][0] for f in self.functions}

    def imports(self) -> List[str]:
        """The names of everything the component imports."""
        return list(self.component.type.imports(self.engine))

    def exports_func(self, iface: str, name: str) -> Any:
        """The type of function ``name`` of exported interface ``iface``."""
        funcs = self.exports[iface][1].exports(self.engine)
        if name not in funcs:
            raise ContractError(f"{iface} exports no function {name}")
        return funcs[name].ty


def _load(path: Path) -> _Loaded:
    key = str(path.resolve())
    with _ENGINE_LOCK:
        loaded = _LOADED.get(key)
    if loaded is None:
        loaded = _Loaded(path)
        with _ENGINE_LOCK:
            loaded = _LOADED.setdefault(key, loaded)
    return loaded


class Plugin:
    """The component (compiled once per process and path) with per-call budgets;
    every call runs in a fresh store.

    ``path`` defaults to the component the package ships. ``memory_bytes``
    caps the guest's memory per call, ``time_budget`` (seconds) its running time.
    """

    def __init__(self, path: Union[str, Path, None] = None, *,
                 memory_bytes: int = 512 << 20, time_budget: float = 10.0) -> None:
        self.path = Path(path) if path is not None else bundled_component()
        self.loaded = _load(self.path)
        self.functions = self.loaded.functions
        self.memory_bytes = memory_bytes
        self.time_budget = time_budget
        self.ticks = max(1, int(time_budget / TICK_SECONDS))

    def imports(self) -> List[str]:
        """The names of everything the component imports."""
        return self.loaded.imports()

    def exports_func(self, iface: str, name: str) -> Any:
        """The type of function ``name`` of exported interface ``iface`` (``parser``, ``mapper``)."""
        return self.loaded.exports_func(iface, name)

    def call(self, name: str, *args: Any) -> Any:
        """Call an exported function with Python values; its typed result."""
        return self.functions[name].result(self.raw(name, *args))

    def raw(self, name: str, *args: Any) -> Any:
        """Call an exported function; the value exactly as wasmtime-py lifts it."""
        lowered = self.functions[name].args(*args)
        loaded = self.loaded
        store = wasmtime.Store(loaded.engine)
        store.set_wasi(wasmtime.WasiConfig())
        store.set_limits(memory_size=self.memory_bytes)
        store.set_epoch_deadline(self.ticks)
        try:
            instance = loaded.linker.instantiate(store, loaded.component)
            iface = instance.get_export_index(store, loaded.interface[name])
            f = instance.get_func(store, instance.get_export_index(store, name, iface))
            raw = call(f, store, lowered)
            f.post_return(store)
            return raw
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            cause = _cause(str(e))
            if cause == "wasm trap: interrupt":
                raise LlmMetricsError("wall-clock",
                                      f"{name} ran past its {self.time_budget} s budget") from None
            raise LlmMetricsError("plugin-trap", f"{name}: {cause}") from None


def _cause(message: str) -> str:
    """The line that says why, from wasmtime's multi-line error (backtrace dropped)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if "Caused by:" in lines:
        rest = lines[lines.index("Caused by:") + 1:]
        if rest:
            return rest[-1]
    return lines[0] if lines else message
