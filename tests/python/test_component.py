"""pytest: the llm-metrics component from Python via wasmtime-py.

The component paths come from ``LLM_METRICS_WASM`` and
``LLM_METRICS_MAPPING_WASM`` (``.ci/run`` sets them from
``cargo run -q -p llm-metrics-host --example component_path [mapping]``). ``collect`` fetches from a real HTTP server
on loopback, in a thread of this process.
"""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import math

from llm_metrics_component import ComponentError, LlmMetrics, families_from_compact

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VLLM = (FIXTURES / "vllm_v1.prom").read_bytes()


def wasm(env: str) -> str:
    path = os.environ.get(env)
    if not path:
        pytest.fail(
            f"{env} is not set: "
            "`cargo run -q -p llm-metrics-host --example component_path` prints it"
        )
    return path


@pytest.fixture(scope="module")
def full() -> LlmMetrics:
    return LlmMetrics(wasm("LLM_METRICS_WASM"))


@pytest.fixture(scope="module")
def upstream():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(VLLM)))
                self.end_headers()
                self.wfile.write(VLLM)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_parse(full):
    parsed = full.parse(VLLM)
    assert parsed["format"] == "prometheus"
    running = next(f for f in parsed["families"] if f["name"] == "vllm:num_requests_running")
    assert running["type"] == "gauge"
    sample = running["samples"][0]
    assert isinstance(sample["value"], float)
    assert any(label["name"] == "model_name" for label in sample["labels"])


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN (the fixtures have NaN values)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.prom")))
def test_parse_compact_reads_as_parse(full, fixture):
    text = (FIXTURES / fixture).read_bytes()
    parsed = full.parse(text)
    compact = full.parse_compact(text)
    assert compact["format"] == parsed["format"]
    assert same(families_from_compact(text, compact), parsed["families"])


def test_parse_compact_spans_point_into_the_text(full):
    text = b'a{x="plain",y="esc\\\\"} 1\n'
    compact = full.parse_compact(text)
    plain_value, escaped_value = (label["value"] for label in compact["labels"])
    assert text[plain_value["offset"]:][:plain_value["len"]] == b"plain"
    assert escaped_value["offset"] >= len(text)
    assert compact["strings"] == "esc\\"


def test_parse_error_has_line_and_column(full):
    with pytest.raises(ComponentError) as err:
        full.parse(b'ok 1\nbad{le="1" 2\n', fmt="prometheus", strict=True)
    assert err.value.kind == "parse"
    assert err.value.detail["line"] == 2
    assert err.value.detail["column"] > 1


def test_map(full):
    snap = full.map(VLLM, instance_id="pod-1", content_type="text/plain; version=0.0.4")
    assert snap["engine"] == "vllm"
    assert snap["instance_id"] == "pod-1"
    assert isinstance(snap["load"]["requests_running"], float)
    tgi = full.map((FIXTURES / "tgi.prom").read_bytes())
    assert tgi["engine"] == "tgi"
    assert tgi["model_names"] == []
    # Not exposed is None, never 0.
    assert tgi["latency"]["time_to_first_token_seconds"] is None


def test_map_errors_are_typed(full):
    with pytest.raises(ComponentError) as err:
        full.map(b"go_goroutines 7\n")
    assert err.value.kind == "unrecognized-engine"
    with pytest.raises(ComponentError) as err:
        full.map(VLLM, engine="nope")
    assert err.value.kind == "unknown-engine"


def test_engines(full):
    ids = {e["id"] for e in full.engines()}
    assert {"vllm", "tgi", "sglang", "llamacpp", "triton", "trtllm-serve"} <= ids


def test_collect_from_loopback(full, upstream):
    snap = full.collect(f"{upstream}/metrics")
    assert snap["engine"] == "vllm"
    assert snap["endpoint"] == f"{upstream}/metrics"
    assert snap["instance_id"] == upstream.removeprefix("http://")
    assert isinstance(snap["load"]["requests_waiting"], float)


def test_collect_status_error(full, upstream):
    with pytest.raises(ComponentError) as err:
        full.collect(f"{upstream}/missing")
    assert err.value.kind == "http-status"
    assert err.value.detail == 404


def test_mapper_only_component_needs_no_http():
    mapper = LlmMetrics(wasm("LLM_METRICS_MAPPING_WASM"), http=False)
    snap = mapper.map((FIXTURES / "sglang_v0_5.prom").read_bytes())
    assert snap["engine"] == "sglang"
    with pytest.raises(LookupError):
        mapper.collect("http://127.0.0.1:1/metrics")
