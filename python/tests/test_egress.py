"""The egress policy: a URL the allow-list refuses never sees a connection."""

import time

import pytest

import llm_metrics
from llm_metrics import LlmMetricsError
from llm_metrics.allow import Egress, Pattern


def settle() -> None:
    """Time for a stray connection to arrive before counting."""
    time.sleep(0.2)


def test_a_disallowed_url_never_sees_a_connection(upstream, recorder):
    client = llm_metrics.LlmMetrics(allow=[f"127.0.0.1:{upstream.port}"])
    assert client.collect(f"{upstream.base}/metrics").engine == "vllm"
    for url in (f"http://127.0.0.1:{recorder.port}/metrics",      # another port
                f"http://localhost:{recorder.port}/metrics",      # a name on no pattern
                f"http://127.0.0.2:{recorder.port}/metrics"):
        with pytest.raises(LlmMetricsError) as err:
            client.collect(url)
        assert err.value.kind == "denied", url
    # A per-call allow-list replaces the client's.
    with pytest.raises(LlmMetricsError) as err:
        llm_metrics.collect(f"http://127.0.0.1:{recorder.port}/metrics", allow=["10.0.0.0/8"])
    assert err.value.kind == "denied"
    settle()
    assert recorder.connections == 0


def test_names_resolve_and_every_address_is_checked(upstream, recorder):
    # The name itself is allowed: any address but link-local and metadata.
    by_name = llm_metrics.LlmMetrics(allow=[f"localhost:{upstream.port}"])
    assert by_name.collect(f"http://localhost:{upstream.port}/metrics").engine == "vllm"
    wildcard = llm_metrics.LlmMetrics(allow=["*.localhost"])
    with pytest.raises(LlmMetricsError) as err:
        wildcard.collect(f"http://localhost:{recorder.port}/metrics")
    assert err.value.kind == "denied"
    # Allowed by address only: the name's addresses must all lie in the range.
    by_range = llm_metrics.LlmMetrics(allow=["10.0.0.0/8"])
    with pytest.raises(LlmMetricsError) as err:
        by_range.collect(f"http://localhost:{recorder.port}/metrics")
    assert err.value.kind == "denied"
    assert "not on the allow-list" in str(err.value)
    settle()
    assert recorder.connections == 0


def test_link_local_and_metadata_addresses_are_refused_by_default():
    for allow in (None, ["0.0.0.0/0", "::/0"], ["169.254.0.0/16:81"]):
        egress = Egress(allow)
        for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:80/",
                    "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"):
            with pytest.raises(LlmMetricsError) as err:
                egress.check(url)
            assert err.value.kind == "denied", (allow, url)
    # Named by address, it is allowed (checked only: no request goes there).
    grant = Egress(["169.254.169.254:80"]).check("http://169.254.169.254/latest/")
    assert [str(a) for a in grant.addresses] == ["169.254.169.254"]


def test_without_an_allow_list_a_url_reaches_its_own_host_only(upstream):
    snap = llm_metrics.collect(f"{upstream.base}/metrics")
    assert snap.engine == "vllm"
    grant = Egress(None).check("http://127.0.0.1:9/metrics")
    assert grant.destination.port == 9


def test_patterns():
    assert Pattern.parse("vLLM-0.internal:8000") == Pattern(name="vllm-0.internal", port=8000)
    assert Pattern.parse("*.svc.cluster.local").suffix == ".svc.cluster.local"
    assert str(Pattern.parse("10.0.0.0/8").net) == "10.0.0.0/8"
    assert Pattern.parse("[fd00::/8]:9400").port == 9400
    assert str(Pattern.parse("::ffff:10.1.2.3").net) == "10.1.2.3/32"
    for bad in ("", "a:b", "[::1", "*.", "x y", "10.0.0.0/33", "h:70000"):
        with pytest.raises(ValueError):
            Pattern.parse(bad)
