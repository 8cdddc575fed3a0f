"""``/api/tasks``: start sync / scan / re-match / image-fix tasks, pre-check a scan, stop, and read status, items,
logs and per-image fix logs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hullscan.server.api.deps import (
    RT,
    BodyId,
    Operator,
    PathId,
    Store,
    Viewer,
    api_error,
    fetch_page,
    get_or_404,
    page_of,
)
from hullscan.server.db.models import Task, TaskItem, TaskLog
from hullscan.server.scanning import precheck
from hullscan.server.services import tasks as svc
from hullscan.server.tasks import create_task
from hullscan.server.timeutil import iso

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


def task_out(t: Task) -> dict[str, Any]:
    """Public view of a task."""
    return {"id": t.id, "kind": t.kind, "status": t.status, "trigger": t.trigger, "params": t.params,
            "progress": {"done": t.progress_done, "total": t.progress_total}, "error": t.error,
            "created_by": t.created_by, "created_at": iso(t.created_at), "started_at": iso(t.started_at),
            "finished_at": iso(t.finished_at), "time_limit_seconds": t.time_limit_seconds, "attempts": t.attempts,
            "result": {k: v for k, v in (t.result or {}).items() if k not in ("deadline", "planned", "fixes")}}


class SyncIn(BaseModel):
    """Which registries to sync (all when empty)."""

    model_config = ConfigDict(extra="forbid")
    registry_ids: list[BodyId] = Field(default_factory=list, max_length=1000)


class ScanIn(BaseModel):
    """What to scan: by registry type, registry, repository or image (default: the scan scope)."""

    model_config = ConfigDict(extra="forbid")
    registry_types: list[Literal["harbor", "quay", "gitlab", "registry"]] = Field(default_factory=list, max_length=4)
    registry_ids: list[BodyId] = Field(default_factory=list, max_length=1000)
    repository_ids: list[BodyId] = Field(default_factory=list, max_length=100_000)
    image_ids: list[BodyId] = Field(default_factory=list, max_length=100_000)
    time_limit_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


@router.get("", summary="List tasks")
def list_tasks(
    s: Store, _: Viewer,
    kind: Literal["sync", "scan", "rematch", "fix", "cluster-sync", "runtime-scan"] | None = None,
    status: Literal["pending", "running", "succeeded", "partially failed", "failed", "stopped"] | None = None,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    q = select(Task)
    if kind:
        q = q.where(Task.kind == kind)
    if status:
        q = q.where(Task.status == status)
    rows, total = fetch_page(s, q, (Task.id.desc(),), page, page_size)
    return page_of([task_out(t) for t in rows], total, page, page_size)


@router.post("/sync", status_code=202, summary="Sync assets now")
def start_sync(body: SyncIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    return svc.start_sync(s, rt, body.registry_ids, user.username)


@router.post("/scan/precheck", summary="How many images a scan covers and how much quota it would consume")
def scan_precheck(body: ScanIn, s: Store, rt: RT, _: Viewer) -> dict[str, Any]:
    return precheck(s, body.model_dump(exclude_none=True), rt.now())


@router.post("/scan", status_code=202, summary="Scan now (refused when the quota can't cover the new images)")
def start_scan(body: ScanIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    return svc.start_scan(s, rt, body.model_dump(exclude_none=True), user.username)


class FixIn(BaseModel):
    """Which images to fix: repositories and/or images, always within the image-fix scope (default: all of it)."""

    model_config = ConfigDict(extra="forbid")
    repository_ids: list[BodyId] = Field(default_factory=list, max_length=100_000)
    image_ids: list[BodyId] = Field(default_factory=list, max_length=100_000)
    time_limit_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


@router.post("/fix", status_code=202, summary="Image risk fix now: patch, push and rescan the images in the fix scope")
def start_fix(body: FixIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    from hullscan.server.fixing import select_fix_targets
    from hullscan.server.scansettings import get_settings

    settings, _ = get_settings(s)
    if not settings.image_fix.repository_ids:
        raise api_error(409, "NoFixScope", "the image-fix scope has no repository: set image_fix.repository_ids first")
    images = len(select_fix_targets(s, body.model_dump(), settings.image_fix, rt.now()))
    params = body.model_dump(exclude_none=True)
    task_id = create_task(rt, "fix", params, user=user.username)
    return {"id": task_id, "images": images}


@router.get("/{task_id}/fixes", summary="The fix log of each image of a fix task (upgrades, refusals, before/after)")
def task_fixes(task_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    t = _task(s, task_id)
    if t.kind != "fix":
        raise api_error(409, "NotAFixTask", f"task {task_id} is a {t.kind} task")
    return {"id": t.id, "status": t.status, "fixes": (t.result or {}).get("fixes", {})}


@router.post("/rematch", status_code=202, summary="Re-match every stored inventory against the vulnerability DB")
def start_rematch(rt: RT, user: Operator) -> dict[str, Any]:
    return {"id": create_task(rt, "rematch", {}, user=user.username)}


def _task(s: Any, task_id: int) -> Task:
    return get_or_404(s, Task, task_id, "task")


@router.get("/{task_id}", summary="Show a task")
def get_task(task_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    return task_out(_task(s, task_id))


@router.post("/{task_id}/stop", summary="Ask a task to stop")
def stop_task(task_id: PathId, s: Store, _: Operator) -> dict[str, Any]:
    return task_out(svc.stop(s, task_id))


@router.get("/{task_id}/logs", summary="A task's log lines")
def task_logs(task_id: PathId, s: Store, _: Viewer,
              page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    _task(s, task_id)
    q = select(TaskLog).where(TaskLog.task_id == task_id)
    rows, total = fetch_page(s, q, (TaskLog.id,), page, page_size)
    return page_of([{"at": iso(r.at), "level": r.level, "message": r.message} for r in rows], total, page, page_size)


@router.get("/{task_id}/items", summary="The images of a scan task and their outcome")
def task_items(task_id: PathId, s: Store, _: Viewer,
               page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    _task(s, task_id)
    q = select(TaskItem).where(TaskItem.task_id == task_id)
    rows, total = fetch_page(s, q, (TaskItem.id,), page, page_size)
    return page_of([{"image_id": r.image_id, "reference": r.reference, "status": r.status, "error": r.error}
                    for r in rows], total, page, page_size)
