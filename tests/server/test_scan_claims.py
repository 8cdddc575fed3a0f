"""Two scan tasks that reach the same digest at the same moment: it is pulled and scanned once, the second task
waits for the first and takes its outcome (against the real registry, with real threads and the real store)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import select

from hullscan.server.db.models import Image, Scan, Task, TaskItem, TaskLog
from hullscan.server.tasks import create_task, recover, run_task
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import make_runtime, python_image
from tests.server.helpers import add_registry_row, repo_ids, run


def _until(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_tasks_reaching_the_same_digest_scan_it_once(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    image = python_image(("idna", "3.1"))
    push_image(registry, image, "claims/app", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "claims", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    ids = repo_ids(rt, rid, "claims/")
    first = create_task(rt, "scan", {"repository_ids": ids}, enqueue=False)
    second = create_task(rt, "scan", {"repository_ids": ids}, enqueue=False)
    calls: list[str] = []
    release = threading.Event()
    real = rt.scan_fn

    def held(ref, options):  # type: ignore[no-untyped-def]
        calls.append(ref)
        assert release.wait(60), "the second task never started waiting"
        return real(ref, options)

    rt.scan_fn = held

    def claim_holder() -> int | None:
        with rt.session() as s:
            return s.scalar(select(Image.scan_claim_task).where(Image.digest == image.digest))

    def logs(task_id: int) -> list[str]:
        with rt.session() as s:
            return list(s.scalars(select(TaskLog.message).where(TaskLog.task_id == task_id).order_by(TaskLog.id)))

    t1 = threading.Thread(target=run_task, args=(rt, first))
    t1.start()
    _until(lambda: claim_holder() == first and len(calls) == 1, "the first task's claim")
    t2 = threading.Thread(target=run_task, args=(rt, second))
    t2.start()
    _until(lambda: any("is being scanned by task" in m for m in logs(second)), "the second task to wait")
    release.set()
    t1.join(120)
    t2.join(120)
    assert len(calls) == 1  # pulled and scanned once
    with rt.session() as s:
        statuses = {t.id: t.status for t in s.scalars(select(Task).where(Task.id.in_([first, second])))}
        items = {i.task_id: (i.status, i.error) for i in s.scalars(select(TaskItem).where(TaskItem.task_id.in_([first, second])))}
        scans = s.scalars(select(Scan).join(Image, Scan.image_id == Image.id).where(Image.digest == image.digest)).all()
        img = s.scalar(select(Image).where(Image.digest == image.digest))
    assert statuses == {first: "succeeded", second: "succeeded"}
    assert items == {first: ("succeeded", ""), second: ("succeeded", "")}
    assert len(scans) == 1 and scans[0].task_id == first
    assert img is not None and img.scan_claim_task is None and img.scan_status == "succeeded"
    assert any("its result is used" in m for m in logs(second))


def test_a_claim_left_by_a_dead_process_does_not_block_the_next_task(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    """A server killed mid-scan leaves the claim behind: after the restart its task is no longer running, so another
    task (or the resumed one) claims the digest at once."""
    image = python_image(("idna", "3.2"))
    push_image(registry, image, "claims/dead", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "claims", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    dead = create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, "claims/")}, enqueue=False)
    with rt.session() as s:  # what a process killed during the scan leaves behind
        s.get(Task, dead).status = "running"  # type: ignore[union-attr]
        img = s.scalar(select(Image).where(Image.digest == image.digest))
        assert img is not None
        img.scan_claim_task = dead
    assert recover(rt) == [dead]  # the restart: the dead task is pending again, its claim void
    fresh = create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, "claims/")}, enqueue=False)
    started = time.monotonic()
    run_task(rt, fresh)
    assert time.monotonic() - started < 30
    with rt.session() as s:
        assert s.get(Task, fresh).status == "succeeded"  # type: ignore[union-attr]
        img = s.scalar(select(Image).where(Image.digest == image.digest))
        assert img is not None and img.scan_claim_task is None and img.scan_status == "succeeded"


def test_the_time_limit_stops_a_scan_in_flight(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    """The task's time limit reaches into the image being scanned: the scan stops at its next check (between
    entries, layers, stages) and the item says so; nothing half-scanned is stored."""
    image = python_image(("idna", "3.3"))
    push_image(registry, image, "claims/slow", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "claims", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    task_id = create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, "claims/"), "time_limit_seconds": 1}, enqueue=False)
    real = rt.scan_fn

    def slow_start(ref, options):  # type: ignore[no-untyped-def]
        time.sleep(1.5)  # the pull is slow: the deadline passes before the first layer is analysed
        return real(ref, options)

    rt.scan_fn = slow_start
    run_task(rt, task_id)
    with rt.session() as s:
        task = s.get(Task, task_id)
        item = s.scalar(select(TaskItem).where(TaskItem.task_id == task_id))
        scans = s.scalars(select(Scan).where(Scan.task_id == task_id)).all()
        assert task is not None and task.status == "stopped" and "time limit" in task.error
        assert item is not None and item.status == "not scanned: time limit" and "time limit was reached in layer" in item.error
        assert scans == []


def test_a_deadline_in_the_past_stops_the_engine_with_a_clear_error(tmp_path: Path) -> None:
    from hullscan.errors import TimeLimitError
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import ImageBuilder, make_tar

    ImageBuilder().add_layer(make_tar({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}), compression="none") \
        .write_docker_archive(tmp_path / "img.tar")
    opts = ScanOptions(cache_dir=tmp_path / "c", scanners=frozenset(), deadline=time.monotonic() - 1)
    try:
        scan(str(tmp_path / "img.tar"), opts)
    except TimeLimitError as exc:
        assert "time limit was reached in layer sha256:" in str(exc)
    else:
        raise AssertionError("a scan past its deadline finished")
    from dataclasses import replace

    assert scan(str(tmp_path / "img.tar"), replace(opts, deadline=time.monotonic() + 600)).os is not None
