"""First run (create the first administrator), login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from hullscan.server.auth import create_user, user_for_password
from hullscan.server.web import setup
from hullscan.server.web.core import (
    LANG_COOKIE,
    LANGS,
    PREFIX,
    check_csrf,
    end_session,
    gettext_for,
    redirect,
    render,
    runtime,
    safe_next,
    session_user,
    start_session,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Csrf = Depends(check_csrf)


@router.get("/")
def home(request: Request) -> Response:
    with runtime(request).session() as s:
        if setup.needs_setup(s):
            return redirect(PREFIX + "/setup")
    if session_user(request) is None:
        return redirect(PREFIX + "/login")
    return redirect(PREFIX + "/dashboard")


def _setup_allowed(request: Request) -> bool:
    return setup.is_loopback(request.client.host if request.client else None)


@router.get("/setup")
def setup_page(request: Request) -> Response:
    with runtime(request).session() as s:
        if not setup.needs_setup(s):
            return redirect(PREFIX + "/login")
    return render(request, "setup.html", {"title": "setup", "loopback": _setup_allowed(request)})


@router.post("/setup", dependencies=[Csrf])
def setup_submit(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
                 password2: Annotated[str, Form()], setup_token: Annotated[str, Form()] = "") -> Response:
    _ = gettext_for(request)
    rt = runtime(request)
    errors: list[str] = []
    with rt.session() as s:
        if not setup.needs_setup(s):
            return redirect(PREFIX + "/login")
        if not _setup_allowed(request) and not setup.token_ok(s, setup_token.strip()):
            errors.append(_("From another machine, the one-time setup token printed in the server log is required."))
        if len(password) < 8:
            errors.append(_("The password must have at least 8 characters."))
        elif len(password.encode()) > 72:
            errors.append(_("The password must be at most 72 bytes."))
        if password != password2:
            errors.append(_("The two passwords differ."))
        if not username.strip():
            errors.append(_("The user name must not be empty."))
        if not errors:
            user = create_user(s, username.strip(), password, "admin")
            setup.finish_setup(s)
            user_id, pw_hash = user.id, user.password_hash
    if errors:
        return render(request, "setup.html", {"title": "setup", "loopback": _setup_allowed(request), "errors": errors,
                                              "username": username}, status=422)
    resp = RedirectResponse(PREFIX + "/dashboard", status_code=303)
    start_session(request, resp, user_id, pw_hash)
    return resp


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    with runtime(request).session() as s:
        if setup.needs_setup(s):
            return redirect(PREFIX + "/setup")
    return render(request, "login.html", {"title": "login", "next": safe_next(next)})


@router.post("/login", dependencies=[Csrf])
def login_submit(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
                 next: Annotated[str, Form()] = "") -> Response:
    _ = gettext_for(request)
    with runtime(request).session() as s:
        user = user_for_password(s, username, password)
        ids = (user.id, user.password_hash) if user is not None else None
    if ids is None:
        return render(request, "login.html", {"title": "login", "next": safe_next(next), "username": username,
                                              "errors": [_("Wrong user name or password.")]}, status=401)
    resp = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, resp, *ids)
    return resp


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request) -> Response:
    resp = RedirectResponse(PREFIX + "/login", status_code=303)
    end_session(resp)
    return resp


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "") -> Response:
    resp = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/",
                        secure=request.url.scheme == "https")
    return resp
