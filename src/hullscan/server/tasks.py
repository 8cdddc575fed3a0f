"""Tasks: rows in the store, run by a queue. The task functions are plain ``(Runtime, task_id) -> None``.

:data:`TASK_KINDS` is the explicit registry of task kinds. A :class:`Queue` only moves task ids: the
in-process queue runs them on worker threads; a Celery queue (distributed mode) would send the id to a
worker that calls the same :func:`run_task`. Tasks keep their state in the store, so a restarted server
resumes what was running (see :func:`recover`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import func, select, update

from hullscan.plugins import Entry, Registry, lazy_object
from hullscan.server.db.models import Image, Task, TaskLog
from hullscan.server.runtime import Runtime

log = logging.getLogger("hullscan.server.tasks")

TaskFunction = Callable[[Runtime, int], None]

#: the one explicit registry of task kinds, each a ``(Runtime, task_id) -> None`` imported on first use
TASK_KINDS: Registry[TaskFunction] = Registry("task kind", [
    Entry("sync", 1, lazy_object("hullscan.server.sync:run_sync")),
    Entry("scan", 1, lazy_object("hullscan.server.scanning:run_scan")),
    Entry("rematch", 1, lazy_object("hullscan.server.rematch:run_rematch")),
    Entry("fix", 1, lazy_object("hullscan.server.fixing:run_fix")),
    Entry("cluster-sync", 1, lazy_object("hullscan.server.clusters:run_cluster_sync")),
    # the console's "Container Runtime Image Scan"
    Entry("runtime-scan", 1, lazy_object("hullscan.server.runtime_scan:run_runtime_scan")),
    Entry("dbupdate", 1, lazy_object("hullscan.server.vulnupdate:run_db_update")),
])
STATUSES = ("pending", "running", "succeeded", "partially failed", "failed", "stopped")
FINAL = ("succeeded", "partially failed", "failed", "stopped")
#: a task interrupted by this many server restarts is marked failed instead of resumed again
MAX_ATTEMPTS = 3


class Queue(Protocol):
    """Moves task ids to workers."""

    def enqueue(self, task_id: int) -> None:
        """Schedule a task for execution."""

    def depth(self) -> int:
        """Tasks waiting."""

    def shutdown(self) -> None:
        """Stop accepting work and let workers finish."""


def _function(kind: str) -> TaskFunction:
    return TASK_KINDS.get(kind).factory()


def add_log(rt: Runtime, task_id: int, message: str, level: str = "info") -> None:
    """Append one line to a task's log (and the structured server log)."""
    with rt.session() as s:
        s.add(TaskLog(task_id=task_id, message=message, level=level, at=rt.now()))
    getattr(log, "error" if level == "error" else "warning" if level == "warning" else "info")(
        message, extra={"task_id": task_id}
    )


def add_logs(rt: Runtime, task_id: int, messages: list[str], level: str = "info") -> None:
    """Append many lines in one transaction."""
    now = rt.now()
    with rt.session() as s:
        s.add_all([TaskLog(task_id=task_id, message=m, level=level, at=now) for m in messages])


def create_task(rt: Runtime, kind: str, params: dict[str, Any], user: str = "", trigger: str = "manual",
                enqueue: bool = True) -> int:
    """Insert a pending task and hand it to the queue."""
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r}")
    from hullscan.server.scansettings import get_settings

    with rt.session() as s:
        settings, _ = get_settings(s)
        task = Task(kind=kind, params=params, created_by=user, trigger=trigger, created_at=rt.now(),
                    time_limit_seconds=int(params.get("time_limit_seconds") or settings.task_time_limit_seconds))
        s.add(task)
        s.flush()
        task_id = task.id
    add_log(rt, task_id, f"{kind} task created by {user or trigger} ({trigger})")
    if enqueue and rt.queue is not None:
        rt.queue.enqueue(task_id)
    return task_id


def finish(rt: Runtime, task_id: int, status: str, error: str = "", result: dict[str, Any] | None = None) -> None:
    """Record a task's final status."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        if task is None:
            return
        task.status = status
        task.error = error
        task.finished_at = rt.now()
        if result is not None:
            task.result = {**(task.result or {}), **result}
    rt.metrics.task_finished(status)
    add_log(rt, task_id, f"task {status}" + (f": {error}" if error else ""), "error" if status == "failed" else "info")


def finish_once(rt: Runtime, task_id: int, status: str, error: str = "", result: dict[str, Any] | None = None) -> bool:
    """Record a running task's final status unless another worker already did; True when this call did."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        if task is None or task.status != "running":
            return False
        merged = {**(task.result or {}), **(result or {})}
        won = s.execute(
            update(Task).where(Task.id == task_id, Task.status == "running")
            .values(status=status, error=error, finished_at=rt.now(), result=merged)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if not won:
        return False
    rt.metrics.task_finished(status)
    add_log(rt, task_id, f"task {status}" + (f": {error}" if error else ""), "error" if status == "failed" else "info")
    return True


def run_task(rt: Runtime, task_id: int) -> None:
    """Run one task by id: mark it running, call its function, record a failure's cause. Never raises."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        if task is None or task.status in FINAL:
            return
        task.status = "running"
        task.attempts += 1
        if task.started_at is None:
            task.started_at = rt.now()
        kind = task.kind
    try:
        _function(kind)(rt, task_id)
    except Exception as exc:  # a task's unexpected error fails the task, never the worker
        log.exception("task %s crashed", task_id)
        finish(rt, task_id, "failed", f"{type(exc).__name__}: {exc}")
        return
    if kind == "scan":  # the image risk fix follows an immediate or periodic scan when it is on
        from hullscan.server.fixing import fix_after_scan

        try:
            fix_after_scan(rt, task_id)
        except Exception:  # a fix that cannot be queued never fails the scan
            log.exception("could not start the image fix after scan task %s", task_id)


def recover(rt: Runtime) -> list[int]:
    """After a (re)start: resume tasks a dead process left running, fail those interrupted too often,
    and return the ids to enqueue (pending and resumed)."""
    out: list[int] = []
    with rt.session() as s:
        rows = s.scalars(select(Task).where(Task.status.in_(["pending", "running"])).order_by(Task.id)).all()
        states = [(t.id, t.status, t.attempts) for t in rows]
    for task_id, status, attempts in states:
        if status == "running" and attempts >= MAX_ATTEMPTS:
            finish(rt, task_id, "failed", f"interrupted by {attempts} server restarts; giving up")
            continue
        if status == "running":
            with rt.session() as s:
                task = s.get(Task, task_id)
                if task is not None:
                    task.status = "pending"
                # the claims the dead process held for this task (its own process: nobody else scans them)
                s.execute(update(Image).where(Image.scan_claim_task == task_id)
                          .values(scan_claim_task=None, scan_claim_owner="", scan_claim_expires=None)
                          .execution_options(synchronize_session=False))
            add_log(rt, task_id, "server restarted while the task ran: resuming where it stopped", "warning")
        out.append(task_id)
    return out


def pending_count(rt: Runtime) -> int:
    """Tasks waiting in the store."""
    with rt.session() as s:
        return int(s.scalar(select(func.count()).select_from(Task).where(Task.status == "pending")) or 0)


class InProcessQueue:
    """Worker threads in the server process (the embedded default)."""

    def __init__(self, rt: Runtime, workers: int = 2) -> None:
        self.rt = rt
        self._q: queue.Queue[int | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"hullscan-worker-{i}", daemon=True)
                         for i in range(max(workers, 1))]
        self._running = 0
        self._lock = threading.Lock()
        for t in self._threads:
            t.start()

    def enqueue(self, task_id: int) -> None:
        """Queue a task id."""
        self._q.put(task_id)

    def depth(self) -> int:
        """Queued ids not yet picked up."""
        return self._q.qsize()

    def busy(self) -> int:
        """Tasks being run now."""
        return self._running

    def join(self, timeout: float = 60.0) -> bool:
        """Wait until the queue is empty and no task runs (tests). True when idle."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._q.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def shutdown(self) -> None:
        """Stop the workers after their current task."""
        for _ in self._threads:
            self._q.put(None)

    def _work(self) -> None:
        while True:
            task_id = self._q.get()
            try:
                if task_id is None:
                    return
                with self._lock:
                    self._running += 1
                try:
                    run_task(self.rt, task_id)
                finally:
                    with self._lock:
                        self._running -= 1
            finally:
                self._q.task_done()
