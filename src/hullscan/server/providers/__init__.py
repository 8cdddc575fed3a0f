"""Registry providers, one per registry type: the explicit list of what the security center can connect to."""

from __future__ import annotations

from hullscan.plugins import Entry, Registry, lazy
from hullscan.server.providers.base import Connection, Provider, ProviderError

#: tagged with the API versions each type supports; a provider module is imported when first used
PROVIDERS: Registry[Provider] = Registry("registry provider", [
    Entry("harbor", 1, lazy("hullscan.server.providers.harbor:HarborProvider"), frozenset({"v2", "v1"})),
    Entry("quay", 1, lazy("hullscan.server.providers.quay:QuayProvider"), frozenset({"v1"})),
    Entry("gitlab", 1, lazy("hullscan.server.providers.gitlab:GitLabProvider"), frozenset({"v4"})),
    Entry("registry", 1, lazy("hullscan.server.providers.registry_v2:RegistryV2Provider"), frozenset({"v2"})),
])

#: default API version per registry type
DEFAULT_VERSIONS = {"harbor": "v2", "quay": "v1", "gitlab": "v4", "registry": "v2"}


def provider_for(conn: Connection) -> Provider:
    """The provider of ``conn.type``; ProviderError(RegistryVersionError) for an unknown type or version."""
    if conn.type not in PROVIDERS:
        raise ProviderError("RegistryVersionError", f"unknown registry type {conn.type!r} (known: {', '.join(DEFAULT_VERSIONS)})")
    entry = PROVIDERS.get(conn.type)
    if conn.version and conn.version not in entry.tags:
        raise ProviderError(
            "RegistryVersionError",
            f"{conn.type} does not support API version {conn.version!r} (supported: {', '.join(sorted(entry.tags))})",
        )
    return entry.factory(conn)
