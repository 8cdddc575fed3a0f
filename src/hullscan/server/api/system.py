"""``/healthz`` (no authentication) and Prometheus ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from hullscan.server.api.deps import RT, Viewer
from hullscan.server.db.migrate import current_revision

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness, store and broker check (no authentication)")
def healthz(rt: RT) -> JSONResponse:
    """``{"status": "ok", "store": "ok", "broker": "ok" | "embedded", "schema": …}``; 503 naming what is down."""
    body: dict[str, Any] = {"status": "ok", "store": "ok", "broker": "embedded"}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        body["schema"] = current_revision(rt.engine)
    except Exception as exc:  # noqa: BLE001 - the answer of a health check
        body["store"] = f"{type(exc).__name__}: {exc}"
    check = getattr(rt.queue, "check", None)
    if callable(check):
        problem = check()
        body["broker"] = problem or "ok"
    down = body["store"] != "ok" or body["broker"] not in ("ok", "embedded")
    if down:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(rt: RT, _: Viewer) -> Response:
    depths, workers = getattr(rt.queue, "depths", None), getattr(rt.queue, "workers", None)
    if callable(depths) and callable(workers):  # distributed mode: the broker's queues and the live workers
        try:
            rt.metrics.cluster(depths(), workers(timeout=1.0))
        except Exception:  # noqa: BLE001 - a broker outage shows in /healthz; the other metrics still render
            rt.metrics.cluster({}, -1)
    body, ctype = rt.metrics.render()
    return Response(body, media_type=ctype)
