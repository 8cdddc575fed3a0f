"""Concurrent readers and writers through a real uvicorn on the embedded SQLite store: no 5xx, no dropped
connection, and every acknowledged write is what the server shows afterwards (the 50-client figures are in
``bench/server_load_bench.py``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.helpers.registry_server import free_port
from tests.server.load import lost_writes, run_load, seed, start_server


def test_mixed_clients_through_uvicorn(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tokens, findings = seed(data, users=16, findings=200)
    port = free_port()
    proc = start_server(data, port)
    try:
        base = f"http://127.0.0.1:{port}"
        result = run_load(base, tokens, findings, seconds=4)
        assert result.errors == {}, (result.errors, (data / "server.log").read_text()[-3000:])
        assert result.unexpected == {}
        assert len(result.write_latencies) >= 16 and result.acknowledged  # writes really ran concurrently
        assert lost_writes(base, tokens[0], result.acknowledged) == []
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
