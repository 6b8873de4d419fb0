"""The original design's collector, for comparison (a measurement tool).

What the Python service did per collection: fetch /metrics with httpx, run a
regular expression over every line, sum the series of the names it knows,
and validate the result into a pydantic model (then JSON). Single process.

    python3 serve/bench/python_collector.py URL ITERATIONS   (pip: httpx, pydantic)

prints one JSON line: {"n", "p50_ms", "p99_ms", "mean_ms"}.
"""

import json
import re
import sys
import time
from datetime import datetime, timezone
from typing import Optional

import httpx
from pydantic import BaseModel

# name, optional {labels}, value: what a line-by-line regex collector matches.
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)")


class Load(BaseModel):
    requests_running: Optional[float] = None
    requests_waiting: Optional[float] = None
    kv_cache_usage: Optional[float] = None


class Totals(BaseModel):
    prompt_tokens: Optional[float] = None
    generation_tokens: Optional[float] = None
    preemptions: Optional[float] = None
    requests_succeeded: Optional[float] = None


class Snapshot(BaseModel):
    instance_id: str
    engine: str
    model_names: list[str]
    load: Load
    totals: Totals


class Envelope(BaseModel):
    success: bool
    instance_id: str
    timestamp: str
    metrics: Optional[Snapshot] = None
    error: Optional[str] = None


MODEL = re.compile(r'model_name="([^"]*)"')


def collect(client: httpx.Client, url: str, instance_id: str) -> str:
    try:
        response = client.get(url, timeout=10.0)
        response.raise_for_status()
        sums: dict[str, float] = {}
        models: set[str] = set()
        for line in response.text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = LINE.match(line)
            if m is None:
                continue
            name, labels, value = m.groups()
            sums[name] = sums.get(name, 0.0) + float(value)
            if labels:
                mm = MODEL.search(labels)
                if mm:
                    models.add(mm.group(1))
        snapshot = Snapshot(
            instance_id=instance_id,
            engine="vllm",
            model_names=sorted(models),
            load=Load(
                requests_running=sums.get("vllm:num_requests_running"),
                requests_waiting=sums.get("vllm:num_requests_waiting"),
                kv_cache_usage=sums.get("vllm:kv_cache_usage_perc"),
            ),
            totals=Totals(
                prompt_tokens=sums.get("vllm:prompt_tokens_total"),
                generation_tokens=sums.get("vllm:generation_tokens_total"),
                preemptions=sums.get("vllm:num_preemptions_total"),
                requests_succeeded=sums.get("vllm:request_success_total"),
            ),
        )
        envelope = Envelope(
            success=True,
            instance_id=instance_id,
            timestamp=datetime.now(timezone.utc).isoformat(),
            metrics=snapshot,
        )
    except Exception as e:  # the original returned the error in the envelope
        envelope = Envelope(
            success=False,
            instance_id=instance_id,
            timestamp=datetime.now(timezone.utc).isoformat(),
            error=str(e),
        )
    return envelope.model_dump_json()


def main() -> None:
    url = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    with httpx.Client() as client:
        for _ in range(20):  # warm-up: connection, regex cache, pydantic
            collect(client, url, "py")
        times = []
        for _ in range(n):
            t = time.perf_counter()
            out = collect(client, url, "py")
            times.append(time.perf_counter() - t)
        assert json.loads(out)["success"], out
    times.sort()
    q = lambda p: times[round((len(times) - 1) * p)] * 1000.0
    print(json.dumps({"n": n, "p50_ms": q(0.5), "p99_ms": q(0.99),
                      "mean_ms": sum(times) / len(times) * 1000.0}))


if __name__ == "__main__":
    main()
