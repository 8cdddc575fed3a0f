"""A hostile registry or token service: endless authentication answers are refused, never read whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hullscan.errors import AuthError
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
