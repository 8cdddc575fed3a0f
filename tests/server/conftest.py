"""Server test fixtures: a runtime on a temporary data dir, an API client with an admin token, a small
vulnerability DB built through ``hullscan.vulndb`` from real OSV records, images with vulnerable packages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hullscan.server.runtime import Runtime, ServerConfig, build_runtime
from tests.helpers import stores
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


#: the stores every server test runs on (``@pytest.mark.sqlite_only`` for tests that don't touch the store's SQL)
STORES = ("sqlite", "postgresql")
_current_store = "sqlite"
_created_databases: list[str] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using the ``store`` fixture (autouse here) runs once per store in :data:`STORES`."""
    if "store" in metafunc.fixturenames:
        params = ["sqlite"] if metafunc.definition.get_closest_marker("sqlite_only") else list(STORES)
        metafunc.parametrize("store", params, indirect=True)


@pytest.fixture(autouse=True)
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store backend of this test run: runtimes made by :func:`make_runtime` use it; PostgreSQL databases made
    for the test are dropped after it."""
    global _current_store
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql" and not stores.pg_base():
        pytest.skip(stores.NO_PG)
    _current_store = backend
    try:
        yield backend
    finally:
        _current_store = "sqlite"
        while _created_databases:
            stores.drop_pg_database(_created_databases.pop())


def _store_url() -> str:
    """"" (SQLite in the data dir) or, when the test runs on PostgreSQL, a fresh database dropped after the test."""
    if _current_store != "postgresql":
        return ""
    url = stores.create_pg_database()
    _created_databases.append(url)
    return url


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
