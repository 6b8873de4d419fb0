"""Shared fixtures: the repository's exposition fixtures, one client, and
real HTTP servers on loopback (in threads of this process).

These tests run against the *installed* package (``.ci/run`` installs the
wheel into a fresh virtual environment and runs them from there); nothing
here puts ``python/src`` on the path.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List

import pytest

import llm_metrics

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
PROM = sorted(p.name for p in FIXTURES.glob("*.prom"))


def fixture(name: str) -> bytes:
    """A file under ``tests/fixtures``."""
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def client() -> llm_metrics.LlmMetrics:
    """One client over the bundled component; allows loopback only."""
    return llm_metrics.LlmMetrics(allow=["127.0.0.0/8"])


class Upstream:
    """A loopback "engine": ``/metrics`` vLLM, ``/tgi``, ``/html`` a web page,
    ``/quoted`` a JSON-quoted body, ``/gzip`` an unrequested encoding,
    ``/unsized`` no content length, ``/stall`` never answers, ``/echo-headers``
    the request headers as exposition text, anything else 404."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.requests: List[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                upstream.requests.append(self.path)
                if self.path == "/stall":
                    upstream.release.wait(30)
                    return
                routes = {
                    "/metrics": ("text/plain; version=0.0.4", fixture("vllm_v1.prom")),
                    "/tgi": ("text/plain", fixture("tgi.prom")),
                    "/html": ("text/html", b"<html>hi</html>"),
                    "/quoted": ("text/plain", b'"vllm:x 1\\n"'),
                    "/gzip": ("text/plain", fixture("vllm_v1.prom")),
                    "/unsized": ("text/plain", fixture("vllm_v1.prom")),
                }
                if self.path == "/echo-headers":
                    token = self.headers.get("authorization", "")
                    body = f'vllm:num_requests_running{{token="{token}"}} 1\n'.encode()
                    routes["/echo-headers"] = ("text/plain", body)
                if self.path not in routes:
                    self.send_error(404)
                    return
                content_type, body = routes[self.path]
                self.send_response(200)
                self.send_header("content-type", content_type)
                if self.path == "/gzip":
                    self.send_header("content-encoding", "gzip")
                if self.path != "/unsized":
                    self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


class Recorder:
    """A listener that counts the connections it is offered and closes them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
        except OSError:
            pass
        self.sock.close()


@pytest.fixture()
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()
