"""What every console page shares: translations, templates, the session cookie, CSRF tokens and role checks.

Sessions are signed cookies (itsdangerous, key derived from the server's secret key): they carry the user id,
a random nonce and a fragment of the password hash (changing a password ends that user's sessions), expire
after :data:`SESSION_MAX_AGE`, and are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` under https. Every
change (POST) carries a CSRF token — a form field or the ``X-CSRF-Token`` header htmx sends — checked here:
for a logged-in user it is an HMAC of the session's nonce; before login (login and setup forms) it must
equal the random ``hs_csrf`` cookie (double submit).
"""

from __future__ import annotations

import gettext
import hashlib
import hmac
import io
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hullscan.server.api.deps import Principal
from hullscan.server.auth import role_allows
from hullscan.server.runtime import Runtime

HERE = Path(__file__).resolve().parent
PREFIX = "/ui"
LANGS = {"en": "English", "ja": "日本語"}
SESSION_COOKIE = "hs_session"
LANG_COOKIE = "hs_lang"
ANON_CSRF_COOKIE = "hs_csrf"
SESSION_MAX_AGE = 12 * 3600


class LoginRequired(Exception):
    """No (valid) session: the page handler answers with a redirect to the login page."""


class Forbidden(Exception):
    """The user's role does not allow this."""

    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


class CsrfError(Exception):
    """A change without a valid CSRF token."""


# ---------------------------------------------------------------------------------------------- i18n


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang``, compiled from the committed ``.po`` at first use (English: the source strings)."""
    po = HERE / "locale" / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick_language(request: Request) -> str:
    """The user's choice (cookie), else the best ``Accept-Language`` match, else English."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGS:
        return chosen
    best, best_q = "en", -1.0
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in LANGS and q > best_q:
            best, best_q = lang, q
    return best


@cache
def environment(lang: str) -> Environment:
    """A Jinja2 environment whose ``_``/``gettext``/``ngettext`` speak ``lang``."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["LANGS"] = LANGS
    env.globals["PREFIX"] = PREFIX
    return env


def gettext_for(request: Request) -> Any:
    """``_`` in ``request``'s language, for messages made in Python code."""
    return translations(pick_language(request)).gettext


def render(request: Request, name: str, ctx: dict[str, Any] | None = None, status: int = 200,
           user: Principal | None = None) -> HTMLResponse:
    """Render template ``name`` in the request's language."""
    lang = pick_language(request)
    context: dict[str, Any] = {"request": request, "lang": lang, "user": user, "path": request.url.path,
                               "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                               "csrf": csrf_token(request), "can_operate": bool(user and role_allows(user.role, "operator")),
                               "is_admin": bool(user and role_allows(user.role, "admin"))}
    if user is not None:
        from hullscan.server.vulnupdate import state

        rt = runtime(request)
        db = state(rt.vuln_db_path, rt.now())
        age = db.age_days(rt.now())
        context.update(db=db, db_age_days=f"{age:.0f}" if age is not None else "")
    context.update(ctx or {})
    html = environment(lang).get_template(name).render(context)
    resp = HTMLResponse(html, status_code=status)
    if not request.cookies.get(ANON_CSRF_COOKIE) and getattr(request.state, "anon_csrf", None):
        resp.set_cookie(ANON_CSRF_COOKIE, request.state.anon_csrf, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=PREFIX)
    return resp


# ---------------------------------------------------------------------------------------------- session


def runtime(request: Request) -> Runtime:
    """The server runtime."""
    rt: Runtime = request.app.state.runtime
    return rt


def _serializer(rt: Runtime) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(rt.secrets.derive("hullscan console session"), salt="session")


def _pw_tag(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def start_session(request: Request, response: Response, user_id: int, password_hash: str) -> None:
    """Set the session cookie for a user who just logged in."""
    value = _serializer(runtime(request)).dumps({"u": user_id, "n": secrets.token_urlsafe(16), "h": _pw_tag(password_hash)})
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def end_session(response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def _session_data(request: Request) -> dict[str, Any] | None:
    if hasattr(request.state, "session_data"):
        cached: dict[str, Any] | None = request.state.session_data
        return cached
    from itsdangerous import BadSignature

    raw = request.cookies.get(SESSION_COOKIE, "")
    data: dict[str, Any] | None = None
    if raw:
        try:
            loaded = _serializer(runtime(request)).loads(raw, max_age=SESSION_MAX_AGE)
            data = loaded if isinstance(loaded, dict) else None
        except BadSignature:  # also SignatureExpired
            data = None
    request.state.session_data = data
    return data


def session_user(request: Request) -> Principal | None:
    """The logged-in user of this request, or None."""
    if hasattr(request.state, "console_user"):
        cached: Principal | None = request.state.console_user
        return cached
    from hullscan.server.db.models import User

    data = _session_data(request)
    user: Principal | None = None
    if data and isinstance(data.get("u"), int):
        with runtime(request).session() as s:
            row = s.get(User, data["u"])
            if row is not None and not row.disabled and hmac.compare_digest(_pw_tag(row.password_hash), str(data.get("h"))):
                user = Principal(row.id, row.username, row.role)
    request.state.console_user = user
    return user


def page_user(request: Request) -> Principal:
    """Dependency of every page: the logged-in user, else :class:`LoginRequired`."""
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    return user


def need(user: Principal, role: str) -> None:
    """:class:`Forbidden` unless ``user`` has at least ``role`` (the API's roles)."""
    if not role_allows(user.role, role):
        raise Forbidden(role)


# ---------------------------------------------------------------------------------------------- CSRF


def csrf_token(request: Request) -> str:
    """The token forms and htmx requests of this page must send back."""
    data = _session_data(request)
    if data and data.get("n"):
        key = runtime(request).secrets.derive("hullscan console csrf")
        return hmac.new(key, str(data["n"]).encode(), hashlib.sha256).hexdigest()
    existing = request.cookies.get(ANON_CSRF_COOKIE) or getattr(request.state, "anon_csrf", None)
    if not existing:
        existing = secrets.token_urlsafe(24)
        request.state.anon_csrf = existing
    return str(existing)


async def check_csrf(request: Request) -> None:
    """Dependency of every change: the token from the form field ``csrf`` or the ``X-CSRF-Token`` header."""
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else ""
    data = _session_data(request)
    if data and data.get("n"):
        expected = csrf_token(request)
    else:
        expected = request.cookies.get(ANON_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfError()


def redirect(url: str, request: Request | None = None) -> Response:
    """A 303 to ``url`` (for htmx requests: an ``HX-Redirect``)."""
    if request is not None and request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """A local path to go back to (never another host)."""
    if value and (value.startswith(PREFIX + "/") or value == "/docs") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/dashboard"
