"""https: the TLS name is the URL's host while the connection goes to the
checked address; a certificate the client does not trust is refused."""

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import llm_metrics
from llm_metrics import LlmMetricsError

from conftest import fixture

BODY = fixture("vllm_v1.prom")


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory):
    """A loopback https server with a fresh self-signed certificate for `localhost`."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl (the command) is needed to make the test's certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "cert.pem", d / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], d / "cert.pem"
    server.shutdown()
    server.server_close()


def test_https_with_a_trusted_certificate(tls_upstream):
    port, cert = tls_upstream
    trusting = ssl.create_default_context(cafile=str(cert))
    client = llm_metrics.LlmMetrics(allow=[f"localhost:{port}"], ssl_context=trusting)
    snap = client.collect(f"https://localhost:{port}/metrics")
    assert (snap.engine, snap.instance_id) == ("vllm", f"localhost:{port}")


def test_https_with_an_untrusted_certificate_is_refused(tls_upstream):
    port, _ = tls_upstream
    client = llm_metrics.LlmMetrics(allow=[f"localhost:{port}"])
    with pytest.raises(LlmMetricsError) as err:
        client.collect(f"https://localhost:{port}/metrics")
    assert err.value.kind == "transport"
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
