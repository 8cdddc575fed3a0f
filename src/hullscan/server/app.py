"""The FastAPI application: every router included here, errors as ``{"code", "message"}``, never a 5xx for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hullscan.server.runtime import Runtime
from hullscan.server.services import ServiceError

log = logging.getLogger("hullscan.server.app")


def _detail(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict) and "code" in detail:
        return detail
    return {"code": "HTTPError", "message": str(detail)}


def _docs(app: FastAPI) -> None:
    """``/openapi.json`` and ``/docs`` behind authentication too (a browser gets a Basic prompt)."""
    from fastapi import Depends, HTTPException
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    from hullscan.server.api.deps import current_user, runtime

    def docs_user(request: Request) -> None:
        from hullscan.server.web.core import session_user

        if session_user(request) is not None:  # a logged-in console session
            return
        if request.url.path == "/docs" and "authorization" not in request.headers:
            from hullscan.server.web.core import LoginRequired

            raise LoginRequired()  # a browser: the console's login page, then back here
        try:
            current_user(request, runtime(request), None)
        except HTTPException as exc:
            raise HTTPException(exc.status_code, exc.detail, headers={"WWW-Authenticate": 'Basic realm="hullscan"'}) from None

    def _bearer(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            from fastapi.security import HTTPAuthorizationCredentials

            creds = HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:].strip())
            current_user(request, runtime(request), creds)
        else:
            docs_user(request)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(_bearer)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(_bearer)])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="hullscan security center API",
                                   swagger_js_url="/ui/static/vendor/swagger-ui-bundle.js",
                                   swagger_css_url="/ui/static/vendor/swagger-ui.css",
                                   swagger_favicon_url="/ui/static/vendor/favicon-32x32.png")


#: largest request body accepted (settings with a 100,000-repository scope are ~1 MB)
MAX_BODY = 8 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: the body is read up front (at most :data:`MAX_BODY`, else 413) and refused with 422 when it
    or the query string holds a NUL character (PostgreSQL can't store one; on SQLite it only hid data)."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._error(send, 413, "TooLarge", f"request body over {self.limit // (1024 * 1024)} MiB")
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await self._error(send, 422, "InvalidRequest", "the query string contains a NUL character")
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body"))
            if size > self.limit:
                await self._error(send, 413, "TooLarge", f"request body over {self.limit // (1024 * 1024)} MiB")
                return
        body = b"".join(chunks)
        if b"\x00" in body or b"\\u0000" in body.lower():
            await self._error(send, 422, "InvalidRequest", "the request body contains a NUL character")
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _error(send: Any, status: int, code: str, message: str) -> None:
        await JSONResponse({"code": code, "message": message}, status_code=status)({"type": "http"}, None, send)  # type: ignore[arg-type]


def create_app(rt: Runtime) -> FastAPI:
    """The API over ``rt`` (queue and scheduler are started by the caller)."""
    from hullscan import __version__
    from hullscan.server import web
    from hullscan.server.api import (
        admin,
        assets,
        clusters,
        findings,
        harbor,
        hooks,
        registries,
        settings,
        system,
        tasks,
    )

    app = FastAPI(title="hullscan security center", version=str(__version__), docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Registries, asset sync, scan tasks, findings and settings of a hullscan server.")
    app.state.runtime = rt
    _docs(app)
    for module in (system, registries, assets, findings, settings, tasks, admin, hooks, harbor, clusters):
        app.include_router(module.router)
    web.mount(app)  # the console under /ui (and / redirects there)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_detail(exc.detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"code": "InvalidRequest", "message": f"{where}: {first.get('msg')}",
                             "errors": [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))} for e in errors]},
                            status_code=422)

    @app.exception_handler(IntegrityError)
    async def conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", exc.orig)
        return JSONResponse({"code": "Conflict", "message": "the change conflicts with existing data"}, status_code=409)

    app.add_middleware(BodyLimit)
    rt.metrics.track_queue(lambda: float(rt.queue.depth()) if rt.queue is not None else 0.0)
    return app
