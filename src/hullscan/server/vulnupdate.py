"""The vulnerability database of a server: its age, and the ``dbupdate`` task that builds or refreshes it.

On first start (no database file) the server queues a ``dbupdate`` task, visible in Task Management with its
progress (sources done / sources). It imports local feeds when the server was given some (``--vulndata PATH``
or ``$HULLSCAN_VULNDATA``: an offline copy laid out like the public feeds, as ``hullscan db import`` reads
it) and otherwise fetches the public feeds like ``hullscan db update``. The work is done by
:mod:`hullscan.vulndb.manage`; this module only reports progress into the task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hullscan.server.db.models import Task
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import add_log, create_task, finish

#: the console warns when the newest import is older than this
STALE_AFTER = timedelta(days=7)
VULNDATA_ENV = "HULLSCAN_VULNDATA"


@dataclass(frozen=True)
class DbState:
    """What the console shows about the vulnerability database."""

    present: bool
    updated_at: datetime | None
    sources: int
    records: int
    stale: bool

    def age_days(self, now: datetime) -> float | None:
        """Days since the last import (None without a database)."""
        return None if self.updated_at is None else max((now - self.updated_at).total_seconds() / 86400, 0.0)


def state(path: Path, now: datetime) -> DbState:
    """The state of the database at ``path``."""
    from hullscan.vulndb.db import read_sources

    if not path.is_file():
        return DbState(False, None, 0, 0, True)
    sources = read_sources(path)
    if not sources:
        return DbState(False, None, 0, 0, True)
    stamps = []
    for src in sources.values():
        try:
            when = datetime.fromisoformat(src.imported_at)
        except ValueError:
            continue
        stamps.append(when if when.tzinfo else when.replace(tzinfo=UTC))  # naive: the database writes UTC
    updated = max(stamps) if stamps else None
    return DbState(True, updated, len(sources), sum(s.records for s in sources.values()),
                   updated is None or now - updated > STALE_AFTER)


def local_feeds(rt: Runtime) -> Path | None:
    """The offline feeds this server imports from (``--vulndata`` / ``$HULLSCAN_VULNDATA``), if any."""
    configured = rt.config.vulndata or os.environ.get(VULNDATA_ENV) or ""
    return Path(configured) if configured else None


def active_update(rt: Runtime) -> int | None:
    """The id of a pending or running ``dbupdate`` task."""
    with rt.session() as s:
        return s.scalar(select(Task.id).where(Task.kind == "dbupdate", Task.status.in_(["pending", "running"]))
                        .order_by(Task.id))


def ensure_database(rt: Runtime) -> int | None:
    """First start: queue a ``dbupdate`` task when there is no database and none is being built. Returns its id."""
    if state(rt.vuln_db_path, rt.now()).present:
        return None
    running = active_update(rt)
    if running is not None:
        return running
    feeds = local_feeds(rt)
    return create_task(rt, "dbupdate", {"vulndata": str(feeds) if feeds else ""}, trigger="first-start")


def run_db_update(rt: Runtime, task_id: int) -> None:
    """The ``dbupdate`` task function."""
    from hullscan.errors import HullscanError
    from hullscan.vulndb import manage
    from hullscan.vulndb.feeds.discover import discover

    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params: dict[str, Any] = dict(task.params or {})
    feeds = params.get("vulndata") or ""
    done: list[str] = []

    def progress(name: str, count: int, finished: bool) -> None:
        if not finished:
            return
        done.append(name)
        with rt.session() as s:
            t = s.get(Task, task_id)
            if t is not None:
                t.progress_done = len(done)
        add_log(rt, task_id, f"{name}: {count} records")

    def set_total(n: int) -> None:
        with rt.session() as s:
            t = s.get(Task, task_id)
            if t is not None:
                t.progress_total = n

    try:
        if feeds:
            path = Path(feeds)
            if not path.exists():
                finish(rt, task_id, "failed", f"{path}: no such folder of vulnerability feeds ({VULNDATA_ENV} / --vulndata)")
                return
            set_total(len(discover(path).units))
            add_log(rt, task_id, f"importing local feeds from {path} into {rt.vuln_db_path}")
            outcomes = manage.import_paths(rt.vuln_db_path, [path], progress)
        else:
            sources = manage.configured_sources()
            set_total(len(sources))
            add_log(rt, task_id, f"downloading {len(sources)} public feeds into {rt.vuln_db_path}")
            outcomes = manage.update(rt.vuln_db_path, sources, progress)
    except HullscanError as exc:
        finish(rt, task_id, "failed", str(exc))
        return
    except OSError as exc:
        finish(rt, task_id, "failed", f"{type(exc).__name__}: {exc}")
        return
    skipped = [o for o in outcomes if o.status == "skipped"]
    for o in skipped[:50]:
        add_log(rt, task_id, f"{o.name}: skipped ({o.message})", "warning")
    records = sum(o.records for o in outcomes)
    with rt.session() as s:
        t = s.get(Task, task_id)
        if t is not None:
            t.progress_done = t.progress_total = max(t.progress_total, len(done))
    finish(rt, task_id, "succeeded", "", {"records": records, "sources": len(outcomes) - len(skipped)})
