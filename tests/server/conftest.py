"""Server test fixtures: a runtime on a temporary data dir, an API client with an admin token, a small
vulnerability DB built through ``hullscan.vulndb`` from real OSV records, images with vulnerable packages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hullscan.server.runtime import Runtime, ServerConfig, build_runtime
from tests.helpers.imagebuild import ImageBuilder

OSV_DIR = Path(__file__).resolve().parents[1] / "data" / "server" / "osv"
URLLIB3_VULN, REQUESTS_VULN = "CVE-2021-33503", "CVE-2018-18074"  # the GHSA records' CVEs (issue 16.6: CVE first)


class FakeClock:
    """A clock whose ``sleep`` advances time instantly (an hour of rate limiting in milliseconds)."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.t = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vulnerability DB with two real PyPI advisories (urllib3, requests), built by ``hullscan db import``'s code."""
    from hullscan.vulndb.manage import import_paths

    path = tmp_path_factory.mktemp("vulndb") / "vuln.db"
    import_paths(path, [OSV_DIR])
    return path


def python_image(*packages: tuple[str, str], extra: dict[str, str] | None = None) -> ImageBuilder:
    """An image with installed Python distributions (``*.dist-info/METADATA`` as pip writes them)."""
    files: dict[str, Any] = {}
    for name, version in packages:
        base = f"/usr/local/lib/python3.11/site-packages/{name}-{version}.dist-info"
        files[f"{base}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}\n"
        files[f"{base}/INSTALLER"] = "pip\n"
        files[f"{base}/RECORD"] = f"{name}/__init__.py,,\n"
        files[f"/usr/local/lib/python3.11/site-packages/{name}/__init__.py"] = f"__version__ = {version!r}\n"
    files.update(extra or {})
    return ImageBuilder().add_layer(files)


def _store_url() -> str:
    """SQLite in the data dir by default; with ``HULLSCAN_TEST_PG=postgresql+psycopg://user@host:port`` a fresh
    PostgreSQL database per runtime (to check that the store's SQL is portable)."""
    import os
    import uuid

    base = os.environ.get("HULLSCAN_TEST_PG", "")
    if not base:
        return ""
    from sqlalchemy import create_engine, text

    name = "hs_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{base}/{name}"


def make_runtime(tmp: Path, vuln_db: Path | None = None, **overrides: Any) -> Runtime:
    """A runtime on ``tmp`` (no queue: tests run tasks with ``run_task`` or attach an InProcessQueue)."""
    config = ServerConfig(data_dir=tmp, db_url=_store_url(), vuln_db_path=vuln_db or tmp / "no-vuln.db", scheduler=False)
    return build_runtime(config, **overrides)


@pytest.fixture
def rt(tmp_path: Path, vulndb: Path) -> Iterator[Runtime]:
    """A fresh runtime with the test vulnerability DB."""
    runtime = make_runtime(tmp_path / "data", vulndb)
    yield runtime
    runtime.engine.dispose()


def admin_token(rt: Runtime, username: str = "admin", role: str = "admin") -> str:
    """Create a user and return an API token for it."""
    from hullscan.server.auth import create_token, create_user

    with rt.session() as s:
        user = create_user(s, username, "correct horse battery", role)
        return create_token(s, user, "tests")


@pytest.fixture
def api(rt: Runtime) -> Iterator[Any]:
    """A TestClient over the app, authenticated as an admin, with an in-process queue attached."""
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app
    from hullscan.server.tasks import InProcessQueue

    rt.queue = InProcessQueue(rt, 2)
    client = TestClient(create_app(rt))
    client.headers["Authorization"] = f"Bearer {admin_token(rt)}"
    yield client
    rt.queue.shutdown()


def wait_task(api: Any, task_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll a task until it is final."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        task = api.get(f"/api/tasks/{task_id}").json()
        if task["status"] not in ("pending", "running"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish: {task}")
