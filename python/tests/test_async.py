"""The asyncio entry points: the event loop keeps running while calls work."""

import asyncio

import llm_metrics

from conftest import fixture


def test_async_calls_run_concurrently_with_the_loop(client, upstream):
    async def main():
        aio = client.aio
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.create_task(ticker())
        snaps = await asyncio.gather(
            *(aio.collect(f"{upstream.base}/metrics") for _ in range(4)),
            aio.collect(f"{upstream.base}/tgi"),
            aio.map_exposition(fixture("sglang_v0_5.prom")),
        )
        stalled = asyncio.create_task(aio.collect(f"{upstream.base}/stall", timeout=1.0))
        parsed = await aio.parse(fixture("tgi.prom"))
        engines = await aio.engines()
        error = await asyncio.gather(stalled, return_exceptions=True)
        tick.cancel()
        return snaps, parsed, engines, error[0], ticks

    snaps, parsed, engines, error, ticks = asyncio.run(main())
    assert [s.engine for s in snaps] == ["vllm"] * 4 + ["tgi", "sglang"]
    assert parsed.families and engines
    assert isinstance(error, llm_metrics.LlmMetricsError) and error.kind == "timeout"
    # The loop ran all along (the stalled fetch alone took a second), not
    # only between calls.
    assert ticks >= 5


def test_module_level_async_functions(upstream):
    async def main():
        snap = await llm_metrics.collect_async(f"{upstream.base}/metrics")
        t0 = await llm_metrics.map_exposition_async(fixture("window/vllm_t0.prom"))
        parsed = await llm_metrics.parse_async(fixture("vllm_v0.prom"))
        return snap, t0, parsed

    snap, t0, parsed = asyncio.run(main())
    assert snap.engine == t0.engine == "vllm"
    assert parsed.format == "prometheus"
