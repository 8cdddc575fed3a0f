"""Whitelist rules scoped to repositories follow the repositories' identity (a deleted repository leaves the
rule at once, so a new repository given the same id never inherits it), and rules are edited in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hullscan.server.db.models import Registry, Repository, WhitelistRule
from hullscan.server.runtime import Runtime


def registry_with_repos(rt: Runtime, name: str, repos: list[str]) -> tuple[int, list[int]]:
    with rt.session() as s:
        reg = Registry(name=name, type="registry", domain=f"{name}.example")
        s.add(reg)
        s.flush()
        rows = [Repository(registry_id=reg.id, name=n) for n in repos]
        s.add_all(rows)
        s.flush()
        return reg.id, [r.id for r in rows]


def test_rules_follow_deleted_repositories(api: Any, rt: Runtime) -> None:
    gone_reg, (a, b) = registry_with_repos(rt, "gone", ["team/a", "team/b"])
    _, (c,) = registry_with_repos(rt, "stays", ["team/c"])
    only_gone = api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-2026-1", "scope": "repositories",
                                                 "scope_ids": [a, b]}).json()
    mixed = api.post("/api/whitelist", json={"kind": "sensitive", "value": "/etc/*", "scope": "repositories",
                                             "scope_ids": [a, c]}).json()
    assert api.delete(f"/api/registries/{gone_reg}").status_code == 204
    rules = {r["id"]: r for r in api.get("/api/whitelist").json()}
    assert only_gone["id"] not in rules  # scoped to nothing any more: gone, not "everything"
    assert rules[mixed["id"]]["scope_ids"] == [c]
    # a repository created later (whatever id it gets) is not covered by the old rules
    _, (new,) = registry_with_repos(rt, "later", ["team/a"])
    with rt.session() as s:
        assert all(new not in (r.scope_ids or []) for r in s.query(WhitelistRule).all())


def test_rules_are_edited_in_place(api: Any, rt: Runtime) -> None:
    _, (a, b) = registry_with_repos(rt, "edit", ["x/a", "x/b"])
    rule = api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-2026-2", "note": "first"}).json()
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    edited = api.put(f"/api/whitelist/{rule['id']}", json={"scope": "repositories", "scope_ids": [b, a],
                                                           "note": "only team x", "expires_at": soon})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["id"] == rule["id"] and body["scope"] == "repositories" and body["scope_ids"] == sorted([a, b])
    assert body["note"] == "only team x" and body["expires_at"] and body["value"] == "CVE-2026-2"
    assert api.put(f"/api/whitelist/{rule['id']}", json={"expires_at": None}).json()["expires_at"] is None
    assert api.put(f"/api/whitelist/{rule['id']}", json={"scope": "images"}).json()["code"] == "ScopeRequired"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert api.put(f"/api/whitelist/{rule['id']}", json={"expires_at": past}).json()["code"] == "ExpiryInPast"
    assert api.put(f"/api/whitelist/{rule['id']}", json={"scope_ids": [999_999]}).json()["code"] == "UnknownScope"
    assert api.put(f"/api/whitelist/{rule['id']}", json={"scope": "all"}).json()["scope_ids"] == []
    assert api.put("/api/whitelist/999999", json={"note": "x"}).status_code == 404
