"""Image Security (findings per category: tables, detail, handled/ignored, whitelist) and Images."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from hullscan.server import whitelist
from hullscan.server.api.deps import Principal
from hullscan.server.db.models import FindingRow, Image, ImageTag, Repository, Scan
from hullscan.server.services import ServiceError
from hullscan.server.services import findings as fsvc
from hullscan.server.services import whitelist as wsvc
from hullscan.server.web import aggregates, labels
from hullscan.server.web.core import PREFIX, check_csrf, gettext_for, need, page_user, redirect, render, runtime

router = APIRouter(prefix=PREFIX, include_in_schema=False)
User = Annotated[Principal, Depends(page_user)]
Csrf = Depends(check_csrf)
PAGE_SIZE = 25
TABS = ("vulnerability", "baseline", "malicious", "sensitive", "history")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


@router.get("/security")
def security(request: Request, user: User, severity: Annotated[list[str] | None, Query()] = None,
             tab: str = "vulnerability", kind: str = "", fix_status: str = "", repository: str = "", image: str = "",
             package: str = "", state: str = "open", sort: str = "severity", dir: str = "desc",
             page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    severity = severity or []
    rt = runtime(request)
    tab = tab if tab in TABS else "vulnerability"
    f = fsvc.FindingFilter(
        category=tab, severities=[s for s in severity if s in fsvc.SEVERITIES],
        fix_status=fix_status if tab == "vulnerability" and fix_status in labels.FIX_STATUSES else None,
        package=package.strip() or None, repository=repository.strip() or None, image_id=_int(image),
        state=state if state in ("open", "handled", "ignored") else None,
        kind=kind if tab == "vulnerability" and kind in ("system", "application") else None)
    # the open findings of a tab, by severity only: the shared counts answer (no pass over the findings)
    plain = f.state == "open" and not (f.fix_status or f.package or f.repository or f.image_id is not None or f.kind)
    with rt.session() as s:
        if whitelist.expire_due(s, rt.now()):
            aggregates.invalidate(rt)
    shared = aggregates.open_counts(rt)
    tab_counts = {c: sum(v.values()) for c, v in shared.items()}
    with rt.session() as s:
        if plain:
            counts = dict(shared.get(tab, {}))
            total = sum(n for sev, n in counts.items() if not f.severities or sev in f.severities)
            rows, _ = fsvc.list_findings(s, f, page, PAGE_SIZE, sort if sort in fsvc.SORTS else "severity", dir != "asc",
                                         count=False)
        else:  # one pass for the counts per severity; the total is their sum (no second count)
            rows, _ = fsvc.list_findings(s, f, page, PAGE_SIZE, sort if sort in fsvc.SORTS else "severity",
                                         dir != "asc", count=False)
            counts = fsvc.severity_counts(s, f)
            total = sum(n for sev, n in counts.items() if not f.severities or sev in f.severities)
        names = fsvc.image_labels(s, [r.image_id for r in rows])
        items = [{"id": r.id, "rule_id": r.rule_id, "severity": r.severity, "title": r.title, "package": r.package_name,
                  "version": r.package_version, "fix_status": r.fix_status, "fixed": ", ".join(r.fixed_versions or []),
                  "path": r.path, "image_id": r.image_id, "image": names.get(r.image_id, ""), "state": r.state,
                  "layer": r.layer} for r in rows]
    params = dict(request.query_params)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    ctx = {"title": "security", "tab": tab, "items": items, "total": total, "counts": counts, "tab_counts": tab_counts,
           "page": page, "pages": pages, "f": {"kind": kind, "severity": severity, "fix_status": fix_status,
                                                  "repository": repository, "image": image, "package": package,
                                                  "state": state, "sort": sort, "dir": dir},
           "params": params, "labels": labels, "severities": fsvc.SEVERITIES}
    template = "security_table.html" if request.headers.get("hx-request") and request.headers.get("hx-target") == "findings" else "security.html"
    return render(request, template, ctx, user=user)


def _finding_ctx(s: Any, row: FindingRow) -> dict[str, Any]:
    detail = row.detail or {}
    vuln = detail.get("vuln") or {}
    repos = list(s.scalars(select(Repository.id).join(ImageTag, ImageTag.repository_id == Repository.id)
                           .where(ImageTag.image_id == row.image_id).distinct()))
    step = ""
    loc = detail.get("location") or {}
    for key in ("history", "created_by", "step"):
        if loc.get(key):
            step = str(loc[key])
    return {"f": row, "image": fsvc.image_labels(s, [row.image_id]).get(row.image_id, ""),
            "references": list(vuln.get("references") or detail.get("references") or []),
            "aliases": list(vuln.get("aliases") or []), "step": step or str(detail.get("history_step") or ""),
            "repo_ids": repos}


@router.get("/security/findings/{finding_id}")
def finding_detail(request: Request, user: User, finding_id: int) -> Response:
    rt = runtime(request)
    with rt.session() as s:
        row = s.get(FindingRow, finding_id)
        if row is None:
            return render(request, "error.html", {"title": "404", "message": f"no finding with id {finding_id}"}, 404, user)
        ctx = _finding_ctx(s, row)
        return render(request, "finding.html", {"title": row.rule_id, "labels": labels, **ctx}, user=user)


@router.post("/security/findings/{finding_id}/state", dependencies=[Csrf])
def finding_state(request: Request, user: User, finding_id: int, state: Annotated[str, Form()],
                  reason: Annotated[str, Form()] = "") -> Response:
    need(user, "operator")
    rt = runtime(request)
    _ = gettext_for(request)
    try:
        with rt.session() as s:
            fsvc.set_state(s, finding_id, state, reason, user.username, rt.now())
        aggregates.invalidate(rt)
    except ServiceError as exc:
        msg = _("A reason is required to mark a finding handled or ignored.") if exc.code == "ReasonRequired" else exc.message
        with rt.session() as s:
            row = s.get(FindingRow, finding_id)
            if row is None:
                return redirect(PREFIX + "/security")
            ctx = _finding_ctx(s, row)
            return render(request, "finding.html", {"title": row.rule_id, "labels": labels, "flashes": [("error", msg)], **ctx},
                          status=exc.status, user=user)
    return redirect(f"{PREFIX}/security/findings/{finding_id}?saved=1")


@router.post("/security/findings/{finding_id}/whitelist", dependencies=[Csrf])
def finding_whitelist(request: Request, user: User, finding_id: int, scope: Annotated[str, Form()] = "all",
                      note: Annotated[str, Form()] = "") -> Response:
    """Whitelist this finding's vulnerability id (or the risky file's check), everywhere or in its repositories."""
    need(user, "operator")
    rt = runtime(request)
    with rt.session() as s:
        row = s.get(FindingRow, finding_id)
        if row is None or row.category not in wsvc.KINDS:
            return render(request, "error.html", {"title": "404", "message": f"no whitelistable finding {finding_id}"}, 404, user)
        ctx = _finding_ctx(s, row)
        ids: list[int] = []
        if scope == "images":
            ids = [row.image_id]
        elif scope == "repositories":
            ids = ctx["repo_ids"]
        category = row.category
        try:
            wsvc.add_rule(s, rt.now(), user.username, row.category, row.rule_id, scope if ids or scope == "all" else "all",
                          ids, note)
            aggregates.invalidate(rt)
        except ServiceError as exc:
            return render(request, "finding.html", {"title": row.rule_id, "labels": labels,
                                                    "flashes": [("error", exc.message)], **ctx}, exc.status, user)
    return redirect(f"{PREFIX}/security?tab={category}&whitelisted={finding_id}")


# ------------------------------------------------------------------------------------------------ images


@router.get("/images")
def images(request: Request, user: User, repository: str = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    from hullscan.server.api.assets import risk_counts

    rt = runtime(request)
    with rt.session() as s:
        q = select(Image)
        count_q = select(func.count(Image.id))
        if repository.strip():
            sub = select(ImageTag.image_id).join(Repository, ImageTag.repository_id == Repository.id).where(
                Repository.name == repository.strip())
            q, count_q = q.where(Image.id.in_(sub)), count_q.where(Image.id.in_(sub))
        total = int(s.scalar(count_q) or 0)
        rows = list(s.scalars(q.order_by(Image.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        ids = [r.id for r in rows]
        risks = risk_counts(s, ids)
        tags: dict[int, list[str]] = {}
        for image_id, name, tag in s.execute(select(ImageTag.image_id, Repository.name, ImageTag.tag).join(
                Repository, ImageTag.repository_id == Repository.id).where(ImageTag.image_id.in_(ids))
                .order_by(Repository.name, ImageTag.tag)):
            tags.setdefault(image_id, []).append(f"{name}:{tag}")
        items = [{"id": r.id, "digest": r.digest, "os": r.os, "status": r.scan_status, "error": r.scan_error,
                  "last": r.last_scanned_at, "tags": tags.get(r.id, []),
                  "sev": _by_severity(risks.get(r.id, {})), "cats": {c: sum(v.values()) for c, v in risks.get(r.id, {}).items()}}
                 for r in rows]
        repos = list(s.execute(select(Repository.name, func.count(ImageTag.id)).join(ImageTag, ImageTag.repository_id == Repository.id, isouter=True)
                               .group_by(Repository.name).order_by(Repository.name).limit(200)))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render(request, "images.html", {"title": "images", "items": items, "total": total, "page": page, "pages": pages,
                                           "repository": repository, "repos": repos, "labels": labels,
                                           "severities": fsvc.SEVERITIES}, user=user)


def _by_severity(risks: dict[str, dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for per in risks.values():
        for sev, n in per.items():
            out[sev] = out.get(sev, 0) + n
    return out


@router.get("/images/{image_id}")
def image_detail(request: Request, user: User, image_id: int) -> Response:
    from hullscan.server.api.assets import risk_counts

    rt = runtime(request)
    with rt.session() as s:
        img = s.get(Image, image_id)
        if img is None:
            return render(request, "error.html", {"title": "404", "message": f"no image with id {image_id}"}, 404, user)
        tags = list(s.execute(select(Repository.name, ImageTag.tag, ImageTag.pushed_at).join(
            Repository, ImageTag.repository_id == Repository.id).where(ImageTag.image_id == image_id)
            .order_by(Repository.name, ImageTag.tag)))
        scans = list(s.scalars(select(Scan).where(Scan.image_id == image_id).order_by(Scan.id.desc()).limit(20)))
        risks = risk_counts(s, [image_id])[image_id]
        packages = sorted((img.inventory or {}).get("packages") or [], key=lambda p: (str(p.get("ecosystem")), str(p.get("name"))))
        ctx = {"title": img.digest[:19], "img": img, "tags": tags, "scans": scans, "risks": risks,
               "packages": packages[:500], "package_total": len(packages), "labels": labels, "severities": fsvc.SEVERITIES}
        return render(request, "image.html", ctx, user=user)


@router.get("/images/{image_id}/sbom")
def image_sbom(request: Request, user: User, image_id: int, format: str = "cyclonedx") -> Response:
    """The stored inventory as CycloneDX or SPDX JSON (the report writers of ``hullscan image``)."""
    from hullscan.server.web.sbom import sbom_document

    rt = runtime(request)
    with rt.session() as s:
        img = s.get(Image, image_id)
        if img is None or not img.inventory:
            return render(request, "error.html", {"title": "404", "message": f"image {image_id} has no stored inventory"},
                          404, user)
        body, name = sbom_document(img, "spdx" if format == "spdx" else "cyclonedx")
    return Response(body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/images/{image_id}/scan", dependencies=[Csrf])
def image_scan(request: Request, user: User, image_id: int) -> Response:
    from hullscan.server.services import tasks as tsvc

    need(user, "operator")
    rt = runtime(request)
    try:
        with rt.session() as s:
            started = tsvc.start_scan(s, rt, {"image_ids": [image_id]}, user.username)
    except ServiceError as exc:
        return render(request, "error.html", {"title": exc.code, "message": exc.message}, exc.status, user)
    return redirect(f"{PREFIX}/tasks/{started['id']}")
