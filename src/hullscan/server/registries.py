"""Registry entries: turning stored rows (with encrypted secrets) into provider connections, and back."""

from __future__ import annotations

from typing import Any

from hullscan.server.crypto import SecretBox, SecretKeyError
from hullscan.server.db.models import Registry
from hullscan.server.providers import provider_for
from hullscan.server.providers.base import FAILED_TO_VERIFY, Connection, Namespace, Provider, ProviderError


def connection_for(row: Registry, box: SecretBox, timeout: float = 15.0) -> Connection:
    """The decrypted connection settings of a registry row (``timeout``: seconds per request)."""
    try:
        namespaces = box.decrypt_json(row.namespaces_enc) or []
        password = box.decrypt(row.password_enc)
    except SecretKeyError as exc:
        raise ProviderError(FAILED_TO_VERIFY, f"registry {row.name!r}: {exc}") from None
    return Connection(
        type=row.type,
        version=row.version,
        protocol=row.protocol,
        host=row.domain or row.ip,
        port=row.port,
        username=row.username,
        password=password,
        namespaces=tuple(Namespace(str(n["name"]), str(n.get("token", ""))) for n in namespaces),
        timeout=timeout,
    )


def provider_of(row: Registry, box: SecretBox, timeout: float = 15.0) -> Provider:
    """The provider for a registry row."""
    return provider_for(connection_for(row, box, timeout))


def apply_fields(row: Registry, data: dict[str, Any], box: SecretBox) -> None:
    """Copy API fields onto a row, encrypting the password and namespace tokens (absent secrets stay)."""
    for key in ("name", "type", "version", "protocol", "network_type", "region", "ip", "port", "domain", "username"):
        if key in data and data[key] is not None:
            setattr(row, key, data[key])
    if "rate_limit" in data:
        row.rate_limit = data["rate_limit"]
    if data.get("password") is not None:
        row.password_enc = box.encrypt(data["password"])
    if data.get("namespaces") is not None:
        row.namespaces_enc = box.encrypt_json([{"name": n["name"], "token": n.get("token", "")} for n in data["namespaces"]])


def pull_options(row: Registry | None, box: SecretBox) -> dict[str, Any]:
    """Keyword arguments of :class:`hullscan.options.RegistryOptions` to pull from this registry."""
    if row is None:
        return {}
    password = box.decrypt(row.password_enc)
    return {
        "username": row.username or None,
        "password": password or None,
        "insecure": row.protocol == "http",
    }
