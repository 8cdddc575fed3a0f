"""The FastAPI application: every router included here, errors as ``{"code", "message"}``, never a 5xx for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
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


class BodyRefused(HTTPException):
    """A request body over the limit (413) or holding a NUL character (422), found while it streams in (a
    FastAPI HTTPException, so the body parser passes it through unchanged)."""


class BodyLimit:
    """ASGI middleware guarding request bodies: the caller is authenticated *before* any body byte is read
    (an anonymous upload is answered 401 at once and costs no memory), a declared size over :data:`MAX_BODY` is
    413 at once, and the body then streams through to the handler with its size counted and NUL characters
    (PostgreSQL can't store one; on SQLite it only hid data) refused as they arrive. The path and query string are
    refused with 422 when they hold a NUL."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._error(send, 413, "TooLarge", f"request body over {self.limit // (1024 * 1024)} MiB", scope)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"%00" in raw_path or "\x00" in scope.get("path", ""):
            await self._error(send, 422, "InvalidRequest", "the path contains a NUL character", scope)
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await self._error(send, 422, "InvalidRequest", "the query string contains a NUL character", scope)
            return
        # API callers authenticate per request (token / Basic): checked before their body is read. The console's
        # forms (login, setup, cookie sessions with CSRF) are small and authenticated by its own views.
        if (int(declared) > 0 or b"transfer-encoding" in headers) and str(scope.get("path", "")).startswith("/api/"):
            from starlette.concurrency import run_in_threadpool
            from starlette.requests import Request as StarletteRequest

            from hullscan.server.api.deps import authenticate

            try:
                await run_in_threadpool(authenticate, StarletteRequest(scope), scope["app"].state.runtime)
            except HTTPException as exc:
                response = JSONResponse(_detail(exc.detail), status_code=exc.status_code, headers=exc.headers)
                await response({"type": "http"}, None, send)  # type: ignore[arg-type]
                return
        size, tail = 0, b""
        limit = self.limit

        async def guarded() -> Any:
            nonlocal size, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyRefused(413, {"code": "TooLarge", "message": f"request body over {limit // (1024 * 1024)} MiB"})
                window = (tail + chunk).lower()
                if b"\x00" in window or b"\\u0000" in window:
                    raise BodyRefused(422, {"code": "InvalidRequest", "message": "the request body contains a NUL character"})
                tail = window[-5:]
            return message

        await self.app(scope, guarded, send)

    @staticmethod
    async def _error(send: Any, status: int, code: str, message: str, scope: Any = None) -> None:
        from hullscan.server.api import harbor

        if scope is not None and str(scope.get("path", "")).startswith(harbor.PREFIX + "/"):
            # the scanner adapter spec: invalid requests are 400 with its error body
            response = harbor.error_response(400 if status == 422 else status, message)
        else:
            response = JSONResponse({"code": code, "message": message}, status_code=status)
        await response({"type": "http"}, None, send)  # type: ignore[arg-type]


class ErrorItem(BaseModel):
    """One invalid field of a request."""

    loc: list[str] = Field(description="where: body, query or path, then the field names")
    msg: str


class ErrorBody(BaseModel):
    """Every error answer of the API (the Harbor scanner adapter answers with its spec's own error body)."""

    code: str = Field(description="a stable name of the error, e.g. NotFound, Forbidden, InvalidRequest, StoreBusy")
    message: str = Field(description="what went wrong, for people")
    errors: list[ErrorItem] | None = Field(default=None, description="invalid request fields (InvalidRequest only)")


def _error_doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: documented on every operation: the error answers any of them can give
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error_doc("missing or invalid credentials (`WWW-Authenticate` names the scheme)"),
    403: _error_doc("the caller's role does not allow this"),
    404: _error_doc("no such object"),
    409: _error_doc("the change conflicts with the current state (stale version, duplicate name, last admin...)"),
    413: _error_doc("request body over 8 MiB"),
    422: _error_doc("invalid request: `errors` lists each invalid field"),
    429: _error_doc("too many failed logins (`Retry-After` says when to try again)"),
    503: _error_doc("the store is busy: nothing was changed, retry after `Retry-After` seconds"),
}


def operation_ids() -> Any:
    """Readable operation ids: the handler's name; a name taken already gets the resource it acts on appended
    (``set_scope``, ``set_scope_clusters``), so ids stay unique whatever routers are added."""
    used: set[str] = set()

    def operation_id(route: Any) -> str:
        name = str(route.name)
        if name in used:
            resource = next((part for part in str(route.path).split("/") if part and part != "api" and "{" not in part), "")
            name = f"{name}_{resource}".replace("-", "_")
        used.add(name)
        return name

    return operation_id


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
                  description="Registries, asset sync, scan tasks, findings and settings of a hullscan server.",
                  responses=ERROR_RESPONSES, generate_unique_id_function=operation_ids())
    app.state.runtime = rt
    _docs(app)
    for module in (system, registries, assets, findings, settings, tasks, admin, hooks, harbor, clusters):
        app.include_router(module.router)
    web.mount(app)  # the console under /ui (and / redirects there)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = _detail(exc.detail)
        if isinstance(exc, BodyRefused) and request.url.path.startswith(harbor.PREFIX + "/"):
            return harbor.error_response(400 if exc.status_code == 422 else exc.status_code, body["message"])
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if request.url.path.startswith(harbor.PREFIX + "/"):  # the scanner adapter spec: 400 and its error body
            return harbor.error_response(400, f"{where}: {first.get('msg')}")
        return JSONResponse({"code": "InvalidRequest", "message": f"{where}: {first.get('msg')}",
                             "errors": [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))} for e in errors]},
                            status_code=422)

    @app.exception_handler(IntegrityError)
    async def conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", exc.orig)
        return JSONResponse({"code": "Conflict", "message": "the change conflicts with existing data"}, status_code=409)

    @app.exception_handler(OperationalError)
    async def store_error(_: Request, exc: OperationalError) -> JSONResponse:
        from hullscan.server.db.session import is_busy

        if is_busy(exc):
            log.warning("store busy: %s", exc.orig)
            return JSONResponse({"code": "StoreBusy", "message": "the store is busy; nothing was changed, try again"},
                                status_code=503, headers={"Retry-After": "1"})
        log.error("store error: %s", exc.orig)
        return JSONResponse({"code": "StoreError", "message": "the store failed; nothing was changed"}, status_code=500)

    app.add_middleware(BodyLimit)
    rt.metrics.track_queue(lambda: float(rt.queue.depth()) if rt.queue is not None else 0.0)
    return app
