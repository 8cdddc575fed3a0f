"""Events: stored, then POSTed as JSON to every configured webhook URL (best effort, result recorded)."""

from __future__ import annotations

import logging
from typing import Any

from hullscan.server.db.models import Event
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import get_settings

log = logging.getLogger("hullscan.server.webhooks")


def _shown(url: str) -> str:
    """``url`` without user info and query (either may carry a credential) for the log."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"
    except ValueError:
        return "<invalid URL>"


def emit(rt: Runtime, kind: str, payload: dict[str, Any]) -> int:
    """Store an event and deliver it to the webhook URLs of the settings; returns the event id."""
    import httpx

    with rt.session() as s:
        settings, _ = get_settings(s)
        event = Event(kind=kind, payload=payload, created_at=rt.now())
        s.add(event)
        s.flush()
        event_id = event.id
        created = event.created_at
    body = {"id": event_id, "kind": kind, "created_at": created.isoformat(), "payload": payload}
    delivered: dict[str, Any] = {}
    for url in settings.webhook_urls:
        try:
            resp = httpx.post(url, json=body, timeout=10.0)
            delivered[url] = resp.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            delivered[url] = f"{type(exc).__name__}"
            log.warning("webhook %s failed: %s", _shown(url), type(exc).__name__)
    with rt.session() as s:
        row = s.get(Event, event_id)
        if row is not None:
            row.delivered = delivered
    return event_id
