"""``/api/settings`` (the one versioned scan settings object, with the repository scope) and ``/api/whitelist``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from hullscan.server.api.deps import RT, Admin, BodyId, Operator, PathId, Store, Viewer, api_error
from hullscan.server.db.models import Repository, WhitelistRule
from hullscan.server.scansettings import VersionConflict, get_settings, update_settings
from hullscan.server.services import whitelist as wl_svc
from hullscan.server.timeutil import aware, iso

router = APIRouter(tags=["settings"])


def _settings_out(s: Any) -> dict[str, Any]:
    settings, version = get_settings(s)
    scope = list(s.scalars(select(Repository.id).where(Repository.in_scope.is_(True)).order_by(Repository.id)))
    return {"version": version, "settings": settings.model_dump(), "scope_repository_ids": scope}


@router.get("/api/settings", summary="The scan settings and their version")
def read_settings(s: Store, _: Viewer) -> dict[str, Any]:
    return _settings_out(s)


class SettingsIn(BaseModel):
    """New values (any subset of the settings) and the version they were based on."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, le=2**62)
    settings: dict[str, Any] = Field(default_factory=dict)
    scope_repository_ids: list[BodyId] | None = Field(default=None, max_length=100_000)


@router.put("/api/settings", summary="Change the scan settings (optimistic: 409 if the version is stale)")
def write_settings(body: SettingsIn, s: Store, user: Admin) -> dict[str, Any]:
    try:
        update_settings(s, body.settings, body.version, user.username)
    except VersionConflict as exc:
        raise api_error(409, "VersionConflict", str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise api_error(422, "InvalidSettings", f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    if body.scope_repository_ids is not None:
        wanted = set(body.scope_repository_ids)
        for repo in s.scalars(select(Repository)):
            repo.in_scope = repo.id in wanted
    return _settings_out(s)


class RuleIn(BaseModel):
    """A whitelist rule: a vulnerability id, or a risky-file alert (check id or path glob) per alert type."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["vulnerability", "sensitive", "history", "malicious"] = Field(
        description="vulnerability; sensitive file; history (build command); malicious (sample)")
    value: str = Field(min_length=1, max_length=500, description="vulnerability id, or check id / path glob")
    scope: Literal["all", "images", "repositories"] = "all"
    scope_ids: list[BodyId] = Field(default_factory=list, max_length=10_000)
    note: str = Field(default="", max_length=2000)
    expires_at: datetime | None = None


def rule_out(r: WhitelistRule, now: datetime) -> dict[str, Any]:
    """Public view of a rule."""
    active = r.expires_at is None or aware(r.expires_at) > now
    return {"id": r.id, "kind": r.kind, "value": r.value, "scope": r.scope, "scope_ids": r.scope_ids, "note": r.note,
            "author": r.author, "created_at": iso(r.created_at), "expires_at": iso(r.expires_at), "active": active}


@router.get("/api/whitelist", summary="List whitelist rules")
def list_rules(s: Store, rt: RT, _: Viewer) -> list[dict[str, Any]]:
    return [rule_out(r, rt.now()) for r in s.scalars(select(WhitelistRule).order_by(WhitelistRule.id))]


@router.post("/api/whitelist", status_code=201, summary="Add a whitelist rule (applies at once)")
def add_rule(body: RuleIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    rule = wl_svc.add_rule(s, rt.now(), user.username, body.kind, body.value, body.scope, body.scope_ids, body.note,
                           body.expires_at)
    return rule_out(rule, rt.now())


@router.delete("/api/whitelist/{rule_id}", status_code=204, summary="Delete a whitelist rule (its suppression ends)")
def delete_rule(rule_id: PathId, s: Store, rt: RT, _: Operator) -> None:
    wl_svc.delete_rule(s, rt.now(), rule_id)
