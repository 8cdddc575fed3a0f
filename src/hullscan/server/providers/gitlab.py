"""GitLab (API v4): groups each with their own access token; the container registry API.

``/api/v4/user`` (``is_admin``), ``/api/v4/groups/{id}``, ``/api/v4/groups/{id}/registry/repositories``
(``location`` is the pull path on the registry host), ``/api/v4/registry/repositories/{id}?tags=true`` and
``/api/v4/projects/{pid}/registry/repositories/{rid}/tags/{tag}`` (``digest``, ``created_at``).
Paging by ``page``/``per_page`` and the ``X-Next-Page`` header.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hullscan.server.providers.base import (
    NOT_ADMIN,
    VERSION_ERROR,
    Connection,
    Http,
    Namespace,
    ProviderError,
    RepoInfo,
    TagInfo,
    as_list,
)
from hullscan.server.timeutil import parse_time


class GitLabProvider:
    """GitLab.com or a self-managed GitLab."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.http = Http(conn)

    def _groups(self) -> list[Namespace]:
        return list(self.conn.namespaces)

    def _token(self, ns: Namespace | None) -> dict[str, str]:
        token = (ns.token if ns and ns.token else "") or self.conn.password
        return {"PRIVATE-TOKEN": token} if token else {}

    def _pages(self, path: str, ns: Namespace | None, what: str, **params: Any) -> list[Any]:
        out: list[Any] = []
        page: str | None = "1"
        while page:
            data, resp = self.http.get_json(
                path, params={**params, "page": page, "per_page": 100}, headers=self._token(ns), what=what
            )
            out.extend(as_list(data, what))
            page = resp.headers.get("X-Next-Page") or None
        return out

    def verify(self) -> None:
        """API v4 present; the user token (when given) must be an admin; every group token must open its group."""
        if self.conn.version.lower() not in ("v4", "4", ""):
            raise ProviderError(VERSION_ERROR, f"GitLab is supported through API v4, not {self.conn.version!r}")
        if self.conn.password:
            resp = self.http.request("GET", "/api/v4/user", headers=self._token(None))
            if resp.status_code == 404:
                raise ProviderError(VERSION_ERROR, f"{self.conn.base_url} has no /api/v4: not a GitLab with API v4")
            user, _ = self.http.get_json("/api/v4/user", headers=self._token(None), what=f"GitLab user {self.conn.username!r}")
            if not (isinstance(user, dict) and user.get("is_admin")):
                raise ProviderError(NOT_ADMIN, f"GitLab user {user.get('username', self.conn.username)!r} is not an administrator")
        for ns in self._groups():
            resp = self.http.request("GET", f"/api/v4/groups/{quote(ns.name, safe='')}", headers=self._token(ns))
            if resp.status_code == 404:
                raise ProviderError(VERSION_ERROR, f"GitLab group {ns.name!r} not found through /api/v4 (or no access)")
            self.http.get_json(f"/api/v4/groups/{quote(ns.name, safe='')}", headers=self._token(ns),
                               what=f"GitLab group {ns.name!r} token")

    def repositories(self) -> list[RepoInfo]:
        """Container registry repositories of every group."""
        out: list[RepoInfo] = []
        for ns in self._groups():
            items = self._pages(f"/api/v4/groups/{quote(ns.name, safe='')}/registry/repositories", ns,
                                f"registry repositories of group {ns.name!r}")
            for repo in items:
                location = str(repo.get("location", ""))
                out.append(RepoInfo(
                    name=str(repo.get("path", "")),
                    pull_prefix=location,
                    key=(("group", ns.name), ("id", str(repo.get("id", ""))), ("project", str(repo.get("project_id", "")))),
                ))
        return sorted(out, key=lambda r: r.name)

    def tags(self, repo: RepoInfo) -> list[TagInfo]:
        """Tag names from the repository, then each tag's digest and creation time."""
        ns = next((n for n in self._groups() if n.name == repo.get("group")), None)
        detail, _ = self.http.get_json(f"/api/v4/registry/repositories/{repo.get('id')}", params={"tags": "true"},
                                       headers=self._token(ns), what=f"registry repository {repo.name}")
        out: list[TagInfo] = []
        for tag in (detail or {}).get("tags") or []:
            name = str(tag.get("name", ""))
            info, _ = self.http.get_json(
                f"/api/v4/projects/{repo.get('project')}/registry/repositories/{repo.get('id')}/tags/{quote(name, safe='')}",
                headers=self._token(ns), what=f"tag {repo.name}:{name}",
            )
            created = parse_time((info or {}).get("created_at"))
            out.append(TagInfo(name, str((info or {}).get("digest", "")), created, created))
        return sorted(out, key=lambda t: t.tag)
