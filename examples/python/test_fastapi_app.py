"""The FastAPI example answers the original design's API: FastAPI's
TestClient against the app, the app against a real HTTP server on loopback."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_app import create_app

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
BODIES = {"/metrics": (FIXTURES / "vllm_v1.prom").read_bytes(),
          "/tgi": (FIXTURES / "tgi.prom").read_bytes()}


@pytest.fixture(scope="module")
def upstream():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path not in BODIES:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(BODIES[self.path])))
            self.end_headers()
            self.wfile.write(BODIES[self.path])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def forbidden():
    """A listener the allow-list does not name; counts connections offered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    seen = []

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            seen.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1], seen
    sock.close()


@pytest.fixture(scope="module")
def client(upstream):
    return TestClient(create_app([upstream.removeprefix("http://")]))


def test_collect_vllm_and_tgi_answer_the_original_envelope(client, upstream):
    for engine, path in (("vllm", "/metrics"), ("tgi", "/tgi")):
        r = client.post(f"/api/v1/collect/{engine}",
                        json={"instance_id": f"{engine}-0", "endpoint": upstream + path})
        assert r.status_code == 200
        doc = r.json()
        assert set(doc) == {"success", "instance_id", "timestamp", "metrics", "error",
                            "error_kind"}
        assert doc["success"] is True and doc["error"] is None and doc["error_kind"] is None
        assert doc["instance_id"] == f"{engine}-0"
        assert doc["timestamp"].endswith("+00:00")
        metrics = doc["metrics"]
        assert metrics["engine"] == engine and metrics["instance_id"] == f"{engine}-0"
        assert metrics["endpoint"] == upstream + path
        # The original design's fields, under the same names.
        for group, field in (("load", "requests_running"), ("load", "requests_waiting"),
                             ("totals", "prompt_tokens"), ("totals", "generation_tokens")):
            assert isinstance(metrics[group][field], float), (engine, group, field)
    assert doc["metrics"]["model_names"] == []  # TGI names no model


def test_collect_failures_are_in_the_envelope(client, upstream, forbidden):
    port, seen = forbidden
    cases = {upstream + "/missing": "http-status",
             f"http://127.0.0.1:{port}/metrics": "denied",
             "ftp://x/metrics": "invalid-url"}
    for endpoint, kind in cases.items():
        r = client.post("/api/v1/collect/vllm", json={"instance_id": "i", "endpoint": endpoint})
        assert r.status_code == 200
        doc = r.json()
        assert (doc["success"], doc["metrics"], doc["error_kind"]) == (False, None, kind)
        assert doc["error"].startswith(kind)
    time.sleep(0.2)
    assert seen == []  # the forbidden listener never saw a connection
    wrong = client.post("/api/v1/collect/tgi", json={"instance_id": "i",
                                                     "endpoint": upstream + "/metrics"})
    assert wrong.json()["error_kind"] == "unrecognized-engine"


def test_request_errors(client, upstream):
    r = client.post("/api/v1/collect/nope", json={"instance_id": "i", "endpoint": upstream})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["error_kind"] == "unknown-engine"
    assert client.post("/api/v1/collect/vllm", json={"endpoint": upstream}).status_code == 422
    r = client.post("/api/v1/collect/vllm",
                    json={"instance_id": "i", "endpoint": upstream, "timeout": 0})
    assert r.status_code == 422


def test_metrics_route_answers_the_snapshot_or_a_problem(client, upstream, forbidden):
    r = client.get("/api/v1/metrics/auto/pod-1", params={"endpoint": upstream + "/metrics"})
    assert r.status_code == 200
    snap = r.json()
    assert (snap["engine"], snap["instance_id"]) == ("vllm", "pod-1")
    assert snap["latency"]["time_to_first_token_seconds"]["buckets"][-1]["le"] == "+Inf"
    port, _ = forbidden
    for endpoint, status, kind in ((upstream + "/missing", 502, "http-status"),
                                   (f"http://127.0.0.1:{port}/", 403, "denied"),
                                   ("http://[x/", 422, "invalid-url")):
        r = client.get("/api/v1/metrics/vllm/pod-1", params={"endpoint": endpoint})
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["error_kind"] == kind
        assert r.json()["status"] == status
