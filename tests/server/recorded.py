"""A small real HTTP server on 127.0.0.1 replaying recorded registry API responses (tests/data/server/*.json).

Each route: method, raw path (as sent on the wire, e.g. Harbor's double-encoded ``a%252Fb``), optional
query subset, optional credentials (``Authorization`` header value, or ``PRIVATE-TOKEN <token>`` for
GitLab), status, headers and JSON body. A path that exists but whose credentials match no route answers the
recorded 401; an unknown path answers 404. Requests are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).resolve().parents[1] / "data" / "server"


def _credentials(headers: Any) -> set[str]:
    out = set()
    if headers.get("Authorization"):
        out.add(headers["Authorization"])
    if headers.get("PRIVATE-TOKEN"):
        out.add("PRIVATE-TOKEN " + headers["PRIVATE-TOKEN"])
    return out


@contextmanager
def serve_recording(name: str) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Serve ``tests/data/server/<name>.json``; yields (base URL ``http://127.0.0.1:port``, request log)."""
    spec = json.loads((DATA / f"{name}.json").read_text())
    routes = sorted(spec["routes"], key=lambda r: -len(r.get("query", {})))
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            seen.append(("GET", self.path))
            creds = _credentials(self.headers)
            candidates = [r for r in routes if r["method"] == "GET" and r["path"] == parts.path
                          and all(query.get(k) == v for k, v in r.get("query", {}).items())]
            match = next((r for r in candidates if "auth" not in r or r["auth"] in creds), None)
            if match is None and candidates:
                match = spec["unauthorized"]
            if match is None:
                match = {"status": 404, "body": {"errors": [{"code": "NOT_FOUND", "message": f"{parts.path} not found"}]}}
            body = json.dumps(match.get("body")).encode()
            self.send_response(match["status"])
            for k, v in (match.get("headers") or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port nothing listens on (for NetworkConnectError)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
