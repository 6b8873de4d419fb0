"""map_exposition, engines and window through the installed package."""

import dataclasses
import json

import pytest

import llm_metrics
from llm_metrics import LlmMetricsError

from conftest import fixture

VLLM = fixture("vllm_v1.prom")


def test_map(client):
    snap = client.map_exposition(VLLM, instance_id="pod-1",
                                 content_type="text/plain; version=0.0.4")
    assert isinstance(snap, llm_metrics.Snapshot)
    assert snap.engine == "vllm"
    assert snap.instance_id == "pod-1"
    assert snap.endpoint == ""
    assert isinstance(snap.load.requests_running, float)
    assert snap.collected_at.tzinfo is not None
    ttft = snap.latency.time_to_first_token_seconds
    assert isinstance(ttft, llm_metrics.Distribution)
    assert ttft.buckets[-1].le == float("inf")
    tgi = client.map_exposition(fixture("tgi.prom"))
    assert tgi.engine == "tgi"
    assert tgi.model_names == []
    # Not exposed is None, never 0.
    assert tgi.latency.time_to_first_token_seconds is None


def test_engine_metrics_are_typed(client):
    snap = client.map_exposition(VLLM)
    values = [f.value for g in snap.engine_metrics for f in g.fields]
    assert any(isinstance(v, float) for v in values)
    assert any(isinstance(v, llm_metrics.ByLabel) for v in values)
    by_label = next(v for v in values if isinstance(v, llm_metrics.ByLabel))
    assert by_label.label and all(isinstance(x, llm_metrics.LabeledValue) for x in by_label.values)


def test_map_errors_are_typed(client):
    with pytest.raises(LlmMetricsError) as err:
        client.map_exposition(b"go_goroutines 7\n")
    assert err.value.kind == "unrecognized-engine"
    with pytest.raises(LlmMetricsError) as err:
        client.map_exposition(VLLM, engine="nope")
    assert err.value.kind == "unknown-engine"
    with pytest.raises(LlmMetricsError) as err:
        client.map_exposition(b'"vllm:x 1\\n"')
    assert err.value.kind == "not-an-exposition"
    with pytest.raises(LlmMetricsError) as err:
        client.map_exposition(b'metric{le="1" 2\n')
    assert err.value.kind == "parse"
    assert err.value.detail.line == 1


def test_engines(client):
    engines = client.engines()
    assert all(isinstance(e, llm_metrics.EngineInfo) for e in engines)
    assert {"vllm", "tgi", "sglang", "llamacpp", "triton", "trtllm-serve"} <= {e.id for e in engines}
    assert llm_metrics.engines() == engines


def test_window(client):
    t0 = client.map_exposition(fixture("window/vllm_t0.prom"), instance_id="a")
    t1 = client.map_exposition(fixture("window/vllm_t1.prom"), instance_id="a")
    later = dataclasses.replace(t1, collected_at_ms=t0.collected_at_ms + 10_000)
    w = client.window(t0, later)
    assert isinstance(w, llm_metrics.WindowStats)
    assert w.seconds == 10.0
    assert w.restarted is False
    assert w.rates.generation_tokens == (later.totals.generation_tokens
                                         - t0.totals.generation_tokens) / 10.0
    with pytest.raises(LlmMetricsError) as err:
        client.window(later, t0)
    assert err.value.kind == "not-later"
    assert err.value.detail == (later.collected_at_ms, t0.collected_at_ms)
    other = dataclasses.replace(later, instance_id="b")
    with pytest.raises(LlmMetricsError) as err:
        client.window(t0, other)
    assert err.value.kind == "different-instances"
    assert err.value.detail == ("a", "b")


def test_to_dict_is_json_with_the_contracts_spelling(client):
    snap = client.map_exposition(VLLM, instance_id="pod-1")
    doc = json.loads(json.dumps(llm_metrics.to_dict(snap), allow_nan=False))
    assert doc["instance_id"] == "pod-1"
    assert doc["load"]["requests_running"] == snap.load.requests_running
    assert doc["latency"]["time_to_first_token_seconds"]["buckets"][-1]["le"] == "+Inf"


def test_budgets_are_typed_errors_and_the_component_keeps_serving():
    big = fixture("vllm_v1.prom") * 20  # 2 MB
    small = b"vllm:num_requests_running 1\n"
    # The guest's allocation fails past the memory cap: a trap, not a crash.
    tiny = llm_metrics.LlmMetrics(memory_bytes=2 << 20)
    with pytest.raises(LlmMetricsError) as err:
        tiny.map_exposition(big)
    assert err.value.kind == "plugin-trap"
    assert "unreachable" in str(err.value)
    assert tiny.map_exposition(small).engine == "vllm"
    hasty = llm_metrics.LlmMetrics(time_budget=0.01)
    with pytest.raises(LlmMetricsError) as err:
        hasty.map_exposition(big)
    assert err.value.kind == "wall-clock"
    # The same compiled component, with a budget a loaded machine can meet.
    assert llm_metrics.LlmMetrics().plugin.loaded is hasty.plugin.loaded
    assert llm_metrics.LlmMetrics().map_exposition(small).engine == "vllm"
