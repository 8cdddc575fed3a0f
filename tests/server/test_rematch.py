"""Index once, re-match without pulling: a vulnerability DB update is detected by the scheduler and every
stored inventory is re-matched; changed images are logged and sent as a webhook event."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hullscan.server.db.models import Event, FindingRow, Image, TaskLog
from hullscan.server.scansettings import get_settings, update_settings
from hullscan.server.scheduler import tick
from hullscan.server.tasks import run_task
from hullscan.vulndb.manage import import_paths
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import FakeClock, make_runtime, python_image
from tests.server.helpers import add_registry_row, repo_ids, run

UPDATE_DIR = Path(__file__).resolve().parents[1] / "data" / "server" / "osv_update"
NEW_VULN = "CVE-2023-32681"  # GHSA-j8r2-6x86-q33q's CVE (issue 16.6: CVE first)


def webhook_receiver() -> tuple[str, list[dict[str, Any]], ThreadingHTTPServer]:
    got: list[dict[str, Any]] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}/hook", got, srv


def test_db_update_rematches_stored_inventories(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    db = tmp_path / "vuln.db"
    shutil.copy(vulndb, db)
    push_image(registry, python_image(("requests", "2.25.0")), "rematch/app", "1")
    clock = FakeClock(datetime.now().astimezone().replace(hour=1, minute=0).timestamp())  # before the daily sync
    rt = make_runtime(tmp_path / "data", db, clock=clock, sleep=clock.sleep)
    url, got, srv = webhook_receiver()
    with rt.session() as s:
        _, version = get_settings(s)
        update_settings(s, {"webhook_urls": [url]}, version, "tests")
    rid = add_registry_row(rt, registry, "rematch", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    assert run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "rematch/")}).status == "succeeded"
    with rt.session() as s:
        assert s.scalars(select(FindingRow).where(FindingRow.category == "vulnerability")).all() == []
    assert tick(rt) == []  # first sight of the DB: remembered, nothing to do

    import_paths(db, [UPDATE_DIR])  # `hullscan db import`: the DB file changes
    started = tick(rt)
    assert len(started) == 1
    pulls_before = len(list(registry.root.rglob("*")))
    run_task(rt, started[0])
    with rt.session() as s:
        rows = s.scalars(select(FindingRow).where(FindingRow.category == "vulnerability")).all()
        assert [(r.rule_id, r.package_name, r.package_version) for r in rows] == [(NEW_VULN, "requests", "2.25.0")]
        logs = [line.message for line in s.scalars(select(TaskLog).where(TaskLog.task_id == started[0]))]
        event = s.scalar(select(Event).where(Event.kind == "findings.changed"))
        assert event is not None and event.delivered == {url: 204}
    assert any("+1 / -0 vulnerabilities" in m for m in logs)
    assert got and got[0]["kind"] == "findings.changed" and got[0]["payload"]["images"][0]["gained"] == 1
    assert len(list(registry.root.rglob("*"))) == pulls_before
    assert tick(rt) == []  # same DB again: nothing to re-match
    srv.shutdown()


def test_rematch_thousands_of_inventories_quickly(tmp_path: Path, vulndb: Path) -> None:
    from hullscan.model import Distro, Package
    from hullscan.serde import to_data

    rt = make_runtime(tmp_path, vulndb)
    pkgs = [Package(name="urllib3", version="1.26.4", ecosystem="PyPI", purl="pkg:pypi/urllib3@1.26.4"),
            Package(name="requests", version="2.19.0", ecosystem="PyPI", purl="pkg:pypi/requests@2.19.0")]
    pkgs += [Package(name=f"lib{i}", version="1.0.0", ecosystem="PyPI") for i in range(40)]
    inv = {"os": to_data(Distro(id="debian", version_id="12")), "packages": to_data(pkgs)}
    with rt.session() as s:
        for i in range(2000):
            s.add(Image(digest=f"sha256:{i:064x}", inventory=inv, scan_status="succeeded"))
    t0 = time.monotonic()
    task = run(rt, "rematch", {})
    elapsed = time.monotonic() - t0
    assert task.status == "succeeded", task.error
    assert task.result["images"] == 2000 and len(task.result["changed"]) == 1000  # capped list; all 2000 changed
    with rt.session() as s:
        assert len(s.scalars(select(FindingRow.id)).all()) == 4000
    print(f"re-matched 2000 inventories in {elapsed:.1f}s")
    assert elapsed < 120
