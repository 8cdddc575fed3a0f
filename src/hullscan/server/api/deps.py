"""Shared API dependencies: the runtime, a store session, the authenticated user and role checks, errors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from sqlalchemy.orm import Session

from hullscan.server.auth import role_allows, user_for_password, user_for_token
from hullscan.server.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="API token (`hullscan admin create` prints the first one)")


def runtime(request: Request) -> Runtime:
    """The server runtime."""
    rt: Runtime = request.app.state.runtime
    return rt


def session(rt: Annotated[Runtime, Depends(runtime)]) -> Iterator[Session]:
    """A store session, committed when the handler returns normally."""
    with rt.session() as s:
        yield s


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    id: int
    username: str
    role: str


def api_error(status: int, code: str, message: str) -> HTTPException:
    """An HTTP error with the ``{"code", "message"}`` body."""
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def current_user(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``, ``Authorization: Basic``, or ``?token=`` on webhooks."""
    header = request.headers.get("authorization", "")
    with rt.session() as s:
        user = None
        if token is not None:
            user = user_for_token(s, token.credentials)
        elif header.lower().startswith("basic "):
            try:
                name, _, pw = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                name, pw = "", ""
            user = user_for_password(s, name, pw) if name else None
        elif request.url.path.startswith("/api/webhooks/") and request.query_params.get("token"):
            user = user_for_token(s, request.query_params["token"])
        if user is None:
            raise HTTPException(
                status_code=401,
                detail={"code": "Unauthorized", "message": "missing or invalid credentials (API token or username/password)"},
                headers={"WWW-Authenticate": 'Bearer realm="hullscan"'},
            )
        return Principal(user.id, user.username, user.role)


def require(role: str) -> Callable[..., Principal]:
    """A dependency that lets only users of at least ``role`` through."""

    def check(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not role_allows(user.role, role):
            raise api_error(403, "Forbidden", f"this needs the {role} role; {user.username!r} is {user.role}")
        return user

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Store = Annotated[Session, Depends(session)]
RT = Annotated[Runtime, Depends(runtime)]


T = TypeVar("T")


def get_or_404(s: Session, model: type[T], row_id: Any, what: str) -> T:
    """The row of ``model`` with ``row_id``, or a 404 naming ``what``."""
    row = s.get(model, row_id)
    if row is None:
        raise api_error(404, "NotFound", f"no {what} with id {row_id}")
    return row


def fetch_page(s: Session, q: Any, order: tuple[Any, ...], page: int, page_size: int) -> tuple[list[Any], int]:
    """One page of the rows of select ``q`` in ``order``, and how many rows there are in all."""
    from sqlalchemy import func, select

    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = s.scalars(q.order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total)


def page_of(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    """A pagination envelope."""
    return {"items": items, "total": total, "page": page, "page_size": page_size}


#: largest id accepted anywhere (keeps values inside a signed 64-bit SQL integer)
ID_MAX = 2**62
PathId = Annotated[int, Path(ge=1, le=ID_MAX)]
QueryId = Annotated[int | None, Query(ge=1, le=ID_MAX)]
BodyId = Annotated[int, Field(ge=1, le=ID_MAX)]
