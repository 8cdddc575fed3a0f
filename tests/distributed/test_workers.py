"""A cluster of real processes against the real PostgreSQL, Redis and docker-registry: two ``hullscan worker``
processes scan a fleet, one is killed with SIGKILL in the middle of a job, its digest is scanned by the other,
and the findings are exactly those of a single-process scan."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hullscan.server.db.models import FindingRow, Image, Scan, Task, TaskItem
from hullscan.server.runtime import ServerConfig, build_runtime
from hullscan.server.tasks import create_task
from tests.distributed.conftest import Cluster
from tests.helpers.registry_server import FaultProxy, RegistryServer, push_image
from tests.server.conftest import python_image
from tests.server.helpers import add_registry_row, repo_ids, run


def until(predicate: Callable[[], Any], what: str, timeout: float = 120.0, every: float = 0.02) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(every)


def task_row(rt: Any, task_id: int) -> Task:
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task


def findings_by_digest(rt: Any) -> dict[str, list[tuple[str, str, str, str]]]:
    with rt.session() as s:
        rows = s.execute(select(Image.digest, FindingRow.fingerprint, FindingRow.rule_id, FindingRow.package_name,
                                FindingRow.package_version).join(Image, Image.id == FindingRow.image_id)).all()
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for digest, *rest in rows:
        out.setdefault(digest, []).append(tuple(rest))  # type: ignore[arg-type]
    return {k: sorted(v) for k, v in out.items()}


def fleet(registry: RegistryServer, prefix: str, n: int) -> list[Any]:
    images = [python_image(("urllib3", f"1.26.{i}"), ("requests", "2.19.0"), ("idna", f"2.{i}")) for i in range(n)]
    for i, image in enumerate(images):
        push_image(registry, image, f"{prefix}/app{i}", "1")
    return images


def test_two_workers_scan_a_fleet_and_survive_a_kill_9(cluster: Cluster, registry: RegistryServer, tmp_path: Path) -> None:
    prefix = f"fleet-{uuid.uuid4().hex[:6]}"
    images = fleet(registry, prefix, 6)
    proxy = FaultProxy(registry)
    rt = cluster.runtime()
    rid = add_registry_row(rt, proxy, "fleet", rate_limit=0)
    assert run(rt, "sync", {"registry_ids": [rid]}).status == "succeeded"
    scope = {"repository_ids": repo_ids(rt, rid, f"{prefix}/")}
    victim = images[2]
    # the victim's layer hangs on its first pull: whichever worker takes that digest is busy with it when killed
    proxy.inject("hang", times=1, match=f"/blobs/{victim.layers[0].digest}", method="GET", seconds=300)
    workers = {"a": cluster.worker("a"), "b": cluster.worker("b")}
    task_id = create_task(rt, "scan", scope, user="tests")

    def victim_owner() -> str:
        with rt.session() as s:
            return s.scalar(select(Image.scan_claim_owner).where(Image.digest == victim.digest)) or ""

    owner = until(victim_owner, "a worker to claim the victim's digest")
    killed = next(name for name, p in workers.items() if f":{p.pid}:" in owner)
    time.sleep(0.5)  # mid-job: the pull hangs
    with rt.session() as s:
        assert s.scalar(select(TaskItem.status).join(Image, Image.id == TaskItem.image_id)
                        .where(TaskItem.task_id == task_id, Image.digest == victim.digest)) == "pending"
    os.kill(workers[killed].pid, signal.SIGKILL)
    workers[killed].wait(10)

    final = until(lambda: task_row(rt, task_id).status not in ("pending", "running") and task_row(rt, task_id), "the task to end",
                  timeout=240, every=0.2)
    survivor = "b" if killed == "a" else "a"
    assert final.status == "succeeded", (final.error, cluster.log(survivor))
    assert (final.progress_done, final.progress_total) == (6, 6)
    with rt.session() as s:
        items = s.scalars(select(TaskItem.status).where(TaskItem.task_id == task_id)).all()
        assert sorted(items) == ["succeeded"] * 6
        # the killed worker stored nothing for the victim: one scan of it, by the survivor; no claim left behind
        assert s.scalar(select(func.count()).select_from(Scan).join(Image, Image.id == Scan.image_id)
                        .where(Image.digest == victim.digest)) == 1
        assert s.scalar(select(func.count()).select_from(Scan).where(Scan.task_id == task_id)) == 6
        assert s.scalar(select(func.count()).select_from(Image).where(Image.scan_claim_task.is_not(None))) == 0
    assert "succeeded" in cluster.log(survivor) and "hullscan.scan_item" in cluster.log(survivor)

    # the same fleet scanned by one process (embedded mode, SQLite): the same findings, none lost or duplicated
    single = build_runtime(ServerConfig(data_dir=tmp_path / "single", vuln_db_path=cluster.vuln_db, scheduler=False))
    srid = add_registry_row(single, registry, "fleet")
    with single.session() as s:
        from hullscan.server.db.models import Registry

        reg = s.get(Registry, srid)
        assert reg is not None
        reg.rate_limit = 0
    assert run(single, "sync", {"registry_ids": [srid]}).status == "succeeded"
    assert run(single, "scan", {"repository_ids": repo_ids(single, srid, f"{prefix}/")}).status == "succeeded"
    distributed, embedded = findings_by_digest(rt), findings_by_digest(single)
    assert set(distributed) == {i.digest for i in images}
    assert distributed == embedded
    assert all(len(v) == len(set(v)) for v in distributed.values())
    proxy.stop()
