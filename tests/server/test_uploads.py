"""Request bodies are not read before the caller is authenticated: unfinished anonymous uploads are answered
401 at once and cost the server no memory; an authenticated body streams with its size limit."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx

from tests.helpers.registry_server import free_port
from tests.server.load import seed, start_server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_unfinished_anonymous_uploads_cost_no_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tokens, _ = seed(data, users=1, findings=10)
    port = free_port()
    proc = start_server(data, port)
    socks: list[socket.socket] = []
    answers: list[bytes] = []
    lock = threading.Lock()

    def upload() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        with lock:
            socks.append(sock)
        sock.sendall(b"PUT /api/settings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 8000000\r\n\r\n")
        try:
            sock.sendall(b"[" + b" " * 6_000_000)  # most of the body, never finished
        except OSError:  # the server answered and stopped reading
            pass
        try:
            with lock:
                answers.append(sock.recv(200))
        except OSError:
            pass

    try:
        httpx.get(f"http://127.0.0.1:{port}/api/findings", headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=30)
        before = rss_mb(proc.pid)
        threads = [threading.Thread(target=upload) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        time.sleep(1.0)
        after = rss_mb(proc.pid)
        assert after - before < 60, (before, after)  # main: every upload buffered, 147 -> 451 MB
        assert answers and all(a.startswith(b"HTTP/1.1 401") for a in answers), answers[:3]
        # an authenticated caller's oversized body is still refused while it streams (no Content-Length to trust)
        def chunks() -> object:
            for _ in range(10):
                yield b" " * (1024 * 1024)

        resp = httpx.put(f"http://127.0.0.1:{port}/api/settings", content=chunks(),  # type: ignore[arg-type]
                         headers={"Authorization": f"Bearer {tokens[0]}", "Content-Type": "application/json"}, timeout=60)
        assert resp.status_code == 413
    finally:
        for s in socks:
            s.close()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
