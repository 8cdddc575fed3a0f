"""A write is acknowledged only once it is durable: with the SQLite file locked by another connection
(``BEGIN EXCLUSIVE``), a revoke or a state change answers 503 with ``Retry-After`` instead of a 2xx whose commit
later fails, and what the client sees afterwards matches what it was told."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hullscan.server.runtime import Runtime, ServerConfig, build_runtime
from tests.server.conftest import admin_token


@pytest.fixture
def locked_rt(tmp_path: Path, vulndb: Path) -> Iterator[Runtime]:
    """A runtime on SQLite whose busy timeout is short (the lock below is held for the whole request)."""
    config = ServerConfig(data_dir=tmp_path / "data", vuln_db_path=vulndb, scheduler=False, db_busy_timeout=0.3)
    rt = build_runtime(config)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def client(locked_rt: Runtime) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app

    with TestClient(create_app(locked_rt), raise_server_exceptions=False) as c:
        yield c


@contextmanager
def locked(rt: Runtime) -> Iterator[None]:
    """Another connection holds the database's write lock."""
    con = sqlite3.connect(rt.config.data_dir / "hullscan.db", isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_token_revoke_is_not_acknowledged_before_it_is_durable(client: Any, locked_rt: Runtime) -> None:
    admin = {"Authorization": f"Bearer {admin_token(locked_rt)}"}
    token = client.post("/api/tokens", json={"name": "ci"}, headers=admin).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    token_id = next(t["id"] for t in client.get("/api/tokens", headers=bearer).json() if t["name"] == "ci")
    with locked(locked_rt):
        resp = client.delete(f"/api/tokens/{token_id}", headers=bearer)
        assert resp.status_code == 503, resp.text
        assert resp.headers["Retry-After"].isdigit()
        assert resp.json()["code"] == "StoreBusy"
    # not acknowledged, and indeed not revoked: the client can retry
    assert client.get("/api/users/me", headers=bearer).status_code == 200
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer).status_code == 204
    assert client.get("/api/users/me", headers=bearer).status_code == 401


def test_finding_state_is_not_acknowledged_before_it_is_durable(client: Any, locked_rt: Runtime) -> None:
    from hullscan.server.db.models import FindingRow, Image

    admin = {"Authorization": f"Bearer {admin_token(locked_rt)}"}
    with locked_rt.session() as s:
        image = Image(digest="sha256:" + "a" * 64)
        s.add(image)
        s.flush()
        row = FindingRow(image_id=image.id, fingerprint="f" * 64, category="vulnerability", rule_id="CVE-2026-0001",
                         severity="HIGH")
        s.add(row)
        s.flush()
        finding_id = row.id
    body = {"state": "ignored", "reason": "not reachable"}
    with locked(locked_rt):
        resp = client.put(f"/api/findings/{finding_id}/state", json=body, headers=admin)
        assert resp.status_code == 503, resp.text
        assert "Retry-After" in resp.headers
    assert client.get(f"/api/findings/{finding_id}", headers=admin).json()["state"] == "open"
    resp = client.put(f"/api/findings/{finding_id}/state", json=body, headers=admin)
    assert resp.status_code == 200 and resp.json()["state"] == "ignored"
    assert client.get(f"/api/findings/{finding_id}", headers=admin).json()["state"] == "ignored"


def test_reads_are_served_while_another_process_writes(client: Any, locked_rt: Runtime) -> None:
    admin = {"Authorization": f"Bearer {admin_token(locked_rt)}"}
    with locked(locked_rt):  # WAL: readers never wait for the writer
        assert client.get("/api/findings", headers=admin).status_code == 200
        assert client.get("/api/registries", headers=admin).status_code == 200
