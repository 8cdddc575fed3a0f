"""The server's image-fix task against the real ``docker-registry``: settings (switch, cycle, scope, time range),
``POST /api/tasks/fix``, per-image items, logs and fix logs, the patched tag pushed; images outside the scope or
the time range are never fixed; the scheduler starts the periodic fix only when it is on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fix.conftest import DebianWorld
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import admin_token, make_runtime, wait_task


@pytest.fixture
def fix_api(tmp_path: Path, debian_world: DebianWorld) -> Iterator[tuple[Any, Any]]:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app
    from hullscan.server.tasks import InProcessQueue

    rt = make_runtime(tmp_path / "data", debian_world.db)
    rt.queue = InProcessQueue(rt, 1)
    client = TestClient(create_app(rt))
    client.headers["Authorization"] = f"Bearer {admin_token(rt)}"
    yield client, rt
    rt.queue.shutdown()
    rt.engine.dispose()


def test_fix_task_patches_images_in_scope_and_time_range(fix_api: tuple[Any, Any], registry: RegistryServer,
                                                         debian_world: DebianWorld) -> None:
    from sqlalchemy import select, update

    from hullscan.options import RegistryOptions
    from hullscan.registry.client import RegistryClient
    from hullscan.server.db.models import Image, ImageTag, Repository

    api, rt = fix_api
    push_image(registry, debian_world.builder, "srvfix/app", "1.0")
    push_image(registry, debian_world.builder, "srvfix/old", "1.0")
    push_image(registry, debian_world.builder, "srvfix/other", "1.0")
    host, port = registry.host.split(":")
    reg = api.post("/api/registries", json={"name": "local", "type": "registry", "protocol": "http", "ip": host,
                                            "port": int(port), "rate_limit": 100_000})
    assert reg.status_code == 201, reg.text
    sync = wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg.json()["id"]]}).json()["id"])
    assert sync["status"] == "succeeded", sync
    repos = {r["name"]: r["id"] for r in api.get("/api/repositories", params={"registry_id": reg.json()["id"]})
             .json()["items"]}
    # no scope yet: refused with a reason
    assert api.post("/api/tasks/fix", json={}).status_code == 409
    current = api.get("/api/settings").json()
    body = {"version": current["version"], "settings": {"image_fix": {
        "enabled": True, "cycle_hours": 12, "repository_ids": [repos["srvfix/app"], repos["srvfix/old"]],
        "time_range_days": 7, "tag_suffix": "-patched"}}}
    put = api.put("/api/settings", json=body)
    assert put.status_code == 200, put.text
    assert api.get("/api/settings").json()["settings"]["image_fix"]["time_range_days"] == 7
    with rt.session() as s:  # srvfix/app was updated yesterday, srvfix/old long ago: outside the time range
        s.execute(update(ImageTag).where(ImageTag.repository_id == repos["srvfix/app"])
                  .values(updated_at=rt.now() - timedelta(days=1)))
        long_ago = rt.now() - timedelta(days=30)
        s.execute(update(ImageTag).where(ImageTag.repository_id == repos["srvfix/old"])
                  .values(updated_at=long_ago, pushed_at=long_ago))
        old_image = s.scalar(select(ImageTag.image_id).where(ImageTag.repository_id == repos["srvfix/old"]))
        app_image = s.scalar(select(ImageTag.image_id).where(ImageTag.repository_id == repos["srvfix/app"]))
        assert s.get(Image, old_image) is not None and s.get(Repository, repos["srvfix/old"]) is not None
    # the three repositories hold the same digest: the image is fixed once, under the in-range repository's tag
    start = api.post("/api/tasks/fix", json={})
    assert start.status_code == 202, start.text
    task = wait_task(api, start.json()["id"], timeout=300)
    assert task["kind"] == "fix" and task["status"] == "succeeded", api.get(f"/api/tasks/{task['id']}/logs").json()
    items = api.get(f"/api/tasks/{task['id']}/items").json()["items"]
    assert [(i["image_id"], i["reference"], i["status"]) for i in items] == [
        (app_image, f"{registry.host}/srvfix/app:1.0", "patched")]
    fixes = api.get(f"/api/tasks/{task['id']}/fixes").json()["fixes"]
    log = fixes[f"{registry.host}/srvfix/app:1.0"]
    assert {(u["name"], u["new"]) for u in log["upgraded"]} == {("libhello1", "1.0-2"), ("libhello-common", "1.0-2")}
    assert log["before"]["HIGH"] == 1 and log["after"]["HIGH"] == 0
    logs = [row["message"] for row in api.get(f"/api/tasks/{task['id']}/logs").json()["items"]]
    assert any("upgraded libhello1 1.0-1 -> 1.0-2" in m for m in logs)
    with RegistryClient(registry.host, RegistryOptions(insecure=True)) as client:
        assert client.tags("srvfix/app") == ["1.0", "1.0-patched"]
        assert client.tags("srvfix/old") == ["1.0"]  # outside the time range
        assert client.tags("srvfix/other") == ["1.0"]  # outside the scope
        assert client.head_manifest("srvfix/app", "1.0-patched") == log["patched_digest"]
    assert api.get("/api/tasks", params={"kind": "fix"}).json()["total"] == 1
    quota_used = api.get("/api/quota").json()["used"]
    assert quota_used >= 1  # the rescan of the patched digest took a unit

    # with the fix on, a finished scan starts a fix of the images it scanned
    scan = wait_task(api, api.post("/api/tasks/scan", json={"repository_ids": [repos["srvfix/app"]]}).json()["id"],
                     timeout=300)
    assert scan["status"] == "succeeded", scan
    fixes_listed = api.get("/api/tasks", params={"kind": "fix"}).json()["items"]
    assert len(fixes_listed) == 2 and fixes_listed[0]["trigger"] == "after-scan"
    assert fixes_listed[0]["params"] == {"image_ids": [app_image]}
    again = wait_task(api, fixes_listed[0]["id"], timeout=300)
    assert again["status"] == "succeeded", api.get(f"/api/tasks/{again['id']}/logs").json()


def test_scheduler_starts_the_periodic_fix_only_when_on(tmp_path: Path, debian_world: DebianWorld) -> None:
    from hullscan.server.scansettings import get_settings, update_settings
    from hullscan.server.scheduler import tick

    clock = [1000.0]
    rt = make_runtime(tmp_path / "data", debian_world.db, clock=lambda: clock[0])
    try:
        def kinds(ids: list[int]) -> list[str]:
            return [rt_task_kind(rt, i) for i in ids]

        tick(rt)
        clock[0] += 13 * 3600
        assert "fix" not in kinds(tick(rt))  # off by default
        with rt.session() as s:
            _, version = get_settings(s)
            update_settings(s, {"image_fix": {"enabled": True, "cycle_hours": 12, "repository_ids": [1]},
                                "scan_cycle_hours": None}, version, "tests")
        tick(rt)
        clock[0] += 11 * 3600
        assert "fix" not in kinds(tick(rt))  # not due yet
        clock[0] += 2 * 3600
        assert kinds(tick(rt)) == ["fix"]
    finally:
        rt.engine.dispose()


def rt_task_kind(rt: Any, task_id: int) -> str:
    from hullscan.server.db.models import Task

    with rt.session() as s:
        task = s.get(Task, task_id)
        return str(task.kind) if task else ""
