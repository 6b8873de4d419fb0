"""parse and parse_compact through the installed package."""

import math

import pytest

import llm_metrics
from llm_metrics import LlmMetricsError, families_from_compact

from conftest import PROM, fixture

VLLM = fixture("vllm_v1.prom")


def test_parse(client):
    parsed = client.parse(VLLM)
    assert parsed.format == "prometheus"
    running = next(f for f in parsed.families if f.name == "vllm:num_requests_running")
    assert running.type == "gauge"
    sample = running.samples[0]
    assert isinstance(sample.value, float)
    assert any(label.name == "model_name" for label in sample.labels)
    assert isinstance(sample.labels[0], llm_metrics.Label)


def test_parse_takes_str_and_the_module_function_too(client):
    assert llm_metrics.parse(VLLM.decode()) == client.parse(VLLM)


def test_openmetrics_and_strict(client):
    text = b"# TYPE a counter\na_total 1 # {trace_id=\"x\"} 0.5 1.25\n# EOF\n"
    parsed = client.parse(text)
    assert parsed.format == "openmetrics"
    sample = parsed.families[0].samples[0]
    assert sample.exemplar.labels == [llm_metrics.Label("trace_id", "x")]
    assert sample.exemplar.timestamp_ms == 1250
    with pytest.raises(LlmMetricsError) as err:
        client.parse(b"# TYPE a counter\na_total -1\n# EOF\n", strict=True)
    assert err.value.kind == "parse"


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN (the fixtures have NaN values)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("name", PROM)
def test_parse_compact_reads_as_parse(client, name):
    text = fixture(name)
    parsed = client.parse(text)
    compact = client.parse_compact(text)
    assert compact.format == parsed.format
    assert same(llm_metrics.to_dict(families_from_compact(text, compact)),
                llm_metrics.to_dict(parsed.families))


def test_parse_compact_spans_point_into_the_text(client):
    text = b'a{x="plain",y="esc\\\\"} 1\n'
    compact = client.parse_compact(text)
    plain, escaped = (label.value for label in compact.labels)
    assert text[plain.offset:][:plain.len] == b"plain"
    assert escaped.offset >= len(text)
    assert compact.strings == "esc\\"


def test_parse_error_has_line_and_column(client):
    with pytest.raises(LlmMetricsError) as err:
        client.parse(b'ok 1\nbad{le="1" 2\n', "prometheus", strict=True)
    assert err.value.kind == "parse"
    assert isinstance(err.value.detail, llm_metrics.ParseError)
    assert err.value.detail.line == 2
    assert err.value.detail.column > 1
    assert "line 2, column" in str(err.value)


def test_invalid_utf8_is_a_parse_error_not_a_crash(client):
    with pytest.raises(LlmMetricsError) as err:
        client.parse(b'a{x="\xff"} 1\n')
    assert err.value.kind == "parse"
