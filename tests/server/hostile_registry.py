"""A Distribution-API-v2 registry on 127.0.0.1 that serves a catalog of any size and misbehaves on request.

It answers like ``docker-registry`` (``/v2/`` with ``Docker-Distribution-API-Version``, ``/v2/_catalog`` with
``?n=&last=`` paging and ``Link: <...>; rel="next"``, ``tags/list``, manifests with ``Docker-Content-Digest``
and a config blob with ``created``) without storing thousands of images. Faults, set on :attr:`faults`:

- ``tags500``: repository names whose tag list answers HTTP 500
- ``hang``: repository names whose tag list answers only after ``hang_seconds``
- ``catalog``: ``"loop"`` (every page links to itself), ``"html"`` (a login page), ``"list"`` (a JSON list),
  ``"foreign"`` (the next page lives on another host), ``"500"``
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class HostileRegistry:
    """State and faults of one fake registry."""

    repositories: list[str]
    faults: dict[str, Any] = field(default_factory=dict)
    hang_seconds: float = 3.0
    requests: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    def digest(self, repo: str) -> str:
        """The manifest digest of ``repo:latest``."""
        return "sha256:" + hashlib.sha256(self._manifest(repo)).hexdigest()

    def _manifest(self, repo: str) -> bytes:
        cfg = "sha256:" + hashlib.sha256(repo.encode()).hexdigest()
        return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": 2},
                           "layers": []}).encode()

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one GET."""
        self.requests.append(("GET", path))
        if path == "/v2/":
            return 200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}"
        if path == "/v2/_catalog":
            return self._catalog(query)
        repo, kind, _ref = (path[len("/v2/"):].rsplit("/", 2) + ["", ""])[:3]
        if kind == "tags":
            if repo in self.faults.get("tags500", ()):
                return 500, {}, b'{"errors":[{"code":"UNKNOWN","message":"internal error"}]}'
            if repo in self.faults.get("hang", ()):
                time.sleep(self.hang_seconds)
            return 200, {}, json.dumps({"name": repo, "tags": ["latest"]}).encode()
        if kind == "manifests":
            return 200, {"Docker-Content-Digest": self.digest(repo),
                         "Content-Type": "application/vnd.oci.image.manifest.v1+json"}, self._manifest(repo)
        if kind == "blobs":
            return 200, {}, json.dumps({"created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux"}).encode()
        return 404, {}, b'{"errors":[{"code":"NAME_UNKNOWN"}]}'

    def _catalog(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        mode = self.faults.get("catalog", "")
        if mode == "500":
            return 500, {}, b"{}"
        if mode == "html":
            return 200, {"Content-Type": "text/html"}, b"<html>login</html>"
        if mode == "list":
            return 200, {}, b"[1, 2, 3]"
        n = int(query.get("n", "100"))
        last = query.get("last", "")
        names = sorted(self.repositories)
        start = 0 if not last else next((i for i, r in enumerate(names) if r > last), len(names))
        page = names[start : start + n]
        headers: dict[str, str] = {}
        if mode == "loop":
            headers["Link"] = f'</v2/_catalog?n={n}>; rel="next"'
        elif mode == "foreign":
            headers["Link"] = f'<http://127.0.0.2:{self.port}/v2/_catalog?n={n}&last={page[-1]}>; rel="next"'
        elif start + n < len(names):
            headers["Link"] = f'</v2/_catalog?n={n}&last={page[-1]}>; rel="next"'
        return 200, headers, json.dumps({"repositories": page}).encode()


@contextmanager
def serve_hostile(repositories: list[str], **faults: Any) -> Iterator[HostileRegistry]:
    """Run a :class:`HostileRegistry` on 127.0.0.1 (its port in ``.port``)."""
    reg = HostileRegistry(sorted(repositories), dict(faults))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, headers, body = reg.answer(parts.path, dict(parse_qsl(parts.query)))
            try:
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    reg.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
