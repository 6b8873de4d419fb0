"""collect: a real HTTP server on loopback, fetched by the package and mapped
by the component."""

import time

import pytest

import llm_metrics
from llm_metrics import LlmMetricsError

from conftest import fixture


def test_collect_from_loopback(client, upstream):
    url = f"{upstream.base}/metrics"
    snap = client.collect(url)
    assert snap.engine == "vllm"
    assert snap.endpoint == url
    assert snap.instance_id == f"127.0.0.1:{upstream.port}"
    assert snap.content_type == "text/plain; version=0.0.4"
    assert isinstance(snap.load.requests_waiting, float)
    assert snap.raw_metrics is None
    # The same snapshot the component maps from the same bytes, time aside.
    direct = client.map_exposition(fixture("vllm_v1.prom"), instance_id=snap.instance_id,
                                   content_type=snap.content_type)
    assert llm_metrics.to_dict(snap) | {"collected_at_ms": 0, "endpoint": ""} == \
        llm_metrics.to_dict(direct) | {"collected_at_ms": 0}


def test_collect_options(client, upstream):
    snap = client.collect(f"{upstream.base}/tgi", "tgi", instance_id="gpu-3", raw=True)
    assert (snap.engine, snap.instance_id) == ("tgi", "gpu-3")
    assert any(f.name.startswith("tgi_") for f in snap.raw_metrics)
    with pytest.raises(LlmMetricsError) as err:
        client.collect(f"{upstream.base}/metrics", "tgi")
    assert err.value.kind == "unrecognized-engine"
    with pytest.raises(LlmMetricsError) as err:
        client.collect(f"{upstream.base}/metrics", "nope")
    assert err.value.kind == "unknown-engine"


def test_headers_are_sent(client, upstream):
    snap = client.collect(f"{upstream.base}/echo-headers", raw=True,
                          headers={"Authorization": "Bearer s3cret"})
    labels = snap.raw_metrics[0].samples[0].labels
    assert labels[0].value == "Bearer s3cret"


def test_status_content_type_and_encoding_errors(client, upstream):
    cases = {
        "/missing": ("http-status", 404),
        "/html": ("not-an-exposition", None),
        "/gzip": ("not-an-exposition", None),
        "/quoted": ("not-an-exposition", None),
    }
    for path, (kind, detail) in cases.items():
        with pytest.raises(LlmMetricsError) as err:
            client.collect(upstream.base + path)
        assert err.value.kind == kind, path
        if detail is not None:
            assert err.value.detail == detail


def test_body_cap_with_and_without_a_length(client, upstream):
    for path in ("/metrics", "/unsized"):
        with pytest.raises(LlmMetricsError) as err:
            client.collect(upstream.base + path, max_body_bytes=1000)
        assert (err.value.kind, err.value.detail) == ("body-too-large", 1000), path
    assert client.collect(upstream.base + "/unsized").engine == "vllm"


def test_a_server_that_never_answers_ends_as_timeout_within_the_budget(client, upstream):
    started = time.monotonic()
    with pytest.raises(LlmMetricsError) as err:
        client.collect(f"{upstream.base}/stall", timeout=0.5)
    assert err.value.kind == "timeout"
    assert time.monotonic() - started < 5


def test_connection_refused_and_bad_urls(client, recorder):
    recorder.close()  # nothing listens there any more
    with pytest.raises(LlmMetricsError) as err:
        client.collect(f"http://127.0.0.1:{recorder.port}/metrics")
    assert err.value.kind == "connect"
    for url in ("ftp://127.0.0.1/x", "http:///x", "http://user:pw@127.0.0.1/x", "/metrics",
                "http://127.0.0.1:99999/"):
        with pytest.raises(LlmMetricsError) as err:
            client.collect(url)
        assert err.value.kind == "invalid-url", url
    with pytest.raises(ValueError):
        client.collect("http://127.0.0.1/", timeout=0)
