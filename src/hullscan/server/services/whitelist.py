"""Whitelist rules: create, change and delete (the API's ``/api/whitelist`` and the console's Scan Settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hullscan.server import whitelist
from hullscan.server.db.models import Image, Repository, WhitelistRule
from hullscan.server.services import ServiceError
from hullscan.server.timeutil import aware, iso

KINDS = ("vulnerability", "sensitive", "history", "malicious")


def check_scope_ids(s: Session, scope: str, ids: list[int]) -> None:
    """422 naming the first id of ``ids`` that is no image / repository (a rule scoped to nothing)."""
    if scope == "all" or not ids:
        return
    model: Any = Image if scope == "images" else Repository
    known = set(s.scalars(select(model.id).where(model.id.in_(sorted(set(ids))))))
    missing = sorted(set(ids) - known)
    if missing:
        what = "image" if scope == "images" else "repository"
        raise ServiceError(422, "UnknownScope", f"no {what} with id {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))


def _validate(s: Session, kind: str, scope: str, scope_ids: list[int], expires_at: datetime | None,
              now: datetime) -> datetime | None:
    if kind not in KINDS:
        raise ServiceError(422, "InvalidKind", f"unknown rule kind {kind!r}")
    if scope != "all" and not scope_ids:
        raise ServiceError(422, "ScopeRequired", f"scope {scope!r} needs scope_ids")
    if kind != "vulnerability" and scope == "images":
        raise ServiceError(422, "InvalidScope", "risky-file rules apply to all repositories or chosen repositories")
    expires = aware(expires_at) if expires_at else None
    if expires is not None and expires <= now:
        raise ServiceError(422, "ExpiryInPast", f"expires_at {iso(expires)} is not in the future: the rule would never apply")
    check_scope_ids(s, scope, scope_ids)
    return expires


def add_rule(s: Session, now: datetime, author: str, kind: str, value: str, scope: str = "all",
             scope_ids: list[int] | None = None, note: str = "", expires_at: datetime | None = None) -> WhitelistRule:
    """Add a rule; it applies at once (matching findings leave the open lists)."""
    ids = sorted(set(scope_ids or []))
    expires = _validate(s, kind, scope, ids, expires_at, now)
    rule = WhitelistRule(kind=kind, value=value, scope=scope, scope_ids=ids, note=note, author=author,
                         created_at=now, expires_at=expires, expired=False)
    s.add(rule)
    s.flush()
    whitelist.apply(s, now)
    return rule


def update_rule(s: Session, now: datetime, rule_id: int, value: str, scope: str, scope_ids: list[int], note: str,
                expires_at: datetime | None) -> WhitelistRule:
    """Change a rule (its kind stays); suppression is re-evaluated."""
    rule = s.get(WhitelistRule, rule_id)
    if rule is None:
        raise ServiceError(404, "NotFound", f"no whitelist rule with id {rule_id}")
    ids = sorted(set(scope_ids))
    expires = _validate(s, rule.kind, scope, ids, expires_at, now)
    rule.value, rule.scope, rule.scope_ids, rule.note, rule.expires_at, rule.expired = value, scope, ids, note, expires, False
    s.flush()
    whitelist.apply(s, now)
    return rule


def delete_rule(s: Session, now: datetime, rule_id: int) -> None:
    """Delete a rule; its suppression ends."""
    rule = s.get(WhitelistRule, rule_id)
    if rule is None:
        raise ServiceError(404, "NotFound", f"no whitelist rule with id {rule_id}")
    s.delete(rule)
    s.flush()
    whitelist.apply(s, now)
