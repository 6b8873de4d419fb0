"""A blocking ``GET`` of a checked destination, with one deadline and a body cap.

Invariant: the connection goes only to an address ``llm_metrics.allow``
checked for this URL (the ``Host`` header and TLS server name keep the URL's
host), nothing outlives the deadline (a watchdog shuts the socket down when
it passes, so a server that stalls or drips bytes is cut at the budget), and
the body never grows past the cap. Redirects are not followed. What the
component's own ``wasi:http`` fetch refuses, this refuses too: a status
outside 2xx (``http-status``), a content type that is not exposition text or
a content encoding nobody asked for (``not-an-exposition``), a body over the
cap (``body-too-large``).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from .allow import Grant
from .errors import LlmMetricsError

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
"""The classic text format: an OpenMetrics request makes prometheus_client
>= 0.23 rewrite ``vllm:`` names to ``vllm_`` (the component asks the same)."""
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Response:
    """A fetched exposition: its ``Content-Type`` (if any) and body."""

    content_type: Optional[str]
    body: bytes


class _Deadline:
    """The whole fetch's budget; shuts the connection down when it passes."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.expired = False
        self.sock: Optional[socket.socket] = None
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def watch(self, sock: socket.socket) -> None:
        with self.lock:
            self.sock = sock
            if self.expired:
                sock.shutdown(socket.SHUT_RDWR)

    def left(self, phase: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise LlmMetricsError("timeout", f"budget ran out {phase}")
        return left

    def cancel(self) -> None:
        self.timer.cancel()


def _connection(grant: Grant, deadline: _Deadline,
                context: Optional[ssl.SSLContext]) -> http.client.HTTPConnection:
    dest = grant.destination

    def open_socket() -> socket.socket:
        last: Optional[BaseException] = None
        for ip in grant.addresses:
            try:
                sock = socket.create_connection((str(ip), dest.port),
                                                timeout=deadline.left("connecting"))
            except socket.timeout:
                raise LlmMetricsError("timeout", "connecting") from None
            except OSError as e:
                last = e
                continue
            deadline.watch(sock)
            return sock
        if isinstance(last, ConnectionRefusedError):
            raise LlmMetricsError("connect", "connection refused")
        raise LlmMetricsError("connect", f"{dest.host}:{dest.port}: {last}")

    class Closing:
        """Keeps the socket open until the fetch is over: http.client would
        close it as soon as a response says it will close, and the deadline
        and per-read timeouts still need it."""

        def close(self) -> None:
            pass

        def finish(self) -> None:
            sock = self.sock  # type: ignore[attr-defined]
            http.client.HTTPConnection.close(self)  # type: ignore[arg-type]
            if sock is not None:
                sock.close()

    if dest.scheme == "https":
        tls = context or ssl.create_default_context()

        class Https(Closing, http.client.HTTPSConnection):
            def connect(self) -> None:
                # Wrapping detaches the plain socket: watch the TLS one.
                self.sock = tls.wrap_socket(open_socket(), server_hostname=dest.host)
                deadline.watch(self.sock)

        return Https(dest.host, dest.port, timeout=deadline.left("connecting"), context=tls)

    class Http(Closing, http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = open_socket()

    return Http(dest.host, dest.port, timeout=deadline.left("connecting"))


def get(grant: Grant, timeout: float, max_body_bytes: int,
        headers: Optional[Dict[str, str]] = None,
        context: Optional[ssl.SSLContext] = None) -> Response:
    """Fetch the granted URL within ``timeout`` seconds and ``max_body_bytes``."""
    deadline = _Deadline(timeout)
    conn = _connection(grant, deadline, context)
    phase = "connecting"
    try:
        sent: Dict[str, str] = {}
        if not any(k.lower() == "accept" for k in (headers or {})):
            sent["accept"] = ACCEPT
        for k, v in (headers or {}).items():
            if any(c in k + v for c in "\r\n\0"):
                raise LlmMetricsError("invalid-url", "invalid request header")
            sent[k.lower()] = v
        conn.request("GET", grant.destination.target, headers=sent)
        sock = conn.sock
        phase = "waiting for response headers"
        sock.settimeout(deadline.left(phase))
        response = conn.getresponse()
        if not 200 <= response.status < 300:
            raise LlmMetricsError("http-status", response.status)
        content_type = response.getheader("content-type")
        _check_content_type(content_type)
        encoding = (response.getheader("content-encoding") or "").strip()
        if encoding and encoding.lower() != "identity":
            raise LlmMetricsError("not-an-exposition", f"unrequested content-encoding `{encoding}`")
        declared = response.getheader("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_body_bytes:
            raise LlmMetricsError("body-too-large", max_body_bytes)
        phase = "reading the response body"
        parts: List[bytes] = []
        size = 0
        while True:
            sock.settimeout(deadline.left(phase))
            chunk = response.read(min(CHUNK, max_body_bytes + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > max_body_bytes:
                raise LlmMetricsError("body-too-large", max_body_bytes)
            parts.append(chunk)
        return Response(content_type.strip() if content_type else None, b"".join(parts))
    except LlmMetricsError:
        raise
    except (socket.timeout, TimeoutError):
        raise LlmMetricsError("timeout", f"budget ran out {phase}") from None
    except (OSError, http.client.HTTPException) as e:
        if deadline.expired:
            raise LlmMetricsError("timeout", f"budget ran out {phase}") from None
        raise LlmMetricsError("transport", f"{phase}: {type(e).__name__}: {e}") from None
    finally:
        deadline.cancel()
        conn.finish()  # type: ignore[attr-defined]


def _check_content_type(content_type: Optional[str]) -> None:
    """Exposition text is ``text/plain`` or OpenMetrics; a missing type is tolerated."""
    if content_type is None:
        return
    media = content_type.split(";")[0].strip().lower()
    if media not in ("text/plain", "application/openmetrics-text", ""):
        raise LlmMetricsError("not-an-exposition", f"content type `{content_type}`")
