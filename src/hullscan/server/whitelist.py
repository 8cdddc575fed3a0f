"""Whitelist rules: suppress a vulnerability id or a risky-file alert, everywhere or within chosen images or
repositories, optionally until an expiry time after which the rule stops suppressing by itself.

Suppression is materialised in ``findings.suppressed_by`` (so listing and pagination stay in SQL) and
re-evaluated whenever rules change, findings are stored, or a rule's expiry passes (checked before every
read and on each scheduler tick).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hullscan.server.db.models import FindingRow, ImageTag, WhitelistRule
from hullscan.server.timeutil import aware

#: rule kinds and the finding category each suppresses
KINDS = {"vulnerability": "vulnerability", "sensitive": "sensitive", "history": "history", "malicious": "malicious"}


def active_rules(session: Session, now: datetime) -> list[WhitelistRule]:
    """Rules in force at ``now``."""
    rules = session.scalars(select(WhitelistRule).order_by(WhitelistRule.id)).all()
    return [r for r in rules if r.expires_at is None or aware(r.expires_at) > now]


def _matches(rule: WhitelistRule, row: FindingRow, repos_of_image: set[int]) -> bool:
    if KINDS.get(rule.kind) != row.category:
        return False
    if rule.kind == "vulnerability":
        aliases = ((row.detail or {}).get("vuln") or {}).get("aliases") or []
        if rule.value != row.rule_id and rule.value not in aliases:
            return False
    elif rule.value != row.rule_id and not fnmatch.fnmatchcase(row.path, rule.value):
        return False
    ids = {int(x) for x in rule.scope_ids or []}
    if rule.scope == "images":
        return row.image_id in ids
    if rule.scope == "repositories":
        return bool(ids & repos_of_image)
    return True


def apply(session: Session, now: datetime, image_ids: Iterable[int] | None = None) -> int:
    """Recompute ``suppressed_by`` for the findings of ``image_ids`` (every image when None). Returns changes."""
    rules = active_rules(session, now)
    q = select(FindingRow).where(FindingRow.category.in_(sorted(set(KINDS.values()))))
    if image_ids is not None:
        ids = sorted(set(image_ids))
        if not ids:
            return 0
        q = q.where(FindingRow.image_id.in_(ids))
    elif not rules:
        # nothing can suppress: clear every mark in one statement
        res = session.execute(update(FindingRow).where(FindingRow.suppressed_by.is_not(None)).values(suppressed_by=None))
        return int(res.rowcount or 0)  # type: ignore[attr-defined]
    repos: dict[int, set[int]] = {}
    for image_id, repo_id in session.execute(select(ImageTag.image_id, ImageTag.repository_id)):
        repos.setdefault(image_id, set()).add(repo_id)
    changed = 0
    for row in session.scalars(q):
        rule = next((r for r in rules if _matches(r, row, repos.get(row.image_id, set()))), None)
        new = rule.id if rule else None
        if row.suppressed_by != new:
            row.suppressed_by = new
            changed += 1
    session.flush()
    return changed


def expire_due(session: Session, now: datetime) -> int:
    """Mark rules whose expiry passed and lift their suppression. Returns how many rules expired."""
    due = [
        r
        for r in session.scalars(select(WhitelistRule).where(WhitelistRule.expired.is_(False), WhitelistRule.expires_at.is_not(None)))
        if aware(r.expires_at) <= now  # type: ignore[arg-type]
    ]
    if not due:
        return 0
    for r in due:
        r.expired = True
    affected = set(session.scalars(select(FindingRow.image_id).where(FindingRow.suppressed_by.in_([r.id for r in due]))))
    apply(session, now, affected)
    return len(due)


def forget_repositories(session: Session, repository_ids: Iterable[int]) -> int:
    """Take deleted repositories out of every repository-scoped rule, in the deleting transaction (a later
    repository that gets the same id must not inherit the rule); a rule left with no repository is deleted.
    Returns how many rules changed."""
    gone = {int(x) for x in repository_ids}
    if not gone:
        return 0
    changed = 0
    for rule in session.scalars(select(WhitelistRule).where(WhitelistRule.scope == "repositories")):
        ids = [int(x) for x in rule.scope_ids or []]
        kept = [x for x in ids if x not in gone]
        if kept != ids:
            changed += 1
            if kept:
                rule.scope_ids = kept
            else:
                session.delete(rule)
    session.flush()
    return changed
