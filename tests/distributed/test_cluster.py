"""The cluster's shared state against the real PostgreSQL and Redis: one scheduler leads however many run, the
registry rate limit and the scan quota hold under concurrent workers, a broker restart mid-task is survived,
``/healthz`` and ``/metrics`` report the broker, the queues and the workers."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hullscan.server import leases, quota
from hullscan.server.db.models import Lease, QuotaUsage, Task
from hullscan.server.distributed import RedisRateLimiter
from hullscan.server.scansettings import get_settings, update_settings
from hullscan.server.tasks import create_task
from tests.distributed.conftest import Cluster
from tests.distributed.test_workers import fleet, task_row, until
from tests.helpers import stores
from tests.helpers.registry_server import RegistryServer, free_port
from tests.server.helpers import add_registry_row, repo_ids, run


def test_two_schedulers_one_leads_and_the_other_takes_over(cluster: Cluster) -> None:
    rt = cluster.runtime()
    with rt.session() as s:
        _, version = get_settings(s)
        # the daily sync is due at once: its time is this minute (it runs within an hour after its time)
        update_settings(s, {"sync_time": datetime.now().astimezone().strftime("%H:%M")}, version, "tests")
    first = cluster.start("scheduler", "s1", "--tick-seconds", "0.3")
    second = cluster.start("scheduler", "s2", "--tick-seconds", "0.3")

    def holder() -> str:
        with rt.session() as s:
            row = s.get(Lease, "scheduler")
            return row.holder if row is not None and row.expires >= time.time() else ""

    leader = until(holder, "a scheduler to lead", timeout=90)
    seen = set()
    for _ in range(20):  # both running, several ticks each: one leader throughout
        seen.add(holder())
        time.sleep(0.15)
    assert seen == {leader}
    with rt.session() as s:
        syncs = s.scalars(select(Task).where(Task.kind == "sync", Task.trigger == "schedule")).all()
    assert len(syncs) == 1  # scheduled once, although two schedulers run
    dead, alive = (first, second) if f":{first.pid}:" in leader else (second, first)
    os.killpg(dead.pid, signal.SIGKILL)
    dead.wait(10)
    new = until(lambda: holder() not in ("", leader) and holder(), "the other scheduler to take over", timeout=60)
    assert f":{alive.pid}:" in new
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.kind == "sync", Task.trigger == "schedule")) == 1


def test_lease_is_taken_once_among_racing_holders(cluster: Cluster) -> None:
    rt = cluster.runtime()
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        if leases.acquire(rt.sessions, "race", f"h{i}", 30.0, time.time()):
            winners.append(f"h{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert not leases.acquire(rt.sessions, "race", "late", 30.0, time.time())
    assert leases.acquire(rt.sessions, "race", "late", 30.0, time.time() + 31)  # lapsed: taken over


def test_redis_rate_limit_holds_across_processes() -> None:
    """Two processes (each its own client) take tokens of one registry for 3 s at 3600 images/hour (one a
    second): together they start at most 4, never two within a second."""
    url = stores.redis_url()
    prefix = stores.redis_prefix()
    script = (
        "import sys, time\n"
        "from hullscan.server.distributed import RedisRateLimiter\n"
        f"lim = RedisRateLimiter({url!r}, prefix={prefix!r})\n"
        "end = time.time() + 3\n"
        "while time.time() < end:\n"
        "    now = time.time()\n"
        "    if lim(7, 3600, now) == 0: print(now, flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([os.sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)  # type: ignore[attr-defined]
             for _ in range(2)]
    starts = sorted(float(line) for p in procs for line in p.communicate(timeout=60)[0].split())
    assert 2 <= len(starts) <= 4, starts
    assert all(b - a >= 1.0 - 0.02 for a, b in itertools.pairwise(starts)), starts
    assert all(p.returncode == 0 for p in procs)
    lim = RedisRateLimiter(url, prefix=prefix)
    assert lim(8, None, time.time()) == 0.0 and lim(8, 0, time.time()) == 0.0  # unlimited


def test_quota_is_consumed_once_per_digest_under_concurrent_workers(cluster: Cluster) -> None:
    """Eight threads, each its own store session, consume the quota for 12 digests (each digest asked 4 times)
    with 10 units left: exactly 10 digests charged, once each, never more than purchased."""
    rt = cluster.runtime()
    with rt.session() as s:
        quota.set_purchased(s, 10)
    digests = [f"sha256:{i:064x}" for i in range(12)] * 4
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(mine: list[str]) -> None:
        barrier.wait()
        for d in mine:
            try:
                with rt.session() as s:
                    took = quota.consume(s, d)
                out = "took" if took else "free"
            except quota.QuotaExhausted:
                out = "exhausted"
            with lock:
                outcomes.append(out)

    threads = [threading.Thread(target=worker, args=(digests[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with rt.session() as s:
        st = quota.status(s)
        charged = s.scalar(select(func.count(func.distinct(QuotaUsage.digest))))
        rows = s.scalar(select(func.count()).select_from(QuotaUsage))
    assert st.used == 10 and st.purchased == 10 and charged == rows == 10
    assert len(outcomes) == len(digests)  # no thread crashed
    assert outcomes.count("took") == 10 and outcomes.count("exhausted") + outcomes.count("free") == len(digests) - 10


def test_health_and_metrics_report_broker_queues_and_workers(cluster: Cluster) -> None:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app
    from tests.server.conftest import admin_token

    rt = cluster.runtime()
    client = TestClient(create_app(rt))
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["broker"] == "ok" and health.json()["store"] == "ok"
    create_task(rt, "sync", {}, user="tests")  # no worker yet: one message waits
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {admin_token(rt)}"}).text
    assert 'hullscan_queue_messages{queue="hullscan.tasks"} 1.0' in metrics
    assert 'hullscan_queue_messages{queue="hullscan.scans"} 0.0' in metrics
    assert "hullscan_workers 0.0" in metrics
    cluster.worker("w")
    until(lambda: _workers(rt) == 1, "the worker to answer pings", timeout=90, every=0.5)
    # a broker that does not answer: 503 naming it
    from hullscan.server.distributed import CeleryQueue, make_celery

    down = cluster.config("down")
    down.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    rt.queue = CeleryQueue(make_celery(down))
    bad = client.get("/healthz")
    assert bad.status_code == 503 and bad.json()["store"] == "ok" and "Error" in bad.json()["broker"]


def _workers(rt: Any) -> int:
    return int(rt.queue.workers(timeout=1.0))


def test_a_broker_restart_mid_task_is_survived(cluster: Cluster, registry: RegistryServer, tmp_path: Path) -> None:
    """A private Redis without persistence is the broker: it is stopped while a scan task's jobs are queued and
    running, and started again empty. Workers reconnect, the scheduler sends the lost items again, the task
    succeeds with every image scanned."""
    port = free_port()
    cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False).stdout.strip() == "PONG",
              "redis", timeout=30, every=0.1)
        cluster.broker = f"redis://127.0.0.1:{port}/0"
        prefix = f"restart-{uuid.uuid4().hex[:6]}"
        images = fleet(registry, prefix, 5)
        rt = cluster.runtime()
        rid = add_registry_row(rt, registry, "restart", rate_limit=0)
        assert run(rt, "sync", {"registry_ids": [rid]}).status == "succeeded"
        task_id = create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, f"{prefix}/")}, user="tests")
        cluster.worker("w1")
        cluster.start("scheduler", "sched", "--tick-seconds", "1")
        until(lambda: task_row(rt, task_id).progress_total == 5 and task_row(rt, task_id).status == "running", "the fan-out", every=0.05)
        redis_proc.terminate()
        redis_proc.wait(10)
        time.sleep(2)
        redis_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        final = until(lambda: task_row(rt, task_id).status not in ("pending", "running") and task_row(rt, task_id),
                      "the task to end after the restart", timeout=240, every=0.5)
        assert final.status == "succeeded", (final.error, cluster.log("w1"))
        assert (final.progress_done, final.progress_total) == (5, 5)
        assert len(images) == 5
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
