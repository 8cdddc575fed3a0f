"""The console: server-rendered pages (Jinja2 + htmx) under ``/ui``, calling the same service functions as the
REST API (never the API over HTTP). :func:`mount` is the one line app.py needs."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hullscan.server.web.core import HERE, PREFIX, CsrfError, Forbidden, LoginRequired, render, session_user


def mount(app: FastAPI) -> None:
    """Add the console's routes, static files and error pages to ``app``."""
    from hullscan.server.web import views_admin, views_auth, views_ops, views_security

    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for module in (views_auth, views_security, views_ops, views_admin):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=303)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        from urllib.parse import quote

        target = f"{PREFIX}/login?next={quote(request.url.path + ('?' + request.url.query if request.url.query else ''))}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return render(request, "error.html", {"title": "403", "message_key": "forbidden", "needed": exc.needed},
                      status=403, user=session_user(request))

    @app.exception_handler(CsrfError)
    async def csrf_error(request: Request, _: CsrfError) -> HTMLResponse:
        return render(request, "error.html", {"title": "403", "message_key": "csrf"}, status=403, user=session_user(request))


