"""Task Management (live progress, stop, logs), the immediate scan dialog with its pre-check, and Registries."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select

from hullscan.server import quota
from hullscan.server.api.deps import Principal
from hullscan.server.db.models import Registry, Repository, Task, TaskItem, TaskLog
from hullscan.server.scanning import precheck
from hullscan.server.scansettings import REGISTRY_TYPES
from hullscan.server.services import ServiceError
from hullscan.server.services import registries as rsvc
from hullscan.server.services import tasks as tsvc
from hullscan.server.tasks import FINAL
from hullscan.server.web import labels
from hullscan.server.web.core import PREFIX, check_csrf, gettext_for, need, page_user, redirect, render, runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)
User = Annotated[Principal, Depends(page_user)]
Csrf = Depends(check_csrf)
KINDS = ("scan", "sync", "runtime-scan", "fix", "cluster-sync", "dbupdate", "rematch")
PAGE_SIZE = 25


# ------------------------------------------------------------------------------------------------ tasks


def _task_rows(s: Any, kind: str, page: int) -> tuple[list[Task], int]:
    q = select(Task).where(Task.kind == kind)
    total = int(s.scalar(select(func.count(Task.id)).where(Task.kind == kind)) or 0)
    return list(s.scalars(q.order_by(Task.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))), total


@router.get("/tasks")
def tasks(request: Request, user: User, kind: str = "scan", page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    kind = kind if kind in KINDS else "scan"
    rt = runtime(request)
    with rt.session() as s:
        rows, total = _task_rows(s, kind, page)
        live = any(t.status not in FINAL for t in rows)
        ctx = {"title": "tasks", "kind": kind, "rows": rows, "total": total, "page": page,
               "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), "labels": labels, "live": live,
               "kind_counts": dict(s.execute(select(Task.kind, func.count(Task.id)).group_by(Task.kind)).all())}
        template = "tasks_table.html" if request.headers.get("hx-request") else "tasks.html"
        return render(request, template, ctx, user=user)


@router.get("/tasks/{task_id}")
def task_detail(request: Request, user: User, task_id: int) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        task = s.get(Task, task_id)
        if task is None:
            return render(request, "error.html", {"title": "404", "message": f"no task with id {task_id}"}, 404, user)
        failed = list(s.scalars(select(TaskItem).where(TaskItem.task_id == task_id, TaskItem.status != "succeeded",
                                                       TaskItem.status != "pending").order_by(TaskItem.id).limit(200)))
        logs = list(s.scalars(select(TaskLog).where(TaskLog.task_id == task_id).order_by(TaskLog.id.desc()).limit(300)))
        ctx = {"title": f"task {task_id}", "t": task, "failed": failed, "logs": list(reversed(logs)), "labels": labels,
               "live": task.status not in FINAL}
        template = "task_body.html" if request.headers.get("hx-request") else "task.html"
        return render(request, template, ctx, user=user)


@router.post("/tasks/{task_id}/stop", dependencies=[Csrf])
def task_stop(request: Request, user: User, task_id: int) -> Response:
    need(user, "operator")
    rt = runtime(request)
    try:
        with rt.session() as s:
            tsvc.stop(s, task_id)
    except ServiceError as exc:
        return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
    return redirect(f"{PREFIX}/tasks/{task_id}", request)


# ------------------------------------------------------------------------------------------------ scan


def _scan_params(form: Any) -> dict[str, Any]:
    types = [t for t in form.getlist("registry_types") if t in REGISTRY_TYPES]
    params: dict[str, Any] = {"registry_types": types}
    registry_ids = [int(x) for x in form.getlist("registry_ids") if str(x).isdigit()]
    if registry_ids:
        params["registry_ids"] = registry_ids
    return params


@router.get("/scan")
def scan_dialog(request: Request, user: User) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        registries = list(s.execute(select(Registry.id, Registry.name, Registry.type).where(Registry.builtin.is_(False))
                                    .order_by(Registry.name)))
        st = quota.status(s)
    return render(request, "scan.html", {"title": "scan", "registries": registries, "types": REGISTRY_TYPES,
                                         "labels": labels, "quota": st}, user=user)


@router.post("/scan/precheck", dependencies=[Csrf])
async def scan_precheck(request: Request, user: User) -> Response:
    form = await request.form()
    params = _scan_params(form)
    rt = runtime(request)
    with rt.session() as s:
        check = precheck(s, params, rt.now()) if params["registry_types"] else None
    from hullscan.server.vulnupdate import state

    return render(request, "scan_precheck.html", {"check": check, "params": params,
                                                  "db": state(rt.vuln_db_path, rt.now())}, user=user)


@router.post("/scan", dependencies=[Csrf])
async def scan_start(request: Request, user: User) -> Response:
    need(user, "operator")
    form = await request.form()
    params = _scan_params(form)
    rt = runtime(request)
    _ = gettext_for(request)
    from hullscan.server.vulnupdate import state

    error = ""
    if not params["registry_types"]:
        error = _("Choose at least one registry type.")
    elif not state(rt.vuln_db_path, rt.now()).present and form.get("without_db") != "1":
        error = _("There is no vulnerability database yet: a scan now would find no vulnerabilities. Wait for the "
                  "database update task, or confirm to scan for the other risks only.")
    if not error:
        try:
            with rt.session() as s:
                started = tsvc.start_scan(s, rt, params, user.username)
            return redirect(f"{PREFIX}/tasks/{started['id']}", request)
        except ServiceError as exc:
            error = exc.message
    with rt.session() as s:
        registries = list(s.execute(select(Registry.id, Registry.name, Registry.type).where(Registry.builtin.is_(False))
                                    .order_by(Registry.name)))
        st = quota.status(s)
    return render(request, "scan.html", {"title": "scan", "registries": registries, "types": REGISTRY_TYPES,
                                         "labels": labels, "quota": st, "flashes": [("error", error)],
                                         "chosen": params}, status=422, user=user)


# ------------------------------------------------------------------------------------------------ registries


@router.get("/registries")
def registries(request: Request, user: User) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        counts = dict(s.execute(select(Repository.registry_id, func.count()).group_by(Repository.registry_id)).all())
        rows = list(s.scalars(select(Registry).order_by(Registry.id)))
        items = [{"r": r, "repos": counts.get(r.id, 0)} for r in rows]
        _ = gettext_for(request)
        done, code = request.query_params.get("done", ""), request.query_params.get("code", "")
        notes = {"added": _("Registry added and verified."), "saved": _("Registry saved and verified."),
                 "verified": _("Connection and credentials verified."), "deleted": _("Registry deleted.")}
        flashes = [("ok", notes[done])] if done in notes else []
        if done == "verify_failed":
            flashes.append(("error", _(labels.ERROR_CODES[code]) if code in labels.ERROR_CODES else code[:60]))
        return render(request, "registries.html", {"title": "registries", "items": items, "labels": labels,
                                                   "flashes": flashes}, user=user)


def _form_fields(form: Any) -> dict[str, Any]:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    rate = text("rate_limit")
    data: dict[str, Any] = {k: text(k) for k in ("name", "type", "version", "protocol", "network_type", "region", "ip",
                                                "domain", "username")}
    data["port"] = int(text("port")) if text("port").isdigit() else None
    data["rate_limit"] = "unlimited" if form.get("unlimited") == "1" or rate == "unlimited" else (int(rate) if rate.isdigit() else 10)
    password = form.get("password")
    data["password"] = password if isinstance(password, str) and password else None
    names, tokens = form.getlist("ns_name"), form.getlist("ns_token")
    namespaces = [{"name": str(n).strip(), "token": str(t)} for n, t in zip(names, tokens, strict=False) if str(n).strip()]
    data["namespaces"] = namespaces if data["type"] in ("quay", "gitlab") else None
    return data


def _registry_form(request: Request, user: Principal, row: Registry | None, values: dict[str, Any], error: str = "",
                   code: str = "", status: int = 200) -> Response:
    _ = gettext_for(request)
    message = _(labels.ERROR_CODES[code]) if code in labels.ERROR_CODES else ""
    return render(request, "registry_form.html", {"title": "registry", "row": row, "v": values, "error": error,
                                                  "code": code, "code_message": message, "labels": labels},
                  status=status, user=user)


@router.get("/registries/new")
def registry_new(request: Request, user: User) -> Response:
    need(user, "admin")
    return _registry_form(request, user, None, {"type": "registry", "protocol": "https", "network_type": "public",
                                                "rate_limit": 10, "namespaces": []})


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


@router.post("/registries", dependencies=[Csrf])
async def registry_create(request: Request, user: User) -> Response:
    from hullscan.server.api.registries import RegistryIn

    need(user, "admin")
    form = await request.form()
    data = _form_fields(form)
    rt = runtime(request)
    shown = {k: v for k, v in data.items() if k != "password"}
    try:
        body = RegistryIn.model_validate({k: v for k, v in data.items() if v not in (None, "") or k == "namespaces"})
    except ValidationError as exc:
        return _registry_form(request, user, None, shown, _validation_message(exc), status=422)
    payload = body.model_dump()
    payload["namespaces"] = [n.model_dump() for n in body.namespaces] if body.namespaces is not None else None
    try:
        with rt.session() as s:
            row = rsvc.create(s, rt, payload)
            name = row.name
    except ServiceError as exc:
        return _registry_form(request, user, None, shown, exc.message, exc.code, exc.status)
    return redirect(f"{PREFIX}/registries?done=added&name={quote(name)}")


@router.get("/registries/{registry_id}/edit")
def registry_edit(request: Request, user: User, registry_id: int) -> Response:
    need(user, "admin")
    rt = runtime(request)
    with rt.session() as s:
        try:
            row = rsvc.editable(s, registry_id)
        except ServiceError as exc:
            return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
        ns = rt.secrets.decrypt_json(row.namespaces_enc) or []
        values = {k: getattr(row, k) for k in ("name", "type", "version", "protocol", "network_type", "region", "ip",
                                               "port", "domain", "username")}
        values["rate_limit"] = row.rate_limit or "unlimited"
        values["namespaces"] = [{"name": n["name"], "token": ""} for n in ns]
        return _registry_form(request, user, row, values)


@router.post("/registries/{registry_id}", dependencies=[Csrf])
async def registry_update(request: Request, user: User, registry_id: int) -> Response:
    from hullscan.server.api.registries import RegistryUpdate

    need(user, "admin")
    form = await request.form()
    data = _form_fields(form)
    rt = runtime(request)
    update = {k: data[k] for k in ("name", "version", "protocol", "network_type", "region", "username", "rate_limit")}
    if data["password"]:
        update["password"] = data["password"]
    if data["namespaces"] and any(n["token"] for n in data["namespaces"]):
        update["namespaces"] = data["namespaces"]
    with rt.session() as s:
        row = s.get(Registry, registry_id)
    shown = {k: v for k, v in data.items() if k != "password"}
    try:
        body = RegistryUpdate.model_validate(update)
        with rt.session() as s:
            rsvc.update(s, rt, registry_id, body.model_dump(exclude_unset=True))
    except ValidationError as exc:
        return _registry_form(request, user, row, shown, _validation_message(exc), status=422)
    except ServiceError as exc:
        return _registry_form(request, user, row, shown, exc.message, exc.code, exc.status)
    return redirect(f"{PREFIX}/registries?done=saved")


@router.post("/registries/{registry_id}/verify", dependencies=[Csrf])
def registry_verify(request: Request, user: User, registry_id: int) -> Response:
    need(user, "admin")
    rt = runtime(request)
    try:
        with rt.session() as s:
            rsvc.verify(rt, rsvc.editable(s, registry_id))
    except ServiceError as exc:
        return redirect(f"{PREFIX}/registries?done=verify_failed&code={quote(exc.code)}")
    return redirect(f"{PREFIX}/registries?done=verified")


@router.post("/registries/{registry_id}/sync", dependencies=[Csrf])
def registry_sync(request: Request, user: User, registry_id: int) -> Response:
    need(user, "operator")
    rt = runtime(request)
    try:
        with rt.session() as s:
            started = tsvc.start_sync(s, rt, [registry_id], user.username)
    except ServiceError as exc:
        return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
    return redirect(f"{PREFIX}/tasks/{started['id']}")


@router.post("/registries/{registry_id}/delete", dependencies=[Csrf])
def registry_delete(request: Request, user: User, registry_id: int) -> Response:
    need(user, "admin")
    rt = runtime(request)
    try:
        with rt.session() as s:
            rsvc.delete(s, registry_id)
    except ServiceError as exc:
        return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
    return redirect(f"{PREFIX}/registries?done=deleted")
