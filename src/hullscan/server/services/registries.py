"""Adding, changing, verifying and deleting registries (the API's ``/api/registries`` and the console)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hullscan.server.db.models import Registry
from hullscan.server.providers import DEFAULT_VERSIONS
from hullscan.server.providers.base import ProviderError
from hullscan.server.registries import apply_fields, provider_of
from hullscan.server.runtime import Runtime
from hullscan.server.services import ServiceError

UNLIMITED_WARNING = "rate limit is unlimited: scans may put heavy load on this registry"


def verify(rt: Runtime, row: Registry) -> None:
    """Check reachability and credentials: ServiceError 400 with one of the four provider codes."""
    try:
        provider_of(row, rt.secrets).verify()
    except ProviderError as exc:
        raise ServiceError(400, exc.code, exc.message) from None
    except (AttributeError, TypeError, KeyError, ValueError) as exc:  # JSON of another shape than the type's API
        raise ServiceError(400, "RegistryVersionError", f"{row.type} registry at {row.domain or row.ip}: unexpected answer "
                           f"({type(exc).__name__}); wrong registry type or API version?") from None


def create(s: Session, rt: Runtime, data: dict[str, Any]) -> Registry:
    """Add a registry from validated fields (``rate_limit`` may be "unlimited"), verified before it is stored."""
    if s.scalar(select(Registry).where(Registry.name == data["name"])) is not None:
        raise ServiceError(409, "Conflict", f"a registry named {data['name']!r} already exists")
    data = dict(data)
    data["version"] = data.get("version") or DEFAULT_VERSIONS[data["type"]]
    data["rate_limit"] = 0 if data.get("rate_limit") == "unlimited" else data.get("rate_limit", 10)
    row = Registry()
    apply_fields(row, data, rt.secrets)
    verify(rt, row)
    s.add(row)
    s.flush()
    return row


def editable(s: Session, registry_id: int) -> Registry:
    """The registry with this id unless it is the built-in one (404 / 409)."""
    row = s.get(Registry, registry_id)
    if row is None:
        raise ServiceError(404, "NotFound", f"no registry with id {registry_id}")
    if row.builtin:
        raise ServiceError(409, "BuiltinRegistry", "the built-in default registry can't be changed or deleted")
    return row


def update(s: Session, rt: Runtime, registry_id: int, data: dict[str, Any]) -> Registry:
    """Change some fields (an absent or None password keeps the stored one), verified again."""
    row = editable(s, registry_id)
    data = dict(data)
    if "rate_limit" in data:
        if data["rate_limit"] is None:
            data.pop("rate_limit")
        elif data["rate_limit"] == "unlimited":
            data["rate_limit"] = 0
        elif not 1 <= int(data["rate_limit"]) <= 100_000:
            raise ServiceError(422, "InvalidRateLimit", "rate_limit must be 1..100000 images per hour or 'unlimited'")
    if data.get("name") and s.scalar(select(Registry).where(Registry.name == data["name"], Registry.id != registry_id)):
        raise ServiceError(409, "Conflict", f"a registry named {data['name']!r} already exists")
    apply_fields(row, data, rt.secrets)
    verify(rt, row)
    return row


def delete(s: Session, registry_id: int) -> None:
    """Delete a registry with its repositories (not the built-in one)."""
    s.delete(editable(s, registry_id))


def warnings(row: Registry) -> list[str]:
    """What the user should know about a stored registry."""
    return [UNLIMITED_WARNING] if not row.rate_limit else []
