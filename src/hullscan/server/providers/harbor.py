"""Harbor: API v2.0 (Harbor 2.x) and the v1 API of Harbor 1.x, chosen by the registry's ``version`` setting.

v2.0: ``/api/v2.0/systeminfo`` (``harbor_version``), ``/api/v2.0/users/current`` (``sysadmin_flag``),
``/api/v2.0/projects``, ``/api/v2.0/projects/{p}/repositories``, ``.../repositories/{r}/artifacts?with_tag=true``.
v1: ``/api/systeminfo``, ``/api/users/current`` (``has_admin_role`` / ``sysadmin_flag``), ``/api/projects``,
``/api/repositories?project_id=``, ``/api/repositories/{repo}/tags``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from hullscan.server.providers.base import (
    NOT_ADMIN,
    VERSION_ERROR,
    Connection,
    Http,
    ProviderError,
    RepoInfo,
    TagInfo,
    as_list,
    paged,
)
from hullscan.server.timeutil import parse_time


class HarborProvider:
    """Harbor 2.x (``version`` ``v2``) or 1.x (``version`` ``v1``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.v1 = conn.version.lower() in ("v1", "1", "1.x")
        self.api = "/api" if self.v1 else "/api/v2.0"
        auth = httpx.BasicAuth(conn.username, conn.password) if conn.username else None
        self.http = Http(conn, auth=auth)

    def verify(self) -> None:
        """Version from systeminfo, then the current user must exist and be a system administrator."""
        resp = self.http.request("GET", f"{self.api}/systeminfo")
        if resp.status_code == 404:
            raise ProviderError(
                VERSION_ERROR,
                f"{self.conn.base_url} has no {self.api}/systeminfo: not a Harbor "
                f"{'1.x' if self.v1 else '2.x'}; set version {'v2' if self.v1 else 'v1'} for Harbor "
                f"{'2.x' if self.v1 else '1.x'}",
            )
        info, _ = self.http.get_json(f"{self.api}/systeminfo", what="Harbor systeminfo")
        version = str(info.get("harbor_version", "")) if isinstance(info, dict) else ""
        major = version.lstrip("v").split(".", 1)[0]
        if major.isdigit() and (int(major) >= 2) == self.v1:
            raise ProviderError(
                VERSION_ERROR,
                f"Harbor at {self.conn.base_url} is {version}, but the registry is set to version "
                f"{self.conn.version}; use {'v2' if int(major) >= 2 else 'v1'}",
            )
        user, _ = self.http.get_json(f"{self.api}/users/current", what=f"Harbor login as {self.conn.username!r}")
        admin = isinstance(user, dict) and bool(user.get("sysadmin_flag") or user.get("has_admin_role"))
        if not admin:
            raise ProviderError(NOT_ADMIN, f"Harbor user {self.conn.username!r} is not a system administrator")

    def _projects(self) -> list[dict[str, Any]]:
        def fetch(page: int, size: int) -> list[Any]:
            data, _ = self.http.get_json(f"{self.api}/projects", params={"page": page, "page_size": size})
            return as_list(data or [], "Harbor projects")

        return list(paged(fetch))

    def repositories(self) -> list[RepoInfo]:
        """Every repository of every project."""
        out: list[RepoInfo] = []
        for project in self._projects():
            pname = str(project.get("name", ""))
            if self.v1:
                path = f"{self.api}/repositories"
                extra = {"project_id": project.get("project_id")}
            else:
                path = f"{self.api}/projects/{quote(pname, safe='')}/repositories"
                extra = {}

            def fetch(page: int, size: int, path: str = path, extra: dict[str, Any] = extra) -> list[Any]:
                data, _ = self.http.get_json(path, params={**extra, "page": page, "page_size": size})
                return as_list(data or [], "Harbor repositories")

            for repo in paged(fetch):
                name = str(repo.get("name", ""))
                if name:
                    out.append(RepoInfo(name=name, pull_prefix=f"{self.conn.netloc}/{name}", key=(("project", pname),)))
        return sorted(out, key=lambda r: r.name)

    def tags(self, repo: RepoInfo) -> list[TagInfo]:
        """Tags with digests (v2: artifacts with their tags; v1: the tags endpoint)."""
        out: list[TagInfo] = []
        if self.v1:
            data, _ = self.http.get_json(f"{self.api}/repositories/{repo.name}/tags", what=f"tags of {repo.name}")
            for tag in as_list(data or [], "Harbor tags"):
                pushed = parse_time(tag.get("push_time")) or parse_time(tag.get("created"))
                out.append(TagInfo(str(tag.get("name", "")), str(tag.get("digest", "")), pushed, pushed))
            return sorted(out, key=lambda t: t.tag)
        project = repo.get("project") or repo.name.split("/", 1)[0]
        rest = repo.name[len(project) + 1 :] if repo.name.startswith(project + "/") else repo.name
        # Harbor wants the repository name URL-encoded twice ("a/b" -> "a%252Fb")
        path = f"{self.api}/projects/{quote(project, safe='')}/repositories/{quote(quote(rest, safe=''), safe='')}/artifacts"

        def fetch(page: int, size: int) -> list[Any]:
            data, _ = self.http.get_json(path, params={"with_tag": "true", "page": page, "page_size": size})
            return as_list(data or [], "Harbor artifacts")

        for art in paged(fetch):
            digest = str(art.get("digest", ""))
            for tag in art.get("tags") or []:
                pushed = parse_time(tag.get("push_time")) or parse_time(art.get("push_time"))
                out.append(TagInfo(str(tag.get("name", "")), digest, pushed, parse_time(art.get("push_time")) or pushed))
        return sorted(out, key=lambda t: t.tag)
