"""First-start defaults: the settings row, the quota row and the built-in default registry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hullscan.server.db.models import Quota, Registry, SettingsRow
from hullscan.server.scansettings import SETTINGS_ID, ScanSettings

DEFAULT_REGISTRY = "default"
DEFAULT_QUOTA = 1000


def ensure_defaults(session: Session) -> None:
    """Create what a fresh store needs (idempotent)."""
    if session.get(SettingsRow, SETTINGS_ID) is None:
        session.add(SettingsRow(id=SETTINGS_ID, version=1, data=ScanSettings().model_dump()))
    if session.get(Quota, 1) is None:
        session.add(Quota(id=1, purchased=DEFAULT_QUOTA, used=0))
    if session.scalar(select(Registry).where(Registry.builtin.is_(True))) is None:
        # images that reach the server without a configured registry (Harbor scanner API, webhooks) live here
        session.add(Registry(name=DEFAULT_REGISTRY, type="registry", version="v2", builtin=True, rate_limit=0))
    session.flush()
