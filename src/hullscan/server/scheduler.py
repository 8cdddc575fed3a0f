"""The in-process scheduler: one tick every few seconds decides what is due.

Each tick: lift expired whitelist rules, purge findings past the retention period, start the daily asset
sync at the configured local time, start the periodic scan every scan cycle (and the periodic image fix every fix
cycle, when it is on), and start a re-match when the
vulnerability DB file changed. "Last done" marks live in the store (``meta``), so restarts and several
server processes agree. :func:`tick` is pure with respect to the injected clock, so tests drive it directly.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from hullscan.server import leases, whitelist
from hullscan.server.db.models import FindingRow, Meta, Task
from hullscan.server.leases import holder_id
from hullscan.server.rematch import db_changed
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import get_settings
from hullscan.server.tasks import create_task

log = logging.getLogger("hullscan.server.scheduler")


def _meta(rt: Runtime, key: str) -> str:
    with rt.session() as s:
        row = s.get(Meta, key)
        return row.value if row else ""


def _set_meta(rt: Runtime, key: str, value: str) -> None:
    with rt.session() as s:
        row = s.get(Meta, key) or Meta(key=key)
        row.value = value
        s.add(row)


def _active(rt: Runtime, kind: str) -> bool:
    with rt.session() as s:
        return s.scalar(select(Task.id).where(Task.kind == kind, Task.status.in_(["pending", "running"])).limit(1)) is not None


def sync_due(now_local: datetime, sync_time: str, last_day: str) -> bool:
    """True when today's sync time has passed and today's sync has not run."""
    hh, mm = (int(x) for x in sync_time.split(":"))
    return now_local.strftime("%Y-%m-%d") != last_day and (now_local.hour, now_local.minute) >= (hh, mm)


def tick(rt: Runtime) -> list[int]:
    """Do what is due now; returns the ids of tasks started."""
    now = rt.now()
    started: list[int] = []
    with rt.session() as s:
        settings, _ = get_settings(s)
        whitelist.expire_due(s, now)
        purged = s.execute(delete(FindingRow).where(FindingRow.last_seen < now - timedelta(days=settings.retention_days)))
        if purged.rowcount:  # type: ignore[attr-defined]
            log.info("purged %d findings older than %d days", purged.rowcount, settings.retention_days)  # type: ignore[attr-defined]
    local = now.astimezone()
    if sync_due(local, settings.sync_time, _meta(rt, "daily_sync_day")):
        _set_meta(rt, "daily_sync_day", local.strftime("%Y-%m-%d"))
        if not _active(rt, "sync"):
            started.append(create_task(rt, "sync", {}, trigger="schedule"))
    if settings.scan_cycle_hours:
        last = _meta(rt, "periodic_scan_at")
        if not last:
            _set_meta(rt, "periodic_scan_at", str(rt.clock()))
        elif rt.clock() - float(last) >= settings.scan_cycle_hours * 3600 and not _active(rt, "scan"):
            _set_meta(rt, "periodic_scan_at", str(rt.clock()))
            started.append(create_task(rt, "scan", {}, trigger="schedule"))
    fix = settings.image_fix
    if fix.enabled and fix.cycle_hours and fix.repository_ids:
        last = _meta(rt, "periodic_fix_at")
        if not last:
            _set_meta(rt, "periodic_fix_at", str(rt.clock()))
        elif rt.clock() - float(last) >= fix.cycle_hours * 3600 and not _active(rt, "fix") and not _active(rt, "scan"):
            _set_meta(rt, "periodic_fix_at", str(rt.clock()))
            started.append(create_task(rt, "fix", {}, trigger="schedule"))
    if db_changed(rt) and not _active(rt, "rematch"):
        started.append(create_task(rt, "rematch", {}, trigger="db-update"))
    if callable(getattr(rt.queue, "dispatch_items", None)):  # distributed mode: work the workers lost
        from hullscan.server.distributed import requeue_lost
        from hullscan.server.scanning import expire_overdue

        expire_overdue(rt)
        requeue_lost(rt, older_than=max(rt.config.claim_lease_seconds * 2, 30.0))
    return started


#: the lease that makes one scheduler of a cluster the one that ticks
LEADER_LEASE = "scheduler"


class Scheduler:
    """Runs :func:`tick` on a daemon thread while it holds the cluster's scheduler lease (several schedulers may
    run, for availability: one ticks; when it dies, another takes over once its lease lapsed)."""

    def __init__(self, rt: Runtime, every: float = 30.0) -> None:
        self.rt = rt
        self.every = every
        self.holder = holder_id("scheduler")
        self.lease_seconds = max(every * 3, 10.0)
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hullscan-scheduler", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop_soon(self) -> None:
        """Ask the loop to end after the current tick (a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop after the current tick and hand the leadership over."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(self.every + 5)
        try:
            leases.release(self.rt.sessions, LEADER_LEASE, self.holder)
        except Exception:  # the store is gone: the lease lapses by itself
            log.warning("could not release the scheduler lease", exc_info=True)

    def run_once(self) -> list[int] | None:
        """One tick if this scheduler leads (None when another one does)."""
        if not leases.acquire(self.rt.sessions, LEADER_LEASE, self.holder, self.lease_seconds, self.rt.clock()):
            return None
        self.ticks += 1
        return tick(self.rt)

    def run_forever(self) -> None:
        """Tick in this thread until :meth:`stop` (the ``hullscan scheduler`` role), starting at once."""
        self._run(wait_first=False)

    def _run(self, wait_first: bool = True) -> None:
        if wait_first and self._stop.wait(self.every):
            return
        while True:
            try:
                self.run_once()
            except Exception:  # a failing tick is logged and retried next time
                log.exception("scheduler tick failed")
            if self._stop.wait(self.every):
                return

