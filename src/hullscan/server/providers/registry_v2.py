"""Plain Distribution registry (API v2): ``/v2/``, ``/v2/_catalog`` and ``/v2/{repo}/tags/list`` with Link
paging, the manifest digest from ``Docker-Content-Digest`` and the update time from the image config ``created``.
Authentication (anonymous, Basic, Bearer token challenge) is :class:`hullscan.registry.auth.RegistryAuth`.
"""

from __future__ import annotations

import re
from typing import Any

from hullscan.errors import AuthError
from hullscan.server.providers.base import (
    FAILED_TO_VERIFY,
    NOT_ADMIN,
    VERSION_ERROR,
    Connection,
    Http,
    ProviderError,
    RepoInfo,
    TagInfo,
    check_status,
)
from hullscan.server.timeutil import parse_time

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
#: pages of a catalog or tag list followed at most (100 entries each: a million repositories)
MAX_PAGES = 10_000


def _json_list(resp: Any, key: str, what: str) -> list[Any]:
    """``resp``'s JSON ``{key: [...]}`` list (``null`` is empty); VERSION_ERROR for any other answer."""
    try:
        data = resp.json()
    except ValueError:
        raise ProviderError(VERSION_ERROR, f"{what}: the answer is not JSON; is this a Distribution v2 registry?") from None
    items = data.get(key) if isinstance(data, dict) else None
    if items is None and isinstance(data, dict):
        return []
    if not isinstance(items, list):
        raise ProviderError(VERSION_ERROR, f"{what}: unexpected answer shape ({key!r} list expected)")
    return items


class RegistryV2Provider:
    """Any registry speaking the Distribution API v2."""

    def __init__(self, conn: Connection) -> None:
        from hullscan.registry.auth import RegistryAuth
        from hullscan.registry.dockerconfig import Credentials

        creds = Credentials(username=conn.username, password=conn.password, source="registry settings") if conn.username else None
        self.conn = conn
        self.http = Http(conn, auth=RegistryAuth(creds, registry=conn.netloc))

    def _get(self, path: str, what: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request("GET", path, **kwargs)
        except AuthError as exc:
            raise ProviderError(FAILED_TO_VERIFY, f"{what}: {exc}") from None
        check_status(resp, what)
        return resp

    def verify(self) -> None:
        """``/v2/`` answers (as a v2 registry) with the credentials, and the catalog is readable."""
        try:
            resp = self.http.request("GET", "/v2/")
        except AuthError as exc:
            raise ProviderError(FAILED_TO_VERIFY, f"registry {self.conn.netloc}: {exc}") from None
        if resp.status_code == 404 or (resp.status_code < 400 and "docker-distribution-api-version" not in
                                       {k.lower() for k in resp.headers} and resp.headers.get("content-type", "").startswith("text/html")):
            raise ProviderError(VERSION_ERROR, f"{self.conn.base_url}/v2/ is not a Distribution API v2 endpoint")
        check_status(resp, f"login to registry {self.conn.netloc} as {self.conn.username or 'anonymous'}")
        try:
            cat = self.http.request("GET", "/v2/_catalog", params={"n": 1})
        except AuthError as exc:
            raise ProviderError(NOT_ADMIN, f"registry {self.conn.netloc}: no catalog access: {exc}") from None
        if cat.status_code in (401, 403):
            raise ProviderError(NOT_ADMIN, f"user {self.conn.username or 'anonymous'!r} may not list the catalog of {self.conn.netloc}")
        check_status(cat, f"catalog of {self.conn.netloc}")

    def _paged(self, path: str, key: str, what: str) -> list[str]:
        """Every ``key`` item of ``path`` following ``Link: rel=next`` on this registry only (a link to another
        host would receive the credentials), stopping at a repeated or empty page and after :data:`MAX_PAGES`."""
        out: list[str] = []
        url: str | None = path
        params: dict[str, Any] | None = {"n": 100}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            seen.add(url)
            resp = self._get(url, what, params=params)
            items = _json_list(resp, key, what)
            out.extend(str(x) for x in items)
            m = _LINK.search(resp.headers.get("link", ""))
            target = resp.url.join(m.group(1)) if m else None
            if target is not None and (target.scheme, target.netloc) != (resp.url.scheme, resp.url.netloc):
                raise ProviderError(VERSION_ERROR, f"{what}: the next page is on another host ({target.host}); not followed")
            nxt = str(target) if target is not None else None
            url = None if nxt is None or nxt in seen or not items else nxt
            params = None
        raise ProviderError(VERSION_ERROR, f"{what}: more than {MAX_PAGES} pages; the listing does not end")

    def repositories(self) -> list[RepoInfo]:
        """The catalog."""
        names = self._paged("/v2/_catalog", "repositories", f"catalog of {self.conn.netloc}")
        return sorted((RepoInfo(n, f"{self.conn.netloc}/{n}") for n in set(names)), key=lambda r: r.name)

    def tags(self, repo: RepoInfo) -> list[TagInfo]:
        """Tags with the manifest digest and the config ``created`` time (none for indexes)."""
        out: list[TagInfo] = []
        for tag in sorted(set(self._paged(f"/v2/{repo.name}/tags/list", "tags", f"tags of {repo.name}"))):
            resp = self._get(f"/v2/{repo.name}/manifests/{tag}", f"manifest {repo.name}:{tag}", headers={"Accept": MANIFEST_TYPES})
            digest = resp.headers.get("docker-content-digest", "")
            if not digest:
                import hashlib

                digest = "sha256:" + hashlib.sha256(resp.content).hexdigest()
            created = None
            try:
                manifest = resp.json()
                config = (manifest.get("config") or {}).get("digest")
                if config:
                    blob = self._get(f"/v2/{repo.name}/blobs/{config}", f"config of {repo.name}:{tag}")
                    created = parse_time(blob.json().get("created"))
            except (ValueError, AttributeError, TypeError):
                created = None
            out.append(TagInfo(tag, digest, created, created))
        return out
