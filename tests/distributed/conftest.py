"""Fixtures of the distributed-mode tests: a fresh PostgreSQL database, a Redis key prefix, worker and scheduler
processes of a cluster (``python -m hullscan worker|scheduler``), the test vulnerability DB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import stores

OSV_DIR = Path(__file__).resolve().parents[1] / "data" / "server" / "osv"


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server tests' vulnerability DB: two real PyPI advisories (urllib3, requests)."""
    from hullscan.vulndb.manage import import_paths

    path = tmp_path_factory.mktemp("vulndb") / "vuln.db"
    import_paths(path, [OSV_DIR])
    return path


@dataclass
class Cluster:
    """The shared configuration of one test cluster and the processes started for it."""

    root: Path
    db_url: str
    broker: str
    vuln_db: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def config(self, name: str = "client", **kw: Any) -> Any:
        from hullscan.server.runtime import ServerConfig

        return ServerConfig(data_dir=self.root / name, db_url=self.db_url, vuln_db_path=self.vuln_db, broker_url=self.broker,
                            scheduler=False, claim_lease_seconds=float(self.env["HULLSCAN_CLAIM_LEASE_SECONDS"]), **kw)

    def runtime(self, name: str = "client") -> Any:
        """A runtime of this cluster in the test process (its queue sends to the broker)."""
        from hullscan.server.distributed import build_distributed_runtime

        return build_distributed_runtime(self.config(name))

    def start(self, role: str, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``hullscan <role>`` as a process with its own data dir (another machine of the cluster)."""
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "hullscan", role, "--broker", self.broker, "--db-url", self.db_url,
               "--data-dir", str(data), "--vuln-db", str(self.vuln_db), "--log-level", "info", *args]
        proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=open(data / f"{role}.log", "ab"), start_new_session=True)  # noqa: SIM115
        self.procs.append(proc)
        return proc

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        """One worker process running one job at a time."""
        return self.start("worker", name, "--pool", "solo", "--concurrency", "1")

    def log(self, name: str, role: str = "worker") -> str:
        path = self.root / name / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(max(end - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def cluster_env(broker_prefix: str, lease: float = 3.0, visibility: float = 8.0) -> dict[str, str]:
    from cryptography.fernet import Fernet

    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
            "HULLSCAN_SECRET_KEY": Fernet.generate_key().decode(), "HULLSCAN_CLAIM_LEASE_SECONDS": str(lease),
            "HULLSCAN_BROKER_VISIBILITY_TIMEOUT": str(visibility), "HULLSCAN_BROKER_PREFIX": broker_prefix}


@pytest.fixture
def cluster(tmp_path: Path, vulndb: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """A cluster on a fresh PostgreSQL database and a Redis database + key prefix of its own."""
    db_url = stores.create_pg_database()
    broker = stores.redis_url()
    env = cluster_env(stores.redis_prefix())
    for key in ("HULLSCAN_SECRET_KEY", "HULLSCAN_BROKER_VISIBILITY_TIMEOUT", "HULLSCAN_BROKER_PREFIX"):
        monkeypatch.setenv(key, env[key])
    c = Cluster(tmp_path, db_url, broker, vulndb, env)
    try:
        yield c
    finally:
        c.stop_all()
        stores.drop_pg_database(db_url)
