"""Scan tasks when things run out or go away: the quota ending mid-task (also through the Harbor adapter), a
failed pull costing no quota, a registry stopped mid-scan (circuit breaker; last good results kept)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hullscan.server import quota
from hullscan.server.db.models import FindingRow, Image, QuotaUsage, TaskItem
from hullscan.server.runtime import Runtime, ServerConfig, build_runtime
from hullscan.server.scanning import NO_QUOTA, UNREACHABLE
from tests.helpers.registry_server import RegistryServer, push_image, start_registry
from tests.server.conftest import URLLIB3_VULN, FakeClock, _store_url, python_image
from tests.server.helpers import add_registry_row, repo_ids, run


def runtime(tmp: Path, vulndb: Path, **config: Any) -> Runtime:
    return build_runtime(ServerConfig(data_dir=tmp / "data", db_url=_store_url(), vuln_db_path=vulndb, scheduler=False,
                                      **config))


def items_of(rt: Runtime, task_id: int) -> list[tuple[str, str]]:
    with rt.session() as s:
        return [(i.status, i.error) for i in s.scalars(select(TaskItem).where(TaskItem.task_id == task_id)
                                                       .order_by(TaskItem.id))]


def test_quota_running_out_mid_task_leaves_the_rest_not_scanned(tmp_path: Path, registry: RegistryServer,
                                                                vulndb: Path) -> None:
    for n in range(3):
        push_image(registry, python_image(("urllib3", "1.26.4"), ("qmid", str(n))), f"qmid/app{n}", "1")
    rt = runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "qmid", rate_limit=0)
    assert run(rt, "sync", {"registry_ids": [rid]}).status == "succeeded"
    with rt.session() as s:
        quota.set_purchased(s, 1)
    task = run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "qmid/")})  # the API's precheck bypassed
    assert task.status == "partially failed", task.error
    assert "transaction" not in task.error.lower() and "sqlalchemy" not in task.error.lower()
    statuses = [st for st, _ in items_of(rt, task.id)]
    assert statuses == ["succeeded", NO_QUOTA, NO_QUOTA]
    assert all("quota exhausted" in err for st, err in items_of(rt, task.id) if st == NO_QUOTA)
    with rt.session() as s:
        assert quota.status(s).used == 1


def test_a_failed_pull_consumes_no_quota(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    push_image(registry, python_image(("urllib3", "1.26.4"), ("qfail", "ok")), "qfail/ok", "1")
    push_image(registry, python_image(("urllib3", "1.26.4"), ("qfail", "bad")), "qfail/bad", "1")
    with registry.http() as http:
        resp = http.get("/v2/qfail/bad/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        blob = __import__("json").loads(resp.content)["layers"][0]["digest"]
    rt = runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "qfail", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    layer = next(registry.root.rglob(f"blobs/sha256/{blob[7:9]}/{blob[7:]}"))
    (layer / "data").write_bytes(b"not the layer")  # pulling this image fails its digest check
    task = run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "qfail/")})
    assert sorted(st for st, _ in items_of(rt, task.id)) == ["failed", "succeeded"]
    with rt.session() as s:
        assert quota.status(s).used == 1
        assert len(s.scalars(select(QuotaUsage)).all()) == 1


def test_harbor_scan_with_no_quota_left_reports_why(api: Any, rt: Runtime, registry: RegistryServer) -> None:
    rt.config.harbor_registries = (registry.host,)
    image = python_image(("urllib3", "1.26.4"), ("harborq", "1"))
    push_image(registry, image, "library/harborq", "1")
    assert api.put("/api/quota", json={"purchased": 0}).status_code == 200
    req = {"registry": {"url": registry.url}, "artifact": {"repository": "library/harborq", "digest": image.digest}}
    accepted = api.post("/api/v1/scan", json=req)
    assert accepted.status_code == 202, accepted.text
    rid = accepted.json()["id"]
    end = time.monotonic() + 60
    while (rep := api.get(f"/api/v1/scan/{rid}/report", follow_redirects=False)).status_code == 302:
        assert time.monotonic() < end
        time.sleep(0.1)
    message = rep.json()["error"]["message"]
    assert "quota exhausted" in message and "transaction" not in message.lower()


def test_registry_gone_mid_scan_trips_the_breaker_and_keeps_good_results(tmp_path: Path, vulndb: Path) -> None:
    reg = start_registry(tmp_path / "reg")
    try:
        for n in range(5):
            push_image(reg, python_image(("urllib3", "1.26.4"), ("gone", str(n))), f"gone/app{n}", "1")
        rt = runtime(tmp_path, vulndb, pull_retry_seconds=0.2, breaker_threshold=2)
        rid = add_registry_row(rt, reg, "gone", rate_limit=0)
        run(rt, "sync", {"registry_ids": [rid]})
        repos = repo_ids(rt, rid, "gone/")
        first = run(rt, "scan", {"repository_ids": repos})
        assert first.status == "succeeded", first.error
    finally:
        reg.stop()
    second = run(rt, "scan", {"repository_ids": repos})
    statuses = [st for st, _ in items_of(rt, second.id)]
    assert statuses == ["failed", "failed", UNREACHABLE, UNREACHABLE, UNREACHABLE]
    assert second.status == "failed"
    with rt.session() as s:
        images = s.scalars(select(Image).where(Image.scan_status != "not scanned")).all()
        assert len(images) == 5
        assert all(i.scan_status == "succeeded" for i in images)  # the first scan's results stand
        assert sum("latest scan attempt failed" in i.scan_error for i in images) == 2
        assert len(s.scalars(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN)).all()) == 5
        assert quota.status(s).used == 5  # the failed attempts cost nothing


def test_a_rate_limit_change_applies_to_a_waiting_task(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    from hullscan.server.db.models import Registry

    for n in ("a", "b"):
        push_image(registry, python_image(("urllib3", "1.26.4"), ("rlchange", n)), f"rlchange/{n}", "1")
    clock = FakeClock()
    rt = build_runtime(ServerConfig(data_dir=tmp_path / "data", db_url=_store_url(), vuln_db_path=vulndb,
                                    scheduler=False), clock=clock, sleep=clock.sleep)
    rid = add_registry_row(rt, registry, "rlchange", rate_limit=1)  # one image an hour
    run(rt, "sync", {"registry_ids": [rid]})

    def sleep(seconds: float) -> None:  # the task waits for the second image: the admin lifts the limit meanwhile
        clock.sleep(seconds)
        with rt.session() as s:
            reg = s.get(Registry, rid)
            assert reg is not None
            reg.rate_limit = 0

    rt.sleep = sleep
    task = run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "rlchange/")})
    assert task.status == "succeeded", task.error
    assert clock.slept < 60  # not the hour the old limit asked for


def test_no_sync_at_start_up_and_a_new_registry_is_synced_at_once(tmp_path: Path, vulndb: Path, api: Any,
                                                                   registry: RegistryServer) -> None:
    from hullscan.server.scheduler import tick

    afternoon = datetime.now().astimezone().replace(hour=14, minute=0, second=0, microsecond=0)
    clock = FakeClock(afternoon.timestamp())
    rt = build_runtime(ServerConfig(data_dir=tmp_path / "data", db_url=_store_url(), vuln_db_path=vulndb,
                                    scheduler=False), clock=clock, sleep=clock.sleep)
    assert tick(rt) == []  # started at 14:00 with the daily sync at 03:00: no sync until tomorrow 03:00
    clock.advance(12 * 3600)  # 02:00
    assert tick(rt) == []
    clock.advance(3600)  # 03:00
    assert len(tick(rt)) == 1
    # through the API: adding a registry starts its first sync
    host, port = registry.host.split(":")
    added = api.post("/api/registries", json={"name": "fresh", "type": "registry", "protocol": "http", "ip": host,
                                              "port": int(port), "rate_limit": 100})
    assert added.status_code == 201, added.text
    task = api.get(f"/api/tasks/{added.json()['sync_task_id']}").json()
    assert task["kind"] == "sync" and task["params"]["registry_ids"] == [added.json()["id"]]


def test_meta_is_set_whoever_set_it_a_moment_ago(rt: Runtime) -> None:
    from hullscan.server.db.models import Meta
    from hullscan.server.meta import get_meta, set_meta

    with rt.session() as mine:
        assert get_meta(mine, "k") is None  # this task read it unset ...
        with rt.session() as other:  # ... another task sets it meanwhile
            set_meta(other, "k", "other")
        set_meta(mine, "k", "mine")
    with rt.session() as s:
        assert s.get(Meta, "k").value == "mine"  # type: ignore[union-attr]
        set_meta(s, "k", "ignored", overwrite=False)
        assert get_meta(s, "k") == "mine"


def test_an_explicitly_chosen_out_of_scope_repository_is_scanned_or_told_why(tmp_path: Path, registry: RegistryServer,
                                                                            vulndb: Path) -> None:
    from hullscan.server.db.models import Repository
    from hullscan.server.scansettings import get_settings, update_settings

    push_image(registry, python_image(("urllib3", "1.26.4"), ("oos", "1")), "oos/app", "1")
    rt = runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "oos", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    repos = repo_ids(rt, rid, "oos/")
    with rt.session() as s:
        for repo in s.scalars(select(Repository).where(Repository.id.in_(repos))):
            repo.in_scope = False
    task = run(rt, "scan", {"repository_ids": repos})
    assert task.status == "succeeded" and task.progress_total == 1  # chosen by name: scanned though out of scope
    with rt.session() as s:
        _, version = get_settings(s)
        update_settings(s, {"time_range_days": 1}, version, "tests")  # the image is older than a day
    told = run(rt, "scan", {"repository_ids": repos})
    assert told.status == "failed" and "time_range_days" in told.error, told.error
