"""``/api/registries``: add (verified), list, show, update, delete registries. Secrets are never returned."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select

from hullscan.server.api.deps import RT, Admin, PathId, Store, Viewer, api_error, get_or_404
from hullscan.server.db.models import Registry, Repository
from hullscan.server.services import registries as svc
from hullscan.server.timeutil import iso

router = APIRouter(prefix="/api/registries", tags=["registries"])

#: a DNS name: dot-separated labels of ASCII letters, digits and inner hyphens
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
UNLIMITED_WARNING = svc.UNLIMITED_WARNING


class NamespaceIn(BaseModel):
    """A Quay organisation or GitLab group with its token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    token: str = Field(default="", max_length=4096)


class RegistryIn(BaseModel):
    """Fields of a registry (password and tokens are write-only)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    type: Literal["harbor", "quay", "gitlab", "registry"]
    version: str = Field(default="", max_length=20, description="harbor: v2 or v1 (Harbor 1.x); quay: v1; gitlab: v4; registry: v2")
    protocol: Literal["http", "https"] = "https"
    network_type: Literal["public", "private", "vpc"] = "public"
    region: str = Field(default="", max_length=100)
    ip: str = Field(default="", max_length=100)
    port: int | None = Field(default=None, ge=1, le=65535)
    domain: str = Field(default="", max_length=255)
    rate_limit: int | Literal["unlimited"] = Field(default=10, description="images per hour, or 'unlimited'")
    username: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=4096)
    namespaces: list[NamespaceIn] | None = Field(default=None, max_length=200, description="quay organisations / gitlab groups")

    @model_validator(mode="after")
    def _check(self) -> "RegistryIn":
        if not (self.domain or self.ip):
            raise ValueError("a domain or an IP is required")
        if self.domain and not _HOSTNAME.fullmatch(self.domain):
            raise ValueError(f"invalid domain {self.domain!r}: letters, digits, '-' and '.' only (the port is its own field)")
        if self.ip:
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                raise ValueError(f"invalid IP address {self.ip!r}") from None
        if isinstance(self.rate_limit, int) and not 1 <= self.rate_limit <= 100_000:
            raise ValueError("rate_limit must be 1..100000 images per hour or 'unlimited'")
        return self


class RegistryUpdate(BaseModel):
    """Partial update; a missing password keeps the stored one."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=20)
    protocol: Literal["http", "https"] | None = None
    network_type: Literal["public", "private", "vpc"] | None = None
    region: str | None = Field(default=None, max_length=100)
    rate_limit: int | Literal["unlimited"] | None = None
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=4096)
    namespaces: list[NamespaceIn] | None = Field(default=None, max_length=200)


def registry_out(row: Registry, repos: int = 0) -> dict[str, Any]:
    """The public view of a registry (no password, no tokens)."""
    return {
        "id": row.id, "name": row.name, "type": row.type, "version": row.version, "protocol": row.protocol,
        "network_type": row.network_type, "region": row.region, "ip": row.ip, "port": row.port, "domain": row.domain,
        "rate_limit": row.rate_limit if row.rate_limit else "unlimited", "username": row.username,
        "has_password": bool(row.password_enc), "builtin": row.builtin, "repositories": repos,
        "created_at": iso(row.created_at), "last_sync_at": iso(row.last_sync_at),
    }


def _get(s: Any, registry_id: int) -> Registry:
    return get_or_404(s, Registry, registry_id, "registry")


@router.get("", summary="List registries")
def list_registries(s: Store, _: Viewer) -> list[dict[str, Any]]:
    counts = dict(s.execute(select(Repository.registry_id, func.count()).group_by(Repository.registry_id)).all())
    return [registry_out(r, counts.get(r.id, 0)) for r in s.scalars(select(Registry).order_by(Registry.id))]


@router.post("", status_code=201, summary="Add a registry (credentials are verified first)")
def add_registry(body: RegistryIn, s: Store, rt: RT, user: Admin) -> dict[str, Any]:
    data = body.model_dump()
    data["namespaces"] = [n.model_dump() for n in body.namespaces] if body.namespaces is not None else None
    row = svc.create(s, rt, data)
    out = registry_out(row)
    out["warnings"] = svc.warnings(row)
    return out


@router.get("/{registry_id}", summary="Show a registry")
def get_registry(registry_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    return registry_out(_get(s, registry_id))


@router.put("/{registry_id}", summary="Update a registry (re-verified)")
def update_registry(registry_id: PathId, body: RegistryUpdate, s: Store, rt: RT, _: Admin) -> dict[str, Any]:
    _get(s, registry_id)
    row = svc.update(s, rt, registry_id, body.model_dump(exclude_unset=True))
    out = registry_out(row)
    out["warnings"] = svc.warnings(row)
    return out


@router.delete("/{registry_id}", status_code=204, summary="Delete a registry (not the built-in one)")
def delete_registry(registry_id: PathId, s: Store, _: Admin) -> None:
    row = _get(s, registry_id)
    if row.builtin:
        raise api_error(409, "BuiltinRegistry", "the built-in default registry can't be deleted")
    s.delete(row)


@router.post("/{registry_id}/verify", summary="Check a registry's reachability and credentials again")
def verify_registry(registry_id: PathId, s: Store, rt: RT, _: Admin) -> dict[str, Any]:
    row = _get(s, registry_id)
    if row.builtin:
        raise api_error(409, "BuiltinRegistry", "the built-in default registry has no connection to verify")
    svc.verify(rt, row)
    return {"ok": True}
