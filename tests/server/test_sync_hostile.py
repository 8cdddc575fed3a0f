"""Asset sync against a big or misbehaving Distribution v2 registry (tests/server/hostile_registry.py):
thousands of repositories, HTTP 500 and timeouts on some repositories, catalogs that loop, answer HTML or a
JSON list, or link to another host; a sync stopped by a user or by its time limit."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hullscan.server.db.models import Image, ImageTag, Registry, Repository, Task, TaskLog
from hullscan.server.providers import provider_for
from hullscan.server.providers.base import Connection
from hullscan.server.registries import apply_fields
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import create_task, run_task
from tests.server.conftest import make_runtime
from tests.server.helpers import run
from tests.server.hostile_registry import HostileRegistry, serve_hostile


def _add(rt: Runtime, reg: HostileRegistry, name: str = "hostile") -> int:
    with rt.session() as s:
        row = Registry()
        apply_fields(row, {"name": name, "type": "registry", "version": "v2", "protocol": "http", "ip": "127.0.0.1",
                           "port": reg.port, "rate_limit": 10}, rt.secrets)
        s.add(row)
        s.flush()
        return row.id


def _logs(rt: Runtime, task_id: int) -> list[str]:
    with rt.session() as s:
        return list(s.scalars(select(TaskLog.message).where(TaskLog.task_id == task_id).order_by(TaskLog.id)))


def _count(rt: Runtime, model: Any) -> int:
    with rt.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_catalog_of_ten_thousand_repositories_is_listed_page_by_page() -> None:
    names = [f"team{i % 40}/app{i:05d}" for i in range(10_000)]
    with serve_hostile(names) as reg:
        provider = provider_for(Connection(type="registry", version="v2", protocol="http", host="127.0.0.1", port=reg.port))
        repos = provider.repositories()
    assert [r.name for r in repos] == sorted(names)
    assert sum(1 for _, p in reg.requests if p == "/v2/_catalog") == 100  # 100 pages of 100


def test_sync_of_two_thousand_repositories(tmp_path: Path) -> None:
    names = [f"team{i % 20}/app{i:04d}" for i in range(2000)]
    rt = make_runtime(tmp_path)
    with serve_hostile(names) as reg:
        _add(rt, reg)
        t0 = time.monotonic()
        task = run(rt, "sync", {})
        elapsed = time.monotonic() - t0
    assert task.status == "succeeded", _logs(rt, task.id)
    assert (task.progress_done, task.progress_total) == (2000, 2000)
    assert _count(rt, Repository) == 2000 and _count(rt, ImageTag) == 2000 and _count(rt, Image) == 2000
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(Repository).where(Repository.in_scope.is_(True))) == 2000
    assert elapsed < 120, f"sync of 2000 repositories took {elapsed:.0f}s"


def test_http_500_and_timeouts_fail_only_their_repositories(tmp_path: Path) -> None:
    names = [f"lib/r{i}" for i in range(12)]
    rt = make_runtime(tmp_path)
    rt.config.registry_timeout = 0.5
    with serve_hostile(names, tags500={"lib/r3", "lib/r7"}, hang={"lib/r5"}) as reg:
        reg.hang_seconds = 3.0
        _add(rt, reg)
        task = run(rt, "sync", {})
    logs = "\n".join(_logs(rt, task.id))
    assert task.status == "partially failed" and task.result["errors"] == 3
    assert "repository lib/r3: NetworkConnectError: tags of lib/r3: the registry answered HTTP 500" in logs
    assert "repository lib/r7: NetworkConnectError" in logs
    assert "repository lib/r5: NetworkConnectError: cannot connect to" in logs and "Timeout" in logs
    with rt.session() as s:
        synced = set(s.scalars(select(Repository.name).join(ImageTag, ImageTag.repository_id == Repository.id)))
    assert synced == set(names) - {"lib/r3", "lib/r5", "lib/r7"}


@pytest.mark.parametrize(("mode", "message"), [
    ("loop", None),  # every page links to itself: the repeated page ends the listing
    ("html", "the answer is not JSON"),
    ("list", "unexpected answer shape"),
    ("foreign", "the next page is on another host (127.0.0.2); not followed"),
    ("500", "the registry answered HTTP 500"),
])
def test_broken_catalogs_end_the_listing_with_a_reason(tmp_path: Path, mode: str, message: str | None) -> None:
    rt = make_runtime(tmp_path)
    with serve_hostile([f"x/r{i}" for i in range(150)], catalog=mode) as reg:
        _add(rt, reg)
        task = run(rt, "sync", {})
        catalog_pages = sum(1 for _, p in reg.requests if p == "/v2/_catalog")
    logs = "\n".join(_logs(rt, task.id))
    assert catalog_pages <= 3 and not any(p.startswith("127.0.0.2") for _, p in reg.requests)
    if message is None:
        assert task.status == "succeeded" and _count(rt, Repository) == 100
    else:
        assert task.status == "failed" and "cannot list repositories" in logs and message in logs, logs
        assert _count(rt, Repository) == 0


def test_a_sync_stops_on_request_and_at_its_time_limit(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path)
    names = [f"slow/r{i:03d}" for i in range(100)]
    with serve_hostile(names, hang=set(names)) as reg:
        reg.hang_seconds = 0.3
        _add(rt, reg)
        task_id = create_task(rt, "sync", {}, user="tests", enqueue=False)
        worker = threading.Thread(target=run_task, args=(rt, task_id))
        worker.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with rt.session() as s:
                task = s.get(Task, task_id)
                assert task is not None
                if task.progress_done >= 1:  # honoured at the next batch of repositories
                    task.stop_requested = True
                    break
            time.sleep(0.01)
        worker.join(20)
        timed = run(rt, "sync", {"time_limit_seconds": 1})
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        assert task.status == "stopped" and task.error.startswith("stopped by a user")
        assert 32 <= task.progress_done < 100
    assert any("repositories not synced" in line for line in _logs(rt, task_id))
    assert timed.status == "stopped" and timed.error.startswith("time limit reached"), timed.error


def test_adding_a_registry_whose_api_answers_another_shape_is_400(api: Any) -> None:
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class ListEverywhere(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps([1, 2, 3]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), ListEverywhere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for kind, extra in (("quay", {"namespaces": [{"name": "acme", "token": "t"}]}), ("harbor", {"username": "a", "password": "b"}),
                            ("gitlab", {"password": "glpat-x"})):
            resp = api.post("/api/registries", json={"name": kind, "type": kind, "protocol": "http", "ip": "127.0.0.1",
                                                     "port": server.server_address[1], **extra})
            assert resp.status_code == 400 and resp.json()["code"] in ("RegistryVersionError", "FailedToVerifyUsernameOrPwd",
                                                                       "UserDoesNotHaveAdminRole"), (kind, resp.text)
    finally:
        server.shutdown()
        server.server_close()
