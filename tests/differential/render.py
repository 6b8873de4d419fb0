#!/usr/bin/env python3
"""Ground truth for tests/tests/differential.rs, from prometheus_client.

    render.py OUTDIR [FIXTURE ...]

Writes into OUTDIR, for each of several registries built with a fixed seed:

  <name>.prom  generate_latest(registry): Prometheus 0.0.4 text, what vLLM serves
  <name>.om    prometheus_client.openmetrics.exposition.generate_latest(registry,
               escaping=allow-utf-8) (see main() for why not the default)
  vllm.default.om  the same with the default escaping

and OUTDIR/truth.json:

  {"version": prometheus_client's version,
   "registries": [{"name", "families": [FAMILY...]}],
   "parsed":     [{"file", "families": [FAMILY...]}]}

where "registries" is what registry.collect() holds (the names as exposed) and
"parsed" is what prometheus_client's own 0.0.4 parser,
text_string_to_metric_families, makes of each FIXTURE. A FAMILY is
{"name", "type", "help", "unit", "samples": [SAMPLE...]}; a SAMPLE is
{"name", "labels": [[name, value]...] sorted by name (the order both writers
use), "value": repr(float) so NaN and infinities survive JSON,
"ts_prom_ms": the 0.0.4 writer's integer milliseconds or null,
"ts_om_ms": the OpenMetrics timestamp in exact milliseconds or null,
"ts_s": repr(float(timestamp)) in seconds or null (the parser's own figure),
"exemplar": null or {"labels", "value", "ts_om_ms"}}.

Exit status 3 with a message on stderr when prometheus_client is missing.
"""

import json
import math
import os
import random
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from importlib.metadata import version

try:
    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Enum,
        Gauge,
        Histogram,
        Info,
        Summary,
    )
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeHistogramMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        InfoMetricFamily,
        Metric,
        StateSetMetricFamily,
        UnknownMetricFamily,
    )
    from prometheus_client.exposition import generate_latest as generate_prom
    from prometheus_client.openmetrics.exposition import ALLOWUTF8
    from prometheus_client.openmetrics.exposition import generate_latest as generate_om
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.samples import Exemplar, Timestamp
except ImportError as e:
    print(f"import failed: {e}", file=sys.stderr)
    sys.exit(3)

SEED = 20260421

# Label-value alphabet: everything the text formats must quote or escape, plus
# raw characters they must pass through untouched (CR, tab, non-ASCII).
TRICKY = [
    ",", '"', "\\", "\n", "#", "{", "}", "=", " ", "\t", "\r", "é", "日本",
    "🦀", "\u2028", "a", "b", "0", "_", ":", "\\n", '\\"',
]


def tricky_value(rng, n):
    return "".join(rng.choice(TRICKY) for _ in range(n))


def random_float(rng):
    """Finite floats that stress correct rounding: many digits, wide exponents."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.random() * 10.0 ** rng.randint(-30, 30)
    if kind == 1:
        return float(rng.randint(0, 2**53))
    if kind == 2:
        return rng.choice(
            [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
             0.1, 1 / 3, 123456.789, 9007199254740993.0, 1e21, 1e22]
        )
    if kind == 3:
        return -rng.random() * 10.0 ** rng.randint(-5, 12)
    if kind == 4:
        return round(rng.uniform(0, 1e7), rng.randint(0, 6))
    return rng.uniform(1e5, 1e16)


def vllm_registry(rng):
    """What vLLM V1 registers, with hostile model names."""
    reg = CollectorRegistry()
    models = ["meta-llama/Llama-3.1-8B-Instruct", 'my "quoted", model', "C:\\models\\x\ny"]
    labels = ["model_name", "engine"]
    running = Gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
                    labels, registry=reg)
    usage = Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                  labels, registry=reg)
    prompt = Counter("vllm:prompt_tokens", "Number of prefill tokens processed.", labels,
                     registry=reg)
    success = Counter("vllm:request_success", "Count of successfully processed requests.",
                      labels + ["finished_reason"], registry=reg)
    ttft = Histogram("vllm:time_to_first_token_seconds",
                     "Histogram of time to first token in seconds.", labels, registry=reg,
                     buckets=[0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
                              0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
                              640.0, 2560.0])
    tokens = Histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.",
                       labels, registry=reg,
                       buckets=[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000])
    info = Gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                 ["block_size", "cache_dtype", "enable_prefix_caching", "num_gpu_blocks"],
                 registry=reg)
    info.labels("16", "auto", "True", "27153").set(1)
    for m in models:
        for e in ("0", "1"):
            running.labels(m, e).set(rng.randint(0, 64))
            usage.labels(m, e).set(rng.random())
            prompt.labels(m, e).inc(rng.randint(0, 10**9))
            for reason in ("stop", "length", "abort"):
                success.labels(m, e, reason).inc(rng.randint(0, 10**6))
            for _ in range(rng.randint(0, 40)):
                ttft.labels(m, e).observe(rng.expovariate(2.0))
                tokens.labels(m, e).observe(rng.randint(1, 8000))
    return reg


def tricky_registry(rng):
    """Every client type, hostile label values and HELP text, special values."""
    reg = CollectorRegistry()
    g = Gauge("tricky_gauge", 'HELP with \\ backslash, "quotes", a\nnewline and # {} é',
              ["v", "w"], registry=reg)
    for i in range(40):
        g.labels(tricky_value(rng, rng.randint(0, 12)), f"w{i}").set(random_float(rng))
    for i, special in enumerate([math.nan, math.inf, -math.inf, 0.0, -0.0]):
        g.labels("special", str(i)).set(special)
    g.labels("", "empty value").set(1)
    c = Counter("tricky_requests", "Counter; exposed as tricky_requests_total.", ["path"],
                registry=reg)
    for p in ["/v1/chat,completions", '/a"b', "/\\", "/é/日本"]:
        c.labels(p).inc(rng.random() * 1000)
    plain = Counter("plain_ops_total", "A counter declared with its _total.", registry=reg)
    plain.inc(3)
    h = Histogram("tricky_latency_seconds", "Custom buckets.", ["op"], registry=reg,
                  buckets=[1e-9, 0.5, 1, 123456789, float("inf")])
    for op in ["read", "w,rite"]:
        for _ in range(50):
            h.labels(op).observe(rng.uniform(0, 10) * 10.0 ** rng.randint(-10, 9))
    s = Summary("tricky_size_bytes", "A summary.", ["kind"], registry=reg)
    for k in ["a", "b{c}"]:
        for _ in range(7):
            s.labels(k).observe(random_float(rng))
    i = Info("tricky_build", "Build info.", registry=reg)
    i.info({"version": "1.2.3", "commit": 'ab"c\\d', "note": "line1\nline2, # not a comment"})
    e = Enum("tricky_state", "An enum.", states=["starting", "running", "stop,ped"],
             registry=reg)
    e.state("running")
    return reg


def negative_registry(rng):
    """A histogram with a negative bucket bound: prometheus_client then writes
    `_count` but no `_sum` (in both formats)."""
    reg = CollectorRegistry()
    h = Histogram("negative_offset_seconds", "Clock offset.", registry=reg,
                  buckets=[-5, 0, 0.5, float("inf")])
    for _ in range(20):
        h.observe(rng.uniform(-10, 10))
    return reg


class CustomCollector:
    """Families only a custom collector can produce: timestamps, exemplars,
    gauge histograms, state sets, unknown, units, summaries with quantiles."""

    def __init__(self, rng):
        # collect() runs once per rendering and once for the truth: draw now.
        self.mystery = random_float(rng)

    def collect(self):
        ts = Timestamp(1700000000, 123000000)
        g = GaugeMetricFamily("custom_temperature_celsius", "Timestamped gauge.",
                              labels=["room"], unit="celsius")
        g.add_metric(["kitchen"], 21.5, timestamp=ts)
        g.add_metric(["cellar"], -3.25, timestamp=1699999999.5)
        g.add_metric(["attic"], 30.0, timestamp=1234567890.001)
        yield g
        c = CounterMetricFamily("custom_jobs", "Counter with created and exemplar.",
                                labels=["queue"], created=1600000000.25)
        c.add_metric(["q,1"], 42.0, created=1600000000.25)
        yield c
        h = HistogramMetricFamily("custom_request_seconds", "Histogram with exemplars.",
                                  labels=["route"], unit="seconds")
        h.add_metric(
            ["/x"],
            buckets=[
                ("0.1", 3.0, Exemplar({"trace_id": "abc\"1\\"}, 0.05, Timestamp(1700000001, 500000000))),
                ("1.0", 7.0, Exemplar({"trace_id": "def"}, 0.7)),
                ("+Inf", 9.0, None),
            ],
            sum_value=6.5,
        )
        yield h
        gh = GaugeHistogramMetricFamily("custom_queue_depth", "A gauge histogram.",
                                        labels=["pool"])
        gh.add_metric(["p"], buckets=[("1", 4.0), ("10", 6.0), ("+Inf", 7.0)], gsum_value=31.0)
        yield gh
        ss = StateSetMetricFamily("custom_feature", "A state set.", labels=["node"])
        ss.add_metric(["n1"], {"alpha": True, "beta": False})
        yield ss
        u = UnknownMetricFamily("custom_mystery", "Unknown type.", labels=["k"])
        u.add_metric(["v"], self.mystery)
        yield u
        i = InfoMetricFamily("custom_target", "Info family.", labels=["region"])
        i.add_metric(["eu"], {"env": "prod", "tier": "a b"})
        yield i
        q = Metric("custom_rpc_seconds", "Summary with quantiles.", "summary")
        for quantile, v in [("0.5", 0.012), ("0.9", 0.05), ("0.99", 0.25)]:
            q.add_sample("custom_rpc_seconds", {"quantile": quantile, "svc": "a"}, v)
        q.add_sample("custom_rpc_seconds_count", {"svc": "a"}, 2693.0)
        q.add_sample("custom_rpc_seconds_sum", {"svc": "a"}, 17.56)
        yield q


def custom_registry(rng):
    reg = CollectorRegistry()
    reg.register(CustomCollector(rng))
    return reg


def utf8_registry(rng):
    """UTF-8 metric and label names; written with escaping=allow-utf-8, the
    quoted-name syntax (`{"my.metric","label.x"="v"}`)."""
    reg = CollectorRegistry()
    g = Gauge("http.server.active_requests", "UTF-8 metric name.", ["http.method", "ü"],
              registry=reg)
    g.labels("GET", "x").set(3)
    g.labels("PO\"ST", "y,z").set(random_float(rng))
    c = Counter("kv.cache hits", "Name with a space.", ["pod.name"], registry=reg)
    c.labels("a-1").inc(5)
    return reg


def ts_prom_ms(ts):
    # What the 0.0.4 writer prints: int(float(ts) * 1000).
    return None if ts is None else int(float(ts) * 1000)


def ts_om_ms(ts):
    # The OpenMetrics writer prints str(ts); the exact decimal, in milliseconds.
    return None if ts is None else int((Decimal(str(ts)) * 1000).to_integral_value(ROUND_HALF_EVEN))


def dump_family(metric):
    samples = []
    for s in metric.samples:
        ex = None
        if s.exemplar is not None:
            ex = {
                "labels": sorted([k, v] for k, v in s.exemplar.labels.items()),
                "value": repr(float(s.exemplar.value)),
                "ts_om_ms": ts_om_ms(s.exemplar.timestamp),
            }
        samples.append({
            "name": s.name,
            "labels": sorted([k, v] for k, v in s.labels.items()),
            "value": repr(float(s.value)),
            "ts_prom_ms": ts_prom_ms(s.timestamp),
            "ts_om_ms": ts_om_ms(s.timestamp),
            "ts_s": None if s.timestamp is None else repr(float(s.timestamp)),
            "exemplar": ex,
        })
    return {
        "name": metric.name,
        "type": metric.type,
        "help": metric.documentation,
        "unit": metric.unit or None,
        "samples": samples,
    }


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    # The 0.0.4 text uses generate_latest's default escaping, as vLLM serves
    # it, except for the UTF-8 names. The OpenMetrics text always uses
    # allow-utf-8: the default escaping rewrites every `:` in OpenMetrics
    # *sample* names to `_` while HELP/TYPE keep it (0.26.0 escapes sample
    # names with the label-name alphabet), so `# TYPE vllm:x gauge` is followed
    # by `vllm_x ...` lines. vllm.default.om keeps that default output for the
    # test that pins how we read it.
    builders = [
        ("vllm", vllm_registry, {}),
        ("tricky", tricky_registry, {}),
        ("negative", negative_registry, {}),
        ("custom", custom_registry, {}),
        ("utf8", utf8_registry, {"escaping": ALLOWUTF8}),
    ]
    truth = {"version": version("prometheus-client"), "registries": [], "parsed": []}
    for name, build, prom_kwargs in builders:
        reg = build(rng)
        with open(os.path.join(out, name + ".prom"), "wb") as f:
            f.write(generate_prom(reg, **prom_kwargs))
        with open(os.path.join(out, name + ".om"), "wb") as f:
            f.write(generate_om(reg, escaping=ALLOWUTF8))
        if name == "vllm":
            with open(os.path.join(out, name + ".default.om"), "wb") as f:
                f.write(generate_om(reg))
        truth["registries"].append({
            "name": name,
            "families": [dump_family(m) for m in reg.collect()],
        })
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        truth["parsed"].append({
            "file": path,
            "families": [dump_family(m) for m in text_string_to_metric_families(text)],
        })
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
