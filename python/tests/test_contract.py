"""The dataclasses are the contract: every field the component returns, for
every fixture, is a dataclass field, and every dataclass field is one the
component returned; a snapshot goes back into the component unchanged.

The walk below reads wasmtime-py's raw values (records keep the WIT names as
attributes) next to the package's typed results, independently of how the
package converts them, so a field added to the WIT fails here (and at load
time, as a ``contract`` error) until ``llm_metrics/types.py`` follows.
"""

import dataclasses
import math
from pathlib import Path

import pytest
from wasmtime.component import Record, Variant

import llm_metrics
from llm_metrics import ContractError, LlmMetricsError
from llm_metrics.wit import lift

from conftest import FIXTURES, fixture

ALL = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.prom"))
REQUESTED = {"trtllm_serve_unprefixed.prom": "trtllm-serve"}


def correspond(raw, typed, path="$"):
    """Assert that the typed value holds exactly the raw value's fields and values."""
    if isinstance(raw, Variant):
        return correspond(raw.payload, typed, f"{path}<{raw.tag}>")
    if isinstance(raw, Record):
        assert dataclasses.is_dataclass(typed), f"{path}: a record became {type(typed).__name__}"
        wit = {k.replace("-", "_") for k in vars(raw)}
        py = {f.name for f in dataclasses.fields(typed)}
        assert wit == py, (f"{path} ({type(typed).__name__}): only in the component "
                           f"{sorted(wit - py)}, only in the package {sorted(py - wit)}")
        for k, v in vars(raw).items():
            correspond(v, getattr(typed, k.replace("-", "_")), f"{path}.{k}")
        return
    if isinstance(raw, tuple) and dataclasses.is_dataclass(typed):
        fields = dataclasses.fields(typed)
        assert len(fields) == len(raw), path
        for f, v in zip(fields, raw):
            correspond(v, getattr(typed, f.name), f"{path}.{f.name}")
        return
    if isinstance(raw, (list, tuple)):
        assert isinstance(typed, (list, tuple)) and len(raw) == len(typed), path
        for i, (r, t) in enumerate(zip(raw, typed)):
            correspond(r, t, f"{path}[{i}]")
        return
    if isinstance(raw, float) and math.isnan(raw):
        assert isinstance(typed, float) and math.isnan(typed), path
        return
    assert type(raw) is type(typed) and raw == typed, f"{path}: {raw!r} vs {typed!r}"


def identical(a, b, path="$"):
    """Two raw wasmtime-py values are the same (NaN equal to NaN)."""
    if isinstance(a, Record) or isinstance(b, Record):
        assert isinstance(a, Record) and isinstance(b, Record), path
        assert vars(a).keys() == vars(b).keys(), path
        for k in vars(a):
            identical(getattr(a, k), getattr(b, k), f"{path}.{k}")
    elif isinstance(a, Variant) or isinstance(b, Variant):
        assert isinstance(a, Variant) and isinstance(b, Variant) and a.tag == b.tag, path
        identical(a.payload, b.payload, path)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            identical(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def raw_and_typed(client, name, *args):
    plugin = client.plugin
    raw = plugin.raw(name, *args)
    try:
        return raw, plugin.functions[name].result(raw)
    except LlmMetricsError as e:
        return raw, e.detail


@pytest.mark.parametrize("name", ALL)
def test_every_field_of_every_fixture_maps_both_ways(client, name):
    text = fixture(name)
    # Names too generic to detect are read only when the engine is requested.
    engine = REQUESTED.get(name, "auto")
    raw, snap = raw_and_typed(client, "map-exposition", text, None, engine, "pod-1")
    assert isinstance(snap, llm_metrics.Snapshot)
    correspond(raw, snap)
    # Back: the dataclass lowers to exactly the record the component returned.
    identical(client.plugin.functions["window"].lowers[0](snap), raw)

    options = llm_metrics.types.ParseOptions("auto", False, None)
    for function in ("parse", "parse-compact"):
        raw, parsed = raw_and_typed(client, function, text, options)
        correspond(raw, parsed)


def test_windows_engines_and_errors_map_both_ways(client):
    snaps = [client.map_exposition(fixture(f"window/{n}.prom"), instance_id="w")
             for n in ("vllm_t0", "vllm_t1", "vllm_t2_restarted", "vllm_t3")]
    for earlier, later in zip(snaps, snaps[1:]):
        later = dataclasses.replace(later, collected_at_ms=earlier.collected_at_ms + 5000)
        raw, stats = raw_and_typed(client, "window", earlier, later)
        assert isinstance(stats, llm_metrics.WindowStats)
        correspond(raw, stats)
    assert any(client.window(a, dataclasses.replace(b, collected_at_ms=a.collected_at_ms + 1)
                             ).restarted for a, b in zip(snaps, snaps[1:]))
    raw, engines = raw_and_typed(client, "engines")
    correspond(raw, engines)

    errors = [
        ("window", snaps[1], snaps[0]),
        ("window", snaps[0], dataclasses.replace(snaps[1], engine="tgi")),
        ("map-exposition", b"x{", None, "auto", ""),
        ("map-exposition", b"vllm:a 1\nsglang:b 1\n", None, "auto", ""),
        ("parse", b"x{", llm_metrics.types.ParseOptions("auto", True, None)),
    ]
    for name, *args in errors:
        raw, detail = raw_and_typed(client, name, *args)
        correspond(raw, detail)


def test_a_contract_change_fails_loudly(client):
    """A dataclass missing a field (or carrying one the WIT lacks) is refused
    when the converters are built, naming the field."""
    ty = client.plugin.exports_func("mapper", "map-exposition").result.ok

    @dataclasses.dataclass(frozen=True)
    class Totals:
        requests_succeeded: float
        requests_failed: float
        requests_rejected: float
        prompt_tokens: float
        prompt_tokens_cached: float
        generation_tokens: float
        preemptions: float
        requests_dropped: float  # not in the component

    totals_type = dict(ty.fields)["totals"]
    with pytest.raises(ContractError) as err:
        lift(totals_type, Totals, "$.totals")
    assert "requests_dropped" in str(err.value)
    assert err.value.kind == "contract"


def test_the_bundled_component_is_the_mapping_world(client):
    imports = client.plugin.imports()
    assert imports and not [i for i in imports if i.startswith("wasi:http")]
    assert Path(client.plugin.path).name == "llm-metrics.wasm"
