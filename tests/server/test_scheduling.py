"""Rate limit with a fast clock, the task time limit, the scheduler's daily sync / periodic scan, retention
and whitelist expiry — driven through the real task functions and a real registry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from hullscan.server import whitelist
from hullscan.server.db.models import FindingRow, Meta, Scan, Task, TaskItem, TaskLog, WhitelistRule
from hullscan.server.ratelimit import try_acquire
from hullscan.server.scheduler import sync_due, tick
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import URLLIB3_VULN, FakeClock, make_runtime, python_image
from tests.server.helpers import add_registry_row, repo_ids, run


def test_token_bucket_spacing_is_shared(tmp_path: Path) -> None:
    clock = FakeClock()
    rt = make_runtime(tmp_path, clock=clock, sleep=clock.sleep)
    with rt.session() as s:
        from hullscan.server.db.models import Registry

        reg = Registry(name="r", type="registry", domain="x")
        s.add(reg)
        s.flush()
        rid = reg.id
    assert try_acquire(rt.sessions, rid, 4, clock()) == 0.0  # 4/hour: one every 900 s
    wait = try_acquire(rt.sessions, rid, 4, clock())  # a second worker asking at once must wait
    assert 899 < wait <= 900
    clock.advance(899)
    assert try_acquire(rt.sessions, rid, 4, clock()) > 0
    clock.advance(1)
    assert try_acquire(rt.sessions, rid, 4, clock()) == 0.0
    assert try_acquire(rt.sessions, rid, 0, clock()) == 0.0  # unlimited


def test_rate_limit_is_honoured_and_time_limit_stops_the_task(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    for n in ("a", "b", "c"):
        push_image(registry, python_image(("urllib3", f"1.26.{ord(n) - 96}")), f"rl/{n}", "1")
    clock = FakeClock()
    rt = make_runtime(tmp_path, vulndb, clock=clock, sleep=clock.sleep)
    rid = add_registry_row(rt, registry, "rl", rate_limit=2)  # one image every 1800 s
    assert run(rt, "sync", {"registry_ids": [rid]}).status == "succeeded"
    repos = repo_ids(rt, rid, "rl/")
    assert len(repos) == 3

    task = run(rt, "scan", {"repository_ids": repos})
    assert task.status == "succeeded", task.error
    with rt.session() as s:
        starts = sorted(sc.started_at.replace(tzinfo=timezone.utc).timestamp() for sc in s.scalars(select(Scan).where(Scan.task_id == task.id)))
        logs = [line.message for line in s.scalars(select(TaskLog).where(TaskLog.task_id == task.id))]
    assert len(starts) == 3
    assert all(b - a >= 1800 - 1e-6 for a, b in zip(starts, starts[1:])), starts
    assert clock.slept >= 3600 - 1e-6
    assert any("rate limit" in m and "waiting" in m for m in logs)

    # same three images, 2000 s allowed: two fit (t0, t0+1800), the third is marked "not scanned: time limit"
    clock.advance(3600)  # let the bucket refill
    stopped = run(rt, "scan", {"repository_ids": repos, "time_limit_seconds": 2000})
    assert stopped.status == "stopped" and "time limit" in stopped.error
    with rt.session() as s:
        items = [(i.reference, i.status) for i in s.scalars(select(TaskItem).where(TaskItem.task_id == stopped.id).order_by(TaskItem.id))]
        logs = [line.message for line in s.scalars(select(TaskLog).where(TaskLog.task_id == stopped.id))]
    assert [st for _, st in items] == ["succeeded", "succeeded", "not scanned: time limit"]
    assert any("1 images not scanned" in m for m in logs)
    assert stopped.progress_done == stopped.progress_total == 3


def test_failed_images_are_named_in_the_log(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    push_image(registry, python_image(("requests", "2.0.0")), "broken/ok", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "broken", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    # a tag whose manifest is deleted from the registry after the sync: that image fails, the other succeeds
    push_image(registry, python_image(("requests", "2.0.1")), "broken/gone", "1")
    run(rt, "sync", {"registry_ids": [rid]})
    with registry.http() as http:
        resp = http.get("/v2/broken/gone/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        digest = resp.headers["docker-content-digest"]
        blob = __import__("json").loads(resp.content)["layers"][0]["digest"]
    # remove the layer blob from the registry's storage so pulling fails
    layer_dir = next(registry.root.rglob(f"blobs/sha256/{blob[7:9]}/{blob[7:]}"))
    (layer_dir / "data").write_bytes(b"not the layer")
    task = run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "broken/")})
    assert task.status == "partially failed", task.error
    with rt.session() as s:
        logs = [line.message for line in s.scalars(select(TaskLog).where(TaskLog.task_id == task.id, TaskLog.level == "error"))]
    assert any(digest in m and "failed" in m for m in logs), logs


def test_scheduler_daily_sync_periodic_scan_and_retention(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    push_image(registry, python_image(("urllib3", "1.26.0")), "sched/app", "1")
    local_3am = datetime.now().astimezone().replace(hour=2, minute=59, second=0, microsecond=0)
    clock = FakeClock(local_3am.timestamp())
    rt = make_runtime(tmp_path, vulndb, clock=clock, sleep=clock.sleep)
    add_registry_row(rt, registry, "sched", rate_limit=0)
    from hullscan.server.tasks import run_task

    assert tick(rt) == []  # 02:59: nothing due yet (periodic scan clock starts now)
    clock.advance(60)
    started = tick(rt)  # 03:00: the daily sync
    assert len(started) == 1
    run_task(rt, started[0])
    assert tick(rt) == []  # once a day only
    with rt.session() as s:
        assert s.get(Task, started[0]).kind == "sync"  # type: ignore[union-attr]
    clock.advance(24 * 3600)
    due = tick(rt)  # next day: sync again, and the 24 h scan cycle is due
    with rt.session() as s:
        kinds = sorted(s.get(Task, t).kind for t in due)  # type: ignore[union-attr]
    assert kinds == ["scan", "sync"]
    for t in sorted(due):
        run_task(rt, t)
    with rt.session() as s:
        found = s.scalars(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN)).all()
        assert found
        # retention: findings not seen for 90 days are purged by the next tick
        for f in found:
            f.last_seen = rt.now() - timedelta(days=91)
    tick(rt)
    with rt.session() as s:
        assert s.scalars(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN)).all() == []
        assert s.get(Meta, "daily_sync_day") is not None


def test_sync_due_rules() -> None:
    t = datetime(2026, 1, 2, 3, 0)
    assert sync_due(t, "03:00", "2026-01-01") and not sync_due(t, "03:00", "2026-01-02")
    assert not sync_due(t.replace(hour=2, minute=59), "03:00", "2026-01-01")


def test_expired_whitelist_rule_stops_suppressing_by_itself(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    push_image(registry, python_image(("urllib3", "1.26.1")), "wl/app", "1")
    clock = FakeClock()
    rt = make_runtime(tmp_path, vulndb, clock=clock, sleep=clock.sleep)
    rid = add_registry_row(rt, registry, "wl", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    with rt.session() as s:
        s.add(WhitelistRule(kind="vulnerability", value=URLLIB3_VULN, author="tests", note="temporary",
                            created_at=rt.now(), expires_at=rt.now() + timedelta(hours=1)))
    run(rt, "scan", {"repository_ids": repo_ids(rt, rid, "wl/")})
    with rt.session() as s:
        row = s.scalar(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN))
        assert row is not None and row.suppressed_by is not None
    clock.advance(3601)
    with rt.session() as s:
        assert whitelist.expire_due(s, rt.now()) == 1
        row = s.scalar(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN))
        assert row is not None and row.suppressed_by is None


def test_concurrent_tasks_on_the_same_images(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    from hullscan.server.tasks import InProcessQueue, create_task

    for n in range(3):
        push_image(registry, python_image(("urllib3", "1.26.4"), ("x", str(n))), f"conc/app{n}", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "conc", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    rt.queue = queue = InProcessQueue(rt, 3)
    ids = [create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, "conc/")}) for _ in range(3)]
    assert queue.join(120)
    queue.shutdown()
    with rt.session() as s:
        assert [s.get(Task, i).status for i in ids] == ["succeeded"] * 3  # type: ignore[union-attr]
        rows = s.scalars(select(FindingRow).where(FindingRow.rule_id == URLLIB3_VULN)).all()
    assert len(rows) == 3 and len({r.image_id for r in rows}) == 3  # one per image, none duplicated


def test_recover_resumes_running_tasks_and_gives_up_after_repeated_restarts(tmp_path: Path) -> None:
    from hullscan.server.tasks import MAX_ATTEMPTS, create_task, recover

    rt = make_runtime(tmp_path)
    fresh = create_task(rt, "sync", {}, enqueue=False)
    interrupted = create_task(rt, "sync", {}, enqueue=False)
    doomed = create_task(rt, "scan", {}, enqueue=False)
    with rt.session() as s:
        s.get(Task, interrupted).status, s.get(Task, interrupted).attempts = "running", 1  # type: ignore[union-attr]
        s.get(Task, doomed).status, s.get(Task, doomed).attempts = "running", MAX_ATTEMPTS  # type: ignore[union-attr]
    assert recover(rt) == [fresh, interrupted]
    with rt.session() as s:
        assert s.get(Task, interrupted).status == "pending"  # type: ignore[union-attr]
        dead = s.get(Task, doomed)
        assert dead is not None and dead.status == "failed" and "interrupted by 3 server restarts" in dead.error


def test_time_range_uses_update_or_creation_time(tmp_path: Path, registry: RegistryServer) -> None:
    from hullscan.server.scanning import precheck
    from hullscan.server.scansettings import get_settings, update_settings

    push_image(registry, python_image(("attrs", "21.0.0")), "range/app", "1")  # config created 2024-01-01
    clock = FakeClock(datetime(2024, 1, 20, tzinfo=timezone.utc).timestamp())
    rt = make_runtime(tmp_path, clock=clock, sleep=clock.sleep)
    rid = add_registry_row(rt, registry, "range", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    params = {"repository_ids": repo_ids(rt, rid, "range/")}
    with rt.session() as s:
        _, version = get_settings(s)
        update_settings(s, {"time_range_days": 30}, version, "tests")
        assert precheck(s, params, rt.now())["images"] == 1  # 19 days old
        assert precheck(s, params, rt.now() + timedelta(days=40))["images"] == 0  # 59 days old: out of range
        from hullscan.server.db.models import ImageTag

        tag = s.scalars(select(ImageTag).where(ImageTag.repository_id == params["repository_ids"][0])).one()
        tag.updated_at = rt.now() + timedelta(days=39)  # updated since: the update time counts
        s.flush()
        assert precheck(s, params, rt.now() + timedelta(days=40))["images"] == 1
