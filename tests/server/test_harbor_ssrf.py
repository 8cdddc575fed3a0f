"""The Harbor adapter is no proxy into the server's network: only registries added to hullscan (or on the
administrator's allow-list) are contacted, a redirect to another host is refused, and a remote server's error
text never reaches the caller."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hullscan.server.runtime import Runtime

ERROR_MIME = "application/vnd.scanner.adapter.error+json"
DIGEST = "sha256:" + "3" * 64


@contextmanager
def http_server(answer: Any) -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server answering every GET with ``answer(path) -> (status, headers, body)``; records paths."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            status, headers, body = answer(self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def scan(api: Any, url: str) -> Any:
    return api.post("/api/v1/scan", json={"registry": {"url": url}, "artifact": {"repository": "library/app",
                                                                                  "digest": DIGEST}})


def report(api: Any, rid: str) -> Any:
    end = time.monotonic() + 90
    while (rep := api.get(f"/api/v1/scan/{rid}/report", follow_redirects=False)).status_code == 302:
        assert time.monotonic() < end
        time.sleep(0.1)
    return rep


def test_hosts_that_are_not_configured_registries_are_never_contacted(api: Any) -> None:
    with http_server(lambda path: (200, {}, b"{}")) as (port, seen):
        for url in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", "http://169.254.169.254",
                    "http://10.0.0.1:5000", "https://metadata.google.internal"):
            resp = scan(api, url)
            assert resp.status_code == 400, (url, resp.text)
            assert resp.headers["content-type"].startswith(ERROR_MIME)
            assert "not one this scanner may contact" in resp.json()["error"]["message"]
        time.sleep(0.5)
        assert seen == []
    assert api.get("/api/tasks").json()["total"] == 0


def test_redirects_to_other_hosts_are_refused(api: Any, rt: Runtime) -> None:
    with http_server(lambda path: (200, {"Content-Type": "application/json"}, b'{"inner": "SECRET"}')) as (inner, inner_seen):
        def redirect(path: str) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": f"http://127.0.0.1:{inner}{path}"}, b""

        with http_server(redirect) as (outer, outer_seen):
            rt.config.harbor_registries = (f"127.0.0.1:{outer}",)
            accepted = scan(api, f"http://127.0.0.1:{outer}")
            assert accepted.status_code == 202, accepted.text
            rep = report(api, accepted.json()["id"])
            assert outer_seen  # the allowed registry was asked ...
            assert inner_seen == []  # ... and its redirect elsewhere not followed
    assert rep.status_code == 500 and rep.headers["content-type"].startswith(ERROR_MIME)


def test_remote_error_text_is_not_echoed(api: Any, rt: Runtime) -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "internal-host db01.corp:5432 SECRET-DETAIL"}]}).encode()
    with http_server(lambda path: (403, {"Content-Type": "application/json"}, body)) as (port, seen):
        rt.config.harbor_registries = (f"127.0.0.1:{port}",)
        rid = scan(api, f"http://127.0.0.1:{port}").json()["id"]
        rep = report(api, rid)
        assert seen
    assert rep.status_code == 500
    assert "SECRET-DETAIL" not in rep.text and "db01" not in rep.text
    assert "could not be pulled or scanned" in rep.json()["error"]["message"]
