"""``/api/users``, ``/api/tokens``, ``/api/quota`` and ``/api/events``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hullscan.server import quota
from hullscan.server.api.deps import RT, Admin, PathId, Store, Viewer, api_error, fetch_page, get_or_404, page_of
from hullscan.server.auth import LastAdmin, change_password, create_token, create_user, delete_user, login, update_user
from hullscan.server.db.models import ApiToken, Event, User
from hullscan.server.logins import LoginThrottled
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
    """A name for the new token, and optionally how many days it stays valid (default: until revoked)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


def token_out(t: ApiToken) -> dict[str, Any]:
    """Public view of a token (its prefix, never the token)."""
    return {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at)}


@router.post("/api/tokens", status_code=201, summary="Create an API token for yourself (shown once)")
def add_token(body: TokenIn, s: Store, rt: RT, user: Viewer) -> dict[str, Any]:
    u = s.get(User, user.id)
    assert u is not None
    expires = rt.now() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return {"token": create_token(s, u, body.name, expires), "name": body.name, "expires_at": iso(expires)}


@router.get("/api/tokens", summary="Your API tokens (prefixes only)")
def list_tokens(s: Store, user: Viewer) -> list[dict[str, Any]]:
    rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return [token_out(t) for t in rows]


@router.delete("/api/tokens/{token_id}", status_code=204, summary="Revoke one of your API tokens")
def delete_token(token_id: PathId, s: Store, user: Viewer) -> None:
    row = s.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise api_error(404, "NotFound", f"you have no token with id {token_id}")
    s.delete(row)


class UserUpdate(BaseModel):
    """Disable/enable a user or change their role."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "operator", "viewer"] | None = None
    disabled: bool | None = None


def _user(s: Any, user_id: int) -> User:
    return get_or_404(s, User, user_id, "user")


@router.patch("/api/users/{user_id}", summary="Disable or enable a user, or change their role (admin)")
def patch_user(user_id: PathId, body: UserUpdate, s: Store, _: Admin) -> dict[str, Any]:
    try:
        return user_out(update_user(s, _user(s, user_id), body.role, body.disabled))
    except LastAdmin as exc:
        raise api_error(409, "LastAdmin", f"{exc}: make another admin first") from None


@router.delete("/api/users/{user_id}", status_code=204, summary="Delete a user and their tokens (admin)")
def remove_user(user_id: PathId, s: Store, _: Admin) -> None:
    try:
        delete_user(s, _user(s, user_id))
    except LastAdmin as exc:
        raise api_error(409, "LastAdmin", f"{exc}: make another admin first") from None


class PasswordIn(BaseModel):
    """The current password and the new one."""

    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=72)


@router.put("/api/users/me/password", status_code=204, summary="Change your own password")
def set_my_password(body: PasswordIn, request: Request, s: Store, rt: RT, user: Viewer) -> None:
    if len(body.new_password.encode()) > 72:
        raise api_error(422, "InvalidPassword", "password must be at most 72 bytes")
    try:
        ok = login(s, rt.logins, user.username, body.current_password, request.client.host if request.client else "")
    except LoginThrottled as exc:
        raise HTTPException(429, {"code": "TooManyLogins", "message": str(exc)},
                            headers={"Retry-After": str(int(exc.retry_after + 0.999))}) from None
    if ok is None or ok.id != user.id:
        raise api_error(403, "WrongPassword", "the current password is not right")
    change_password(s, ok, body.new_password)


@router.get("/api/users/{user_id}/tokens", summary="A user's API tokens (admin)")
def user_tokens(user_id: PathId, s: Store, _: Admin) -> list[dict[str, Any]]:
    _user(s, user_id)
    return [token_out(t) for t in s.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))]


@router.delete("/api/users/{user_id}/tokens/{token_id}", status_code=204, summary="Revoke a user's API token (admin)")
def revoke_user_token(user_id: PathId, token_id: PathId, s: Store, _: Admin) -> None:
    row = s.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise api_error(404, "NotFound", f"user {user_id} has no token with id {token_id}")
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
