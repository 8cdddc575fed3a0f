"""Kill a real ``hullscan server`` process mid-scan and start it again: the task resumes where it stopped,
every image ends scanned once, and no finding is lost or duplicated."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.registry_server import RegistryServer, free_port, push_image
from tests.server.conftest import URLLIB3_VULN, python_image

IMAGES = 6


def start_server(data: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "hullscan.server", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(data / f"server-{time.time_ns()}.log", "wb"), start_new_session=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start: " + "".join(p.read_text() for p in data.glob("server-*.log")))


def wait(client: httpx.Client, task_id: int, cond: Any, timeout: float = 90) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        task = client.get(f"/api/tasks/{task_id}").json()
        if cond(task):
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id}: {task}")


@pytest.mark.slow
def test_kill_mid_scan_and_resume(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    for i in range(IMAGES):
        push_image(registry, python_image(("urllib3", "1.26.4"), ("pad", str(i))), f"restart/app{i}", "1")
    data = tmp_path / "data"
    data.mkdir()
    db = tmp_path / "vuln.db"
    shutil.copy(vulndb, db)
    env = {**os.environ, "HULLSCAN_DB": str(db), "HULLSCAN_ADMIN_PASSWORD": "restart-pass-1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "hullscan.server", "admin", "create", "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("hs_")
    port = free_port()
    proc = start_server(data, port, env)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        host, rport = registry.host.split(":")
        reg = client.post("/api/registries", json={"name": "local", "type": "registry", "protocol": "http", "ip": host,
                                                   "port": int(rport), "rate_limit": 3600}).json()  # one image per second
        sync = client.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"]
        wait(client, sync, lambda t: t["status"] == "succeeded")
        repos = [r["id"] for r in client.get("/api/repositories", params={"page_size": 500}).json()["items"]
                 if r["name"].startswith("restart/")]
        scan = client.post("/api/tasks/scan", json={"repository_ids": repos}).json()["id"]
        wait(client, scan, lambda t: t["progress"]["done"] >= 2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    con = sqlite3.connect(data / "hullscan.db")
    status, done = con.execute("select status, progress_done from tasks where id=?", (scan,)).fetchone()
    con.close()
    assert status == "running" and 2 <= done < IMAGES  # really interrupted mid-scan

    proc = start_server(data, port, env)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        task = wait(client, scan, lambda t: t["status"] not in ("pending", "running"))
        assert task["status"] == "succeeded", task
        assert task["attempts"] == 2 and task["progress"] == {"done": IMAGES, "total": IMAGES}
        logs = [line["message"] for line in client.get(f"/api/tasks/{scan}/logs").json()["items"]]
        assert any("resuming" in m for m in logs)
        items = client.get(f"/api/tasks/{scan}/items").json()["items"]
        assert sorted(i["status"] for i in items) == ["succeeded"] * IMAGES
        findings = client.get("/api/findings", params={"rule_id": URLLIB3_VULN, "page_size": 500}).json()
        assert findings["total"] == IMAGES  # one per image: nothing lost, nothing duplicated
        assert len({f["image_id"] for f in findings["items"]}) == IMAGES
        assert client.get("/api/quota").json()["used"] == IMAGES  # the re-scanned image was not charged twice
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
