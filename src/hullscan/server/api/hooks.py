"""``/api/webhooks/{harbor,quay,gitlab,registry}``: push notifications that trigger a scan of the pushed digest.

Authenticate with ``Authorization: Bearer <API token>`` (Harbor's "auth header") or ``?token=`` for
registries that can't send headers (Quay, Distribution notifications without headers).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from hullscan.server.api.deps import RT, Operator, api_error
from hullscan.server.pushhooks import PushError, parse_distribution, parse_harbor, resolve_quay, schedule

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 1_000_000:
        raise api_error(413, "TooLarge", "notification larger than 1 MB")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise api_error(400, "InvalidJSON", "the notification body is not JSON") from None
    except RecursionError:  # a megabyte of "[[[[..." nests deeper than the parser goes
        raise api_error(400, "InvalidJSON", "the notification body nests too deeply") from None


def _run(rt: Any, user: Any, source: str, fn: Any, body: Any) -> dict[str, Any]:
    try:
        return schedule(rt, fn(body), source, user.username)
    except PushError as exc:
        raise api_error(422, "InvalidNotification", f"{source}: {exc}") from None


@router.post("/harbor", status_code=202, summary="Harbor push webhook (PUSH_ARTIFACT)")
async def harbor(request: Request, rt: RT, user: Operator) -> dict[str, Any]:
    return await run_in_threadpool(_run, rt, user, "harbor", parse_harbor, await _body(request))


@router.post("/quay", status_code=202, summary="Quay repository push notification")
async def quay(request: Request, rt: RT, user: Operator) -> dict[str, Any]:
    return await run_in_threadpool(_run, rt, user, "quay", lambda b: resolve_quay(rt, b), await _body(request))


@router.post("/gitlab", status_code=202, summary="GitLab container registry push notification (Distribution envelope)")
async def gitlab(request: Request, rt: RT, user: Operator) -> dict[str, Any]:
    return await run_in_threadpool(_run, rt, user, "gitlab", parse_distribution, await _body(request))


@router.post("/registry", status_code=202, summary="Distribution registry push notification")
async def registry(request: Request, rt: RT, user: Operator) -> dict[str, Any]:
    return await run_in_threadpool(_run, rt, user, "registry", parse_distribution, await _body(request))
