"""User administration: disable, delete, change one's own password, token expiry, an admin revoking another
user's tokens; never without an enabled admin."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from hullscan.server.runtime import Runtime
from tests.server.conftest import admin_token


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_disable_enable_and_delete_users(api: Any, rt: Runtime) -> None:
    token = admin_token(rt, "olga", "operator")
    olga = {"Authorization": f"Bearer {token}"}
    uid = api.get("/api/users/me", headers=olga).json()["id"]
    assert api.patch(f"/api/users/{uid}", json={"disabled": True}).json()["disabled"] is True
    assert api.get("/api/users/me", headers=olga).status_code == 401
    assert api.get("/api/users/me", headers=basic("olga", "correct horse battery")).status_code == 401
    assert api.patch(f"/api/users/{uid}", json={"disabled": False, "role": "viewer"}).json()["role"] == "viewer"
    assert api.get("/api/users/me", headers=olga).json()["role"] == "viewer"
    assert api.patch(f"/api/users/{uid}", json={"disabled": True}, headers=olga).status_code == 403  # admins only
    assert api.delete(f"/api/users/{uid}").status_code == 204
    assert api.get("/api/users/me", headers=olga).status_code == 401
    assert all(u["username"] != "olga" for u in api.get("/api/users").json())
    assert api.delete(f"/api/users/{uid}").status_code == 404
    # the last enabled admin can't be disabled, demoted or deleted
    me = api.get("/api/users/me").json()["id"]
    for call in (lambda: api.patch(f"/api/users/{me}", json={"disabled": True}),
                 lambda: api.patch(f"/api/users/{me}", json={"role": "operator"}),
                 lambda: api.delete(f"/api/users/{me}")):
        resp = call()
        assert resp.status_code == 409 and resp.json()["code"] == "LastAdmin"


def test_change_own_password(api: Any, rt: Runtime) -> None:
    vera = {"Authorization": f"Bearer {admin_token(rt, 'vera', 'viewer')}"}
    wrong = api.put("/api/users/me/password", json={"current_password": "nope", "new_password": "brand-new-pass"},
                    headers=vera)
    assert wrong.status_code == 403
    ok = api.put("/api/users/me/password", json={"current_password": "correct horse battery",
                                                 "new_password": "brand-new-pass"}, headers=vera)
    assert ok.status_code == 204
    assert api.get("/api/users/me", headers=basic("vera", "brand-new-pass")).status_code == 200
    assert api.get("/api/users/me", headers=basic("vera", "correct horse battery")).status_code == 401


def test_token_expiry(api: Any, rt: Runtime) -> None:
    made = api.post("/api/tokens", json={"name": "short", "expires_in_days": 1})
    assert made.status_code == 201 and made.json()["expires_at"]
    short = {"Authorization": f"Bearer {made.json()['token']}"}
    assert api.get("/api/users/me", headers=short).status_code == 200
    from hullscan.server.auth import token_hash
    from hullscan.server.db.models import ApiToken

    with rt.session() as s:  # a day passes (tokens expire by the wall clock of the store)
        row = s.query(ApiToken).filter_by(token_hash=token_hash(made.json()["token"])).one()
        row.expires_at = row.expires_at - timedelta(days=2)  # type: ignore[operator]
    assert api.get("/api/users/me", headers=short).status_code == 401
    assert api.post("/api/tokens", json={"expires_in_days": 0}).status_code == 422


def test_admin_revokes_another_users_token(api: Any, rt: Runtime) -> None:
    otto = {"Authorization": f"Bearer {admin_token(rt, 'otto', 'operator')}"}
    uid = api.get("/api/users/me", headers=otto).json()["id"]
    tokens = api.get(f"/api/users/{uid}/tokens").json()
    assert len(tokens) == 1 and "token" not in tokens[0]
    assert api.get(f"/api/users/{uid}/tokens", headers=otto).status_code == 403
    assert api.delete(f"/api/users/{uid}/tokens/{tokens[0]['id']}").status_code == 204
    assert api.get("/api/users/me", headers=otto).status_code == 401
    assert api.delete(f"/api/users/{uid}/tokens/{tokens[0]['id']}").status_code == 404
