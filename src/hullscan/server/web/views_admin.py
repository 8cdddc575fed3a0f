"""Dashboard, Scan Settings (with its tabs and the whitelists), users (admin) and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select

from hullscan.server import quota, whitelist
from hullscan.server.api.deps import Principal
from hullscan.server.auth import ROLES, create_token, create_user
from hullscan.server.db.models import ApiToken, FindingRow, Image, ImageTag, Repository, Scan, User, WhitelistRule
from hullscan.server.scansettings import REGISTRY_TYPES, VersionConflict, get_settings, update_settings
from hullscan.server.services import ServiceError
from hullscan.server.services import findings as fsvc
from hullscan.server.services import whitelist as wsvc
from hullscan.server.timeutil import aware
from hullscan.server.web import aggregates, labels
from hullscan.server.web.core import PREFIX, check_csrf, gettext_for, need, page_user, redirect, render, runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)
UserDep = Annotated[Principal, Depends(page_user)]
Csrf = Depends(check_csrf)
SETTINGS_TABS = ("config", "baseline", "sensitive", "filewhitelist", "vulnwhitelist")
SCOPE_SHOWN = 200


# ------------------------------------------------------------------------------------------------ dashboard


@router.get("/dashboard")
def dashboard(request: Request, user: UserDep) -> Response:
    rt = runtime(request)
    now = rt.now()
    with rt.session() as s:
        if whitelist.expire_due(s, now):
            aggregates.invalidate(rt)
        st = quota.status(s)
    counts = aggregates.open_counts(rt)
    data = aggregates.cached(rt, "dashboard", lambda: _dashboard_data(rt, now))
    days = data["days"]
    chart = {"days": days, "new_findings": [data["trend"].get(d, 0) for d in days],
             "scans": [data["scans"].get(d, 0) for d in days], "categories": list(labels.CATEGORIES),
             "severities": list(fsvc.SEVERITIES),
             "counts": [[counts.get(c, {}).get(sv, 0) for c in labels.CATEGORIES] for sv in fsvc.SEVERITIES]}
    _ = gettext_for(request)
    return render(request, "dashboard.html", {"title": "dashboard", "counts": counts, "chart": chart, "quota": st,
                                              "chart_cats": [_(v) for v in labels.CATEGORIES.values()],
                                              "chart_sevs": [_(v) for v in fsvc.SEVERITIES],
                                              "risky_images": data["risky_images"], "risky_repos": data["risky_repos"],
                                              "totals": data["totals"], "labels": labels,
                                              "severities": fsvc.SEVERITIES}, user=user)


def _dashboard_data(rt: Any, now: datetime) -> dict[str, Any]:
    """The dashboard's store-wide figures (passes over every finding: shared, see :mod:`.aggregates`)."""
    since = now - timedelta(days=30)
    with rt.session() as s:
        day = func.date(FindingRow.first_seen)
        trend = {str(d): int(n) for d, n in s.execute(select(day, func.count(FindingRow.id)).where(
            FindingRow.first_seen >= since).group_by(day))}
        scan_day = func.date(Scan.started_at)
        scans = {str(d): int(n) for d, n in s.execute(select(scan_day, func.count(Scan.id)).where(
            Scan.started_at >= since).group_by(scan_day))}
        risky = list(s.execute(
            select(FindingRow.image_id, func.count(FindingRow.id).label("n"))
            .where(FindingRow.state == "open", FindingRow.suppressed_by.is_(None), FindingRow.severity.in_(["CRITICAL", "HIGH"]))
            .group_by(FindingRow.image_id).order_by(func.count(FindingRow.id).desc()).limit(8)))
        names = fsvc.image_labels(s, [i for i, _ in risky])
        top_ids = [i for i, _ in risky]
        risky_repos = [tuple(r) for r in s.execute(
            select(Repository.name, func.count(FindingRow.id))
            .join(ImageTag, ImageTag.repository_id == Repository.id).join(FindingRow, FindingRow.image_id == ImageTag.image_id)
            .where(FindingRow.image_id.in_(top_ids), FindingRow.state == "open", FindingRow.suppressed_by.is_(None),
                   FindingRow.severity.in_(["CRITICAL", "HIGH"]))
            .group_by(Repository.name).order_by(func.count(FindingRow.id).desc()).limit(8))] if top_ids else []
        totals = {"images": int(s.scalar(select(func.count(Image.id))) or 0),
                  "repositories": int(s.scalar(select(func.count(Repository.id))) or 0)}
    return {"days": [(since + timedelta(days=i + 1)).date().isoformat() for i in range(30)], "trend": trend,
            "scans": scans, "risky_images": [(i, names.get(i, ""), n) for i, n in risky], "risky_repos": risky_repos,
            "totals": totals}


# ------------------------------------------------------------------------------------------------ settings


@cache
def _rule_items(name: str, key: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(resources.files("hullscan").joinpath(f"rules/{name}").read_text(encoding="utf-8"))
    return [{"id": str(i["id"]), "title": str(i.get("title", "")), "severity": str(i.get("severity", ""))}
            for i in data.get(key) or []]


def _settings_ctx(s: Any, rt: Any, tab: str, page_scope: int = 1) -> dict[str, Any]:
    settings, version = get_settings(s)
    repos = list(s.execute(select(Repository.id, Repository.name, Repository.in_scope).order_by(Repository.name)
                           .offset((page_scope - 1) * SCOPE_SHOWN).limit(SCOPE_SHOWN)))
    repo_total = int(s.scalar(select(func.count(Repository.id))) or 0)
    rules = list(s.scalars(select(WhitelistRule).order_by(WhitelistRule.id)))
    now = rt.now()
    repo_ids = sorted({int(i) for r in rules if r.scope == "repositories" for i in r.scope_ids or []})
    repo_names = dict(s.execute(select(Repository.id, Repository.name).where(Repository.id.in_(repo_ids))).all()) if repo_ids else {}
    return {"title": "settings", "repo_names": repo_names, "tab": tab, "settings": settings.model_dump(), "version": version, "repos": repos,
            "repo_total": repo_total, "baseline_items": _rule_items("baseline.yaml", "checks"),
            "sensitive_items": _rule_items("sensitive.yaml", "items"), "types": REGISTRY_TYPES, "labels": labels,
            "file_rules": [r for r in rules if r.kind != "vulnerability"],
            "vuln_rules": [r for r in rules if r.kind == "vulnerability"],
            "active": {r.id: r.expires_at is None or aware(r.expires_at) > now for r in rules}}


@router.get("/settings")
def settings_page(request: Request, user: UserDep, tab: str = "config") -> Response:
    rt = runtime(request)
    tab = tab if tab in SETTINGS_TABS else "config"
    with rt.session() as s:
        ctx = _settings_ctx(s, rt, tab)
    _ = gettext_for(request)
    flashes = [("ok", _("Settings saved."))] if request.query_params.get("saved") else []
    return render(request, "settings.html", {**ctx, "flashes": flashes}, user=user)


def _int_or_none(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _section_data(section: str, form: Any, current: dict[str, Any]) -> dict[str, Any]:
    """The settings fields one tab's form edits."""
    if section == "config":
        return {"auto_add_new_repositories": form.get("auto_add_new_repositories") == "1",
                "time_range_days": _int_or_none(form.get("time_range_days")),
                "scan_cycle_hours": _int_or_none(form.get("scan_cycle_hours")),
                "retention_days": _int_or_none(form.get("retention_days")) or current["retention_days"],
                "sync_time": str(form.get("sync_time") or current["sync_time"]),
                "registry_types": [t for t in form.getlist("registry_types") if t in REGISTRY_TYPES]}
    checks = dict(current["checks"])
    if section == "baseline":
        checks["baseline"] = form.get("baseline") == "1"
        checks["history"] = form.get("history") == "1"
        checks["malware"] = form.get("malware") == "1"
    elif section == "sensitive":
        checks["sensitive"] = form.get("sensitive") == "1"
        chosen = [str(x) for x in form.getlist("sensitive_types")]
        all_ids = [i["id"] for i in _rule_items("sensitive.yaml", "items")]
        checks["sensitive_types"] = [] if set(chosen) >= set(all_ids) else [i for i in all_ids if i in chosen]
    return {"checks": checks}


@router.post("/settings", dependencies=[Csrf])
async def settings_save(request: Request, user: UserDep) -> Response:
    need(user, "admin")
    form = await request.form()
    section = str(form.get("section") or "config")
    tab = section if section in SETTINGS_TABS else "config"
    rt = runtime(request)
    _ = gettext_for(request)
    version = _int_or_none(form.get("version")) or 0
    with rt.session() as s:
        current, current_version = get_settings(s)
        data = _section_data(section, form, current.model_dump())
        try:
            update_settings(s, data, version, user.username)
            if section == "config":
                shown = {int(str(x)) for x in form.getlist("scope_shown") if str(x).isdigit()}
                wanted = {int(str(x)) for x in form.getlist("scope") if str(x).isdigit()}
                for repo in s.scalars(select(Repository).where(Repository.id.in_(sorted(shown)))):
                    repo.in_scope = repo.id in wanted
        except VersionConflict:
            s.rollback()
            ctx = _settings_ctx(s, rt, tab)
            # the user's edits stay on the form, on top of the current version: nothing typed is lost
            merged = {**ctx["settings"], **data}
            stale = _("These settings were changed by someone else since you opened this page (now version "
                      "%(now)s, yours was %(yours)s). Your edits are shown below and were NOT saved: check them and "
                      "save again.") % {"now": current_version, "yours": version}
            return render(request, "settings.html", {**ctx, "settings": merged, "flashes": [("error", stale)],
                                                     "stale": True}, status=409, user=user)
        except ValidationError as exc:
            s.rollback()
            first = exc.errors()[0]
            ctx = _settings_ctx(s, rt, tab)
            msg = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            return render(request, "settings.html", {**ctx, "settings": {**ctx["settings"], **data},
                                                     "flashes": [("error", msg)]}, status=422, user=user)
    return redirect(f"{PREFIX}/settings?tab={tab}&saved=1")


def _expiry(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ServiceError(422, "InvalidExpiry", f"expiry {value!r} is not a date and time") from None
    return aware(when)


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split() if x.isdigit()]


def _repo_ids_by_name(s: Any, text: str) -> list[int]:
    names = [n.strip() for n in text.replace(",", "\n").splitlines() if n.strip()]
    if not names:
        return []
    found = dict(s.execute(select(Repository.name, Repository.id).where(Repository.name.in_(names))).all())
    missing = [n for n in names if n not in found]
    if missing:
        raise ServiceError(422, "UnknownScope", f"no repository named {missing[0]!r}")
    return [found[n] for n in names]


@router.post("/settings/whitelist", dependencies=[Csrf])
async def whitelist_save(request: Request, user: UserDep) -> Response:
    """Create (no ``rule_id``) or change a whitelist rule."""
    need(user, "operator")
    form = await request.form()
    rt = runtime(request)
    kind = str(form.get("kind") or "vulnerability")
    tab = "vulnwhitelist" if kind == "vulnerability" else "filewhitelist"
    rule_id = _int_or_none(form.get("rule_id"))
    try:
        with rt.session() as s:
            scope = str(form.get("scope") or "all")
            ids = _ids(str(form.get("image_ids") or "")) if scope == "images" else (
                _repo_ids_by_name(s, str(form.get("repositories") or "")) if scope == "repositories" else [])
            value, note = str(form.get("value") or "").strip(), str(form.get("note") or "")
            if not value:
                raise ServiceError(422, "ValueRequired", "a vulnerability id, check id or path is required")
            if rule_id is None:
                wsvc.add_rule(s, rt.now(), user.username, kind, value, scope, ids, note, _expiry(str(form.get("expires_at") or "")))
            else:
                wsvc.update_rule(s, rt.now(), rule_id, value, scope, ids, note, _expiry(str(form.get("expires_at") or "")))
    except ServiceError as exc:
        with rt.session() as s:
            ctx = _settings_ctx(s, rt, tab)
        return render(request, "settings.html", {**ctx, "flashes": [("error", exc.message)]}, status=exc.status, user=user)
    aggregates.invalidate(rt)
    return redirect(f"{PREFIX}/settings?tab={tab}&saved=1")


@router.post("/settings/whitelist/{rule_id}/delete", dependencies=[Csrf])
def whitelist_delete(request: Request, user: UserDep, rule_id: int) -> Response:
    need(user, "operator")
    rt = runtime(request)
    tab = "vulnwhitelist"
    try:
        with rt.session() as s:
            rule = s.get(WhitelistRule, rule_id)
            if rule is not None and rule.kind != "vulnerability":
                tab = "filewhitelist"
            wsvc.delete_rule(s, rt.now(), rule_id)
    except ServiceError as exc:
        return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
    aggregates.invalidate(rt)
    return redirect(f"{PREFIX}/settings?tab={tab}&saved=1")


# ------------------------------------------------------------------------------------------------ users, tokens


@router.get("/users")
def users(request: Request, user: UserDep) -> Response:
    need(user, "admin")
    rt = runtime(request)
    with rt.session() as s:
        rows = list(s.scalars(select(User).order_by(User.id)))
        tokens = dict(s.execute(select(ApiToken.user_id, func.count(ApiToken.id)).group_by(ApiToken.user_id)).all())
        _ = gettext_for(request)
        flashes = [("ok", _("User created."))] if request.query_params.get("created") else []
        return render(request, "users.html", {"title": "users", "rows": rows, "tokens": tokens, "roles": ROLES,
                                              "flashes": flashes}, user=user)


@router.post("/users", dependencies=[Csrf])
def user_create(request: Request, user: UserDep, username: Annotated[str, Form()], password: Annotated[str, Form()],
                role: Annotated[str, Form()] = "viewer") -> Response:
    need(user, "admin")
    rt = runtime(request)
    _ = gettext_for(request)
    error = ""
    if len(password) < 8 or len(password.encode()) > 72:
        error = _("The password must have 8 to 72 characters.")
    else:
        try:
            with rt.session() as s:
                create_user(s, username.strip(), password, role)
        except ValueError as exc:
            error = str(exc)
    if error:
        with rt.session() as s:
            rows = list(s.scalars(select(User).order_by(User.id)))
            return render(request, "users.html", {"title": "users", "rows": rows, "tokens": {}, "roles": ROLES,
                                                  "flashes": [("error", error)]}, status=422, user=user)
    return redirect(f"{PREFIX}/users?created=1")


@router.get("/tokens")
def tokens(request: Request, user: UserDep) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        rows = list(s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))
        return render(request, "tokens.html", {"title": "tokens", "rows": rows}, user=user)


@router.post("/tokens", dependencies=[Csrf])
def token_create(request: Request, user: UserDep, name: Annotated[str, Form()] = "") -> Response:
    rt = runtime(request)
    with rt.session() as s:
        row = s.get(User, user.id)
        assert row is not None
        token = create_token(s, row, name[:200])
    with rt.session() as s:
        rows = list(s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))
        return render(request, "tokens.html", {"title": "tokens", "rows": rows, "new_token": token}, user=user)


@router.post("/tokens/{token_id}/delete", dependencies=[Csrf])
def token_delete(request: Request, user: UserDep, token_id: int) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        row = s.get(ApiToken, token_id)
        if row is not None and row.user_id == user.id:
            s.delete(row)
    return redirect(f"{PREFIX}/tokens")
