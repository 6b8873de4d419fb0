"""The original design's metrics service, rebuilt on the llm_metrics package.

    pip install llm_metrics-*.whl -r examples/python/requirements.txt uvicorn
    LLM_METRICS_ALLOW='*.svc.cluster.local,10.0.0.0/8:8000' uvicorn fastapi_app:app

POST /api/v1/collect/{engine} (vllm, tgi, ... or auto) takes {"instance_id",
"endpoint", "timeout"} and always answers 200 with the original envelope
{"success", "instance_id", "timestamp", "metrics", "error", "error_kind"};
GET /api/v1/metrics/{engine}/{instance_id}?endpoint=URL answers the snapshot,
or a problem (403 denied, 422 invalid-url, 504 timeout, 502 other upstream
failures). Only URLs the allow-list (LLM_METRICS_ALLOW) names are fetched.
"""

import os
from datetime import datetime, timezone

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import llm_metrics

STATUS = {"unknown-engine": 404, "denied": 403, "invalid-url": 422, "timeout": 504,
          "wall-clock": 504, "plugin-trap": 500}


class CollectRequest(BaseModel):
    instance_id: str
    endpoint: str
    timeout: float = Field(10.0, gt=0, le=120)


def problem(kind: str, detail: str) -> JSONResponse:
    status = STATUS.get(kind, 502)
    return JSONResponse({"type": f"urn:llm-metrics:problem:{kind}", "title": kind,
                         "status": status, "detail": detail, "error_kind": kind},
                        status_code=status, media_type="application/problem+json")


def create_app(allow: list) -> FastAPI:
    metrics = llm_metrics.AsyncLlmMetrics(allow=allow)
    engines = {"auto"} | {e.id for e in metrics.sync.engines()}
    app = FastAPI(title="llm-metrics (Python)")

    @app.post("/api/v1/collect/{engine}")
    async def collect(engine: str, body: CollectRequest):
        if engine not in engines:
            return problem("unknown-engine", f"no engine {engine}; one of {sorted(engines)}")
        snapshot, error, kind = None, None, None
        try:
            snap = await metrics.collect(body.endpoint, engine, timeout=body.timeout,
                                         instance_id=body.instance_id)
            snapshot = llm_metrics.to_dict(snap)
        except llm_metrics.LlmMetricsError as e:
            error, kind = str(e), e.kind
        return {"success": error is None, "instance_id": body.instance_id,
                "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "metrics": snapshot, "error": error, "error_kind": kind}

    @app.get("/api/v1/metrics/{engine}/{instance_id}")
    async def snapshot(engine: str, instance_id: str, endpoint: str,
                       timeout: float = Query(10.0, gt=0, le=120)):
        if engine not in engines:
            return problem("unknown-engine", f"no engine {engine}; one of {sorted(engines)}")
        try:
            snap = await metrics.collect(endpoint, engine, timeout=timeout, instance_id=instance_id)
        except llm_metrics.LlmMetricsError as e:
            return problem(e.kind, str(e))
        return llm_metrics.to_dict(snap)

    return app


app = create_app([p for p in os.environ.get("LLM_METRICS_ALLOW", "").split(",") if p])
