"""``/healthz`` (no authentication) and Prometheus ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import text

from hullscan.server.api.deps import RT, Viewer
from hullscan.server.db.migrate import current_revision

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness and store check (no authentication)")
def healthz(rt: RT) -> dict[str, Any]:
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "schema": current_revision(rt.engine)}


@router.get("/metrics", summary="Prometheus metrics")
def metrics(rt: RT, _: Viewer) -> Response:
    body, ctype = rt.metrics.render()
    return Response(body, media_type=ctype)
