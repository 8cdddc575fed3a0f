"""A hostile registry or token service: endless authentication answers are refused, never read whole."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hullscan.errors import AuthError, RegistryError
from hullscan.options import RegistryOptions
from hullscan.registry.auth import MAX_AUTH_BODY
from hullscan.registry.client import RegistryClient

CHUNK = b"x" * 65536
ENDLESS = 256 * 1024 * 1024  # what the server would send if nobody stopped reading


class _Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Hostile

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.server.mode
        if mode.startswith("catalog-"):
            self._catalog(mode)
            return
        if self.path.startswith("/v2/"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{self.server.host}/token",service="s"')
            if mode == "endless-401":
                self._endless()
                return
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if mode == "huge-length-token":
            self.send_header("Content-Length", str(ENDLESS))
            self.end_headers()
            return
        self._endless()

    def _catalog(self, mode: str) -> None:
        """Every page links to a next one: with one new name (endless) or with none (empty pages)."""
        page = int(self.path.rpartition("last=r")[2]) if "last=r" in self.path else 0
        names = [f"r{page + 1}"] if mode == "catalog-endless" or page == 0 else []
        body = json.dumps({"repositories": names}).encode()
        self.server.sent += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Link", f'</v2/_catalog?n=1&last=r{page + 1}>; rel="next"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless(self) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while self.server.sent < ENDLESS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                self.server.sent += len(CHUNK)
        except OSError:
            pass  # the client hung up: what we want


@pytest.fixture()
def hostile(request: pytest.FixtureRequest) -> Iterator[_Hostile]:
    server = _Hostile(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "hostile, message",
    [
        ("endless-token", r"token service 127\.0\.0\.1:\d+ sent an authentication answer over 1048576 bytes"),
        ("huge-length-token", r"token service 127\.0\.0\.1:\d+ sent a 268435456-byte authentication answer"),
        ("endless-401", r"the registry 127\.0\.0\.1:\d+ sent an authentication answer over 1048576 bytes"),
    ],
    indirect=["hostile"],
)
def test_endless_authentication_answers_are_refused(hostile: _Hostile, message: str) -> None:
    opts = RegistryOptions(insecure=True, timeout=10, retries=0)
    with RegistryClient(hostile.host, opts) as client, pytest.raises(AuthError, match=message):
        client.check()
    assert hostile.sent < 32 * MAX_AUTH_BODY  # stopped at the limit (what sits in loopback socket buffers aside)


@pytest.mark.parametrize("hostile", ["catalog-endless"], indirect=True)
def test_endless_pagination_stops_at_the_page_limit(hostile: _Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    from hullscan.registry import client as client_module

    monkeypatch.setattr(client_module, "MAX_PAGES", 50)
    with (RegistryClient(hostile.host, RegistryOptions(insecure=True, retries=0)) as client,
          pytest.raises(RegistryError, match=r"more than 50 pages for catalog")):
        client.catalog(page_size=1)
    assert hostile.sent == 50


@pytest.mark.parametrize("hostile", ["catalog-empty-pages"], indirect=True)
def test_an_empty_page_ends_the_list(hostile: _Hostile) -> None:
    with RegistryClient(hostile.host, RegistryOptions(insecure=True, retries=0)) as client:
        assert client.catalog(page_size=1) == ["r1"]
    assert hostile.sent == 2
