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

from hullscan.server import whitelist
from hullscan.server.db.models import FindingRow, Task
from hullscan.server.meta import get_meta, set_meta
from hullscan.server.rematch import db_changed
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import get_settings
from hullscan.server.tasks import create_task

log = logging.getLogger("hullscan.server.scheduler")


def _meta(rt: Runtime, key: str) -> str:
    with rt.session() as s:
        return get_meta(s, key) or ""


def _set_meta(rt: Runtime, key: str, value: str) -> None:
    with rt.session() as s:
        set_meta(s, key, value)


def _active(rt: Runtime, kind: str) -> bool:
    with rt.session() as s:
        return s.scalar(select(Task.id).where(Task.kind == kind, Task.status.in_(["pending", "running"])).limit(1)) is not None


#: how long after the configured sync time a daily sync may still start (a server started or woken later than
#: that waits for the next day's time instead of syncing unannounced)
SYNC_WINDOW = timedelta(hours=1)


def sync_due(now_local: datetime, sync_time: str, last_day: str) -> bool:
    """True when now is within :data:`SYNC_WINDOW` after today's sync time and today's sync has not run."""
    hh, mm = (int(x) for x in sync_time.split(":"))
    at = now_local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    return now_local.strftime("%Y-%m-%d") != last_day and at <= now_local < at + SYNC_WINDOW


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
    return started


class Scheduler:
    """Runs :func:`tick` on a daemon thread."""

    def __init__(self, rt: Runtime, every: float = 30.0) -> None:
        self.rt = rt
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hullscan-scheduler", daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                tick(self.rt)
            except Exception:  # a failing tick is logged and retried next time
                log.exception("scheduler tick failed")
