"""``/api/users``, ``/api/tokens``, ``/api/quota`` and ``/api/events``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hullscan.server import quota
from hullscan.server.api.deps import Admin, PathId, Store, Viewer, api_error, fetch_page, page_of
from hullscan.server.auth import create_token, create_user
from hullscan.server.db.models import ApiToken, Event, User
from hullscan.server.timeutil import iso

router = APIRouter(tags=["admin"])


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=72)
    role: Literal["admin", "operator", "viewer"] = "viewer"


def user_out(u: User) -> dict[str, Any]:
    """Public view of a user (never the hash)."""
    return {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled, "created_at": iso(u.created_at)}


@router.get("/api/users", summary="List users")
def list_users(s: Store, _: Admin) -> list[dict[str, Any]]:
    return [user_out(u) for u in s.scalars(select(User).order_by(User.id))]


@router.post("/api/users", status_code=201, summary="Create a user")
def add_user(body: UserIn, s: Store, _: Admin) -> dict[str, Any]:
    if len(body.password.encode()) > 72:
        raise api_error(422, "InvalidPassword", "password must be at most 72 bytes")
    try:
        return user_out(create_user(s, body.username, body.password, body.role))
    except ValueError as exc:
        raise api_error(409, "Conflict", str(exc)) from None


@router.get("/api/users/me", summary="Who am I")
def me(user: Viewer) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role}


class TokenIn(BaseModel):
    """A name for the new token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)


@router.post("/api/tokens", status_code=201, summary="Create an API token for yourself (shown once)")
def add_token(body: TokenIn, s: Store, user: Viewer) -> dict[str, Any]:
    u = s.get(User, user.id)
    assert u is not None
    return {"token": create_token(s, u, body.name), "name": body.name}


@router.get("/api/tokens", summary="Your API tokens (prefixes only)")
def list_tokens(s: Store, user: Viewer) -> list[dict[str, Any]]:
    rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return [{"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": iso(t.created_at)} for t in rows]


@router.delete("/api/tokens/{token_id}", status_code=204, summary="Revoke one of your API tokens")
def delete_token(token_id: PathId, s: Store, user: Viewer) -> None:
    row = s.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise api_error(404, "NotFound", f"you have no token with id {token_id}")
    s.delete(row)


@router.get("/api/quota", summary="Quota: purchased, used, remaining image scans")
def read_quota(s: Store, _: Viewer) -> dict[str, int]:
    st = quota.status(s)
    return {"purchased": st.purchased, "used": st.used, "remaining": st.remaining}


class QuotaIn(BaseModel):
    """The purchased amount of image scans."""

    model_config = ConfigDict(extra="forbid")
    purchased: int = Field(ge=0, le=100_000_000)


@router.put("/api/quota", summary="Set the purchased quota")
def write_quota(body: QuotaIn, s: Store, _: Admin) -> dict[str, int]:
    st = quota.set_purchased(s, body.purchased)
    return {"purchased": st.purchased, "used": st.used, "remaining": st.remaining}


@router.get("/api/events", summary="Events sent to webhooks (newest first)")
def list_events(s: Store, _: Viewer, kind: str | None = Query(None, max_length=50),
                page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    q = select(Event)
    if kind:
        q = q.where(Event.kind == kind)
    rows, total = fetch_page(s, q, (Event.id.desc(),), page, page_size)
    return page_of([{"id": e.id, "kind": e.kind, "payload": e.payload, "created_at": iso(e.created_at),
                     "delivered": e.delivered} for e in rows], total, page, page_size)
