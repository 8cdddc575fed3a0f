"""Starting and stopping tasks (the API's ``/api/tasks`` and the console's Task Management)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hullscan.server import quota
from hullscan.server.db.models import Registry, Task
from hullscan.server.runtime import Runtime
from hullscan.server.scanning import precheck
from hullscan.server.services import ServiceError
from hullscan.server.tasks import FINAL, create_task


def start_sync(s: Session, rt: Runtime, registry_ids: list[int], user: str) -> dict[str, Any]:
    """Queue an asset sync of these registries (all when empty); a pending identical sync is reused."""
    wanted_ids = sorted(set(registry_ids))
    if wanted_ids:
        known = set(s.scalars(select(Registry.id).where(Registry.id.in_(wanted_ids), Registry.builtin.is_(False))))
        missing = [i for i in wanted_ids if i not in known]
        if missing:
            raise ServiceError(404, "NotFound", f"no registry to sync with id {missing[0]}")
    # a sync of the same registries still waiting to start covers this request (repeated clicks queue nothing)
    for task in s.scalars(select(Task).where(Task.kind == "sync", Task.status == "pending").order_by(Task.id)):
        if sorted(set((task.params or {}).get("registry_ids") or [])) == wanted_ids and not task.stop_requested:
            return {"id": task.id, "already_pending": True}
    return {"id": create_task(rt, "sync", {"registry_ids": list(registry_ids)}, user=user)}


def start_scan(s: Session, rt: Runtime, params: dict[str, Any], user: str) -> dict[str, Any]:
    """Queue a scan after the pre-check; refused (403 QuotaExhausted) when the quota can't cover it."""
    check = precheck(s, params, rt.now())
    if not check["quota_sufficient"]:
        st = quota.status(s)
        raise ServiceError(403, "QuotaExhausted",
                           f"this scan needs {check['quota_needed']} image scans of quota but only {st.remaining} of "
                           f"{st.purchased} are left")
    return {"id": create_task(rt, "scan", params, user=user), **check}


def stop(s: Session, task_id: int) -> Task:
    """Ask a running or pending task to stop."""
    t = s.get(Task, task_id)
    if t is None:
        raise ServiceError(404, "NotFound", f"no task with id {task_id}")
    if t.status in FINAL:
        raise ServiceError(409, "TaskFinished", f"task {task_id} already {t.status}")
    if t.kind == "rematch":  # one pass over stored inventories, no image pulled: it has no point to stop at
        raise ServiceError(409, "NotStoppable", f"task {task_id} is a re-match, which runs in seconds and can't be stopped")
    if t.kind == "dbupdate":  # the database is swapped in atomically at the end: nothing to keep from half a build
        raise ServiceError(409, "NotStoppable", f"task {task_id} builds the vulnerability database and can't be stopped")
    t.stop_requested = True
    return t
