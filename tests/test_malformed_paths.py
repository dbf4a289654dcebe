"""Malformed request paths answer 404, never 500 (issue 18, item 17)."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import make_server

MALFORMED = [
    "/_dash-component-suites/../../config/default.yaml",
    "/_dash-component-suites/%2e%2e/%2e%2e/config/default.yaml",
    "/_dash-component-suites/dash/%2e%2e/%2e%2e/config/default.yaml",
    "/_dash-component-suites/dash/../../../etc/passwd",
    "/_dash-component-suites/dash/deps/%00.js",
    "/_dash-component-suites/dash/x%00y.js",
    "/_dash-component-suites/dash/" + "a" * 5000 + ".js",
    "/_dash-component-suites/no_such_package/x.js",
    "/_dash-component-suites/dash/no/such/file.js",
    "/_dash-component-suites/dash",
    "/_dash-component-suites/",
    "/assets/%2e%2e/config/default.yaml",
    "/screen/%00",
    "/screen/..%5c..%5cconfig%5cdefault.yaml",
    "/" + "x" * 3000,
]


@pytest.fixture
def app(make_twin_app):
    return make_twin_app()


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_path_answers_404(app, path: str) -> None:
    resp = app.server.test_client().get(path)
    assert resp.status_code == 404, (path[:80], resp.status_code)
    assert b"default.yaml" not in resp.data and b"root:" not in resp.data


def test_registered_component_suite_file_is_still_served(app) -> None:
    client = app.server.test_client()
    shell = client.get("/").get_data(as_text=True)
    import re
    src = re.search(r'src="(/_dash-component-suites/dash/[^"]+\.js)"', shell)
    assert src, "the page shell links Dash's scripts"
    resp = client.get(src.group(1))
    assert resp.status_code == 200 and len(resp.data) > 1000


def test_raw_http_request_with_dot_dot_answers_404(app) -> None:
    """A client that sends the path as is (no normalisation, like curl --path-as-is) over real HTTP."""
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(b"GET /_dash-component-suites/../../config/default.yaml HTTP/1.1\r\n"
                         b"Host: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    finally:
        server.shutdown()
        thread.join(10)
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
