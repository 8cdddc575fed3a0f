"""``/api/repositories`` and ``/api/images``: synced assets, scan scope and images with their risk counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from hullscan.server import whitelist
from hullscan.server.api.deps import RT, Operator, PathId, QueryId, Store, Viewer, fetch_page, get_or_404, page_of
from hullscan.server.db.models import FindingRow, Image, ImageTag, Repository, Scan
from hullscan.server.timeutil import iso

router = APIRouter(tags=["assets"])


def repo_out(r: Repository, tags: int = 0) -> dict[str, Any]:
    """Public view of a repository."""
    return {"id": r.id, "registry_id": r.registry_id, "name": r.name, "pull_prefix": r.pull_prefix,
            "in_scope": r.in_scope, "tags": tags, "created_at": iso(r.created_at), "last_seen_at": iso(r.last_seen_at)}


@router.get("/api/repositories", summary="List repositories")
def list_repositories(
    s: Store, _: Viewer,
    registry_id: QueryId = None,
    in_scope: bool | None = None,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    q = select(Repository)
    if registry_id is not None:
        q = q.where(Repository.registry_id == registry_id)
    if in_scope is not None:
        q = q.where(Repository.in_scope.is_(in_scope))
    rows, total = fetch_page(s, q, (Repository.registry_id, Repository.name), page, page_size)
    counts = dict(s.execute(select(ImageTag.repository_id, func.count()).where(
        ImageTag.repository_id.in_([r.id for r in rows])).group_by(ImageTag.repository_id)).all())
    return page_of([repo_out(r, counts.get(r.id, 0)) for r in rows], total, page, page_size)


class ScopeIn(BaseModel):
    """Whether a repository is in the scan scope."""

    model_config = ConfigDict(extra="forbid")
    in_scope: bool


@router.put("/api/repositories/{repository_id}/scope", summary="Add a repository to or remove it from the scan scope")
def set_scope(repository_id: PathId, body: ScopeIn, s: Store, _: Operator) -> dict[str, Any]:
    repo = get_or_404(s, Repository, repository_id, "repository")
    repo.in_scope = body.in_scope
    tags = s.scalar(select(func.count()).select_from(ImageTag).where(ImageTag.repository_id == repository_id)) or 0
    return repo_out(repo, int(tags))


def risk_counts(s: Any, image_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Open, unsuppressed findings per image, category and severity."""
    out: dict[int, dict[str, dict[str, int]]] = {i: {} for i in image_ids}
    if not image_ids:
        return out
    q = (select(FindingRow.image_id, FindingRow.category, FindingRow.severity, func.count())
         .where(FindingRow.image_id.in_(image_ids), FindingRow.suppressed_by.is_(None), FindingRow.state == "open")
         .group_by(FindingRow.image_id, FindingRow.category, FindingRow.severity))
    for image_id, cat, sev, n in s.execute(q):
        out[image_id].setdefault(cat, {})[sev] = n
    return out


def image_out(img: Image, s: Any, risks: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Public view of an image with its tags and risk counts."""
    tags = s.execute(select(ImageTag, Repository).join(Repository, ImageTag.repository_id == Repository.id)
                     .where(ImageTag.image_id == img.id).order_by(Repository.name, ImageTag.tag)).all()
    return {
        "id": img.id, "digest": img.digest, "os": img.os, "scan_status": img.scan_status, "scan_error": img.scan_error,
        "last_scanned_at": iso(img.last_scanned_at), "created_at": iso(img.image_created),
        "tags": [{"repository_id": r.id, "repository": r.name, "tag": t.tag, "pushed_at": iso(t.pushed_at),
                  "updated_at": iso(t.updated_at)} for t, r in tags],
        "risks": risks, "risk_total": sum(sum(v.values()) for v in risks.values()),
    }


@router.get("/api/images", summary="List images with their risk counts per category and severity")
def list_images(
    s: Store, rt: RT, _: Viewer,
    registry_id: QueryId = None,
    repository_id: QueryId = None,
    digest: str | None = Query(None, max_length=100),
    scan_status: str | None = Query(None, max_length=40),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    whitelist.expire_due(s, rt.now())
    q = select(Image)
    if registry_id is not None or repository_id is not None:
        sub = select(ImageTag.image_id).join(Repository, ImageTag.repository_id == Repository.id)
        if registry_id is not None:
            sub = sub.where(Repository.registry_id == registry_id)
        if repository_id is not None:
            sub = sub.where(Repository.id == repository_id)
        q = q.where(Image.id.in_(sub))
    if digest:
        q = q.where(Image.digest == digest)
    if scan_status:
        q = q.where(Image.scan_status == scan_status)
    rows, total = fetch_page(s, q, (Image.id,), page, page_size)
    risks = risk_counts(s, [r.id for r in rows])
    return page_of([image_out(r, s, risks[r.id]) for r in rows], total, page, page_size)


@router.get("/api/images/{image_id}", summary="Show an image, its tags, risk counts, packages and scans")
def get_image(image_id: PathId, s: Store, rt: RT, _: Viewer) -> dict[str, Any]:
    whitelist.expire_due(s, rt.now())
    img = get_or_404(s, Image, image_id, "image")
    out = image_out(img, s, risk_counts(s, [img.id])[img.id])
    out["packages"] = len((img.inventory or {}).get("packages") or [])
    out["scans"] = [{"id": sc.id, "task_id": sc.task_id, "status": sc.status, "error": sc.error,
                     "started_at": iso(sc.started_at), "duration_seconds": sc.duration_seconds, "summary": sc.summary}
                    for sc in s.scalars(select(Scan).where(Scan.image_id == img.id).order_by(Scan.id.desc()).limit(20))]
    return out


@router.get("/api/images/{image_id}/packages", summary="The stored inventory of an image")
def image_packages(image_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    img = get_or_404(s, Image, image_id, "image")
    inv = img.inventory or {}
    return {"os": inv.get("os"), "packages": inv.get("packages") or []}
