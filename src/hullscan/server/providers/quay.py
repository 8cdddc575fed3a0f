"""Quay (API v1): organisations each with their own OAuth/application token.

``/api/v1/discovery`` (is this Quay), ``/api/v1/organization/{org}`` (``is_admin``), ``/api/v1/user/``,
``/api/v1/repository?namespace=`` (``next_page`` paging), ``/api/v1/repository/{ns}/{repo}/tag/``
(``page`` / ``has_additional``; ``manifest_digest``, ``start_ts``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hullscan.server.providers.base import (
    NOT_ADMIN,
    VERSION_ERROR,
    Connection,
    Http,
    Namespace,
    ProviderError,
    RepoInfo,
    TagInfo,
)


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc) if value is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class QuayProvider:
    """Quay.io or a self-hosted Quay."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.http = Http(conn)

    def _namespaces(self) -> list[Namespace]:
        if self.conn.namespaces:
            return list(self.conn.namespaces)
        return [Namespace(self.conn.username, self.conn.password)]

    @staticmethod
    def _auth(ns: Namespace) -> dict[str, str]:
        return {"Authorization": f"Bearer {ns.token}"} if ns.token else {}

    def verify(self) -> None:
        """Quay API v1 present; every organisation's token valid and an administrator of it."""
        if self.conn.version.lower() not in ("v1", "1", ""):
            raise ProviderError(VERSION_ERROR, f"Quay only offers API v1, not {self.conn.version!r}")
        resp = self.http.request("GET", "/api/v1/discovery")
        if resp.status_code == 404:
            raise ProviderError(VERSION_ERROR, f"{self.conn.base_url} has no /api/v1/discovery: not a Quay API v1")
        if not self.conn.namespaces:
            self.http.get_json("/api/v1/user/", headers=self._auth(self._namespaces()[0]), what="Quay user token")
            return
        for ns in self.conn.namespaces:
            org, _ = self.http.get_json(
                f"/api/v1/organization/{ns.name}", headers=self._auth(ns), what=f"Quay organisation {ns.name!r} token"
            )
            if not (isinstance(org, dict) and org.get("is_admin")):
                raise ProviderError(NOT_ADMIN, f"the token of Quay organisation {ns.name!r} is not an organisation admin")

    def repositories(self) -> list[RepoInfo]:
        """Every repository of every organisation (``next_page`` paging)."""
        out: list[RepoInfo] = []
        for ns in self._namespaces():
            params: dict[str, Any] = {"namespace": ns.name}
            for _ in range(10_000):
                data, _ = self.http.get_json("/api/v1/repository", params=params, headers=self._auth(ns))
                for repo in (data or {}).get("repositories") or []:
                    name = f"{repo.get('namespace', ns.name)}/{repo.get('name', '')}"
                    out.append(RepoInfo(name=name, pull_prefix=f"{self.conn.netloc}/{name}", key=(("ns", ns.name),)))
                nxt = (data or {}).get("next_page")
                if not nxt:
                    break
                params = {"namespace": ns.name, "next_page": nxt}
        return sorted(out, key=lambda r: r.name)

    def tags(self, repo: RepoInfo) -> list[TagInfo]:
        """Active tags with manifest digests and start time."""
        ns = next((n for n in self._namespaces() if n.name == repo.get("ns")), self._namespaces()[0])
        out: list[TagInfo] = []
        for page in range(1, 10_000):
            data, _ = self.http.get_json(
                f"/api/v1/repository/{repo.name}/tag/",
                params={"onlyActiveTags": "true", "limit": 100, "page": page},
                headers=self._auth(ns),
            )
            for tag in (data or {}).get("tags") or []:
                when = _epoch(tag.get("start_ts"))
                out.append(TagInfo(str(tag.get("name", "")), str(tag.get("manifest_digest", "")), when, when))
            if not (data or {}).get("has_additional"):
                break
        return sorted(out, key=lambda t: t.tag)
