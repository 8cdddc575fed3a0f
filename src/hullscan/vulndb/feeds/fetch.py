"""Fetching a feed document: ``fetch(url, fingerprint)`` returns the new bytes on disk or None when
unchanged (HTTP ``ETag``/``If-None-Match``, else the content's sha256).

``url`` may be ``http(s)://``, ``file://`` or a plain path (offline mirrors).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from hullscan.errors import FeedError


class FeedNotFoundError(FeedError):
    """The feed document does not exist at its URL (HTTP 404 or a missing file)."""


@dataclass(frozen=True)
class Fetched:
    """A fetched document: where it is on disk and its new fingerprint."""

    path: Path
    fingerprint: str


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def local_path(url: str) -> Path | None:
    """The filesystem path of a ``file://`` URL or plain path; None for http(s)."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url)


def fetch(url: str, fingerprint: str, dest: Path, timeout: float = 300.0, client: Any = None) -> Fetched | None:
    """Fetch ``url`` into ``dest`` (a file path). None when its fingerprint equals ``fingerprint``.
    ``client``: an ``httpx.Client`` to reuse across fetches (one is made per call otherwise)."""
    path = local_path(url)
    if path is not None:
        if not path.exists():
            raise FeedNotFoundError(f"{url}: no such file or folder")
        if path.is_dir():
            return Fetched(path, "")  # a folder is imported in place (fingerprint per unit)
        digest = _digest(path)
        if digest == fingerprint:
            return None
        shutil.copyfile(path, dest)
        return Fetched(dest, digest)
    import httpx

    headers = {"User-Agent": "hullscan"}
    if fingerprint.startswith("etag:"):
        headers["If-None-Match"] = fingerprint[5:]
    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return None
            if resp.status_code == 404:
                raise FeedNotFoundError(f"{url}: not found (HTTP 404)")
            if resp.status_code >= 400:
                raise FeedError(f"{url}: HTTP {resp.status_code}")
            h = hashlib.sha256()
            with dest.open("wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
            etag = resp.headers.get("etag", "")
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: download failed ({exc.__class__.__name__}: {exc})") from None
    finally:
        if own:
            client.close()
    digest = "sha256:" + h.hexdigest()
    if digest == fingerprint or (etag and f"etag:{etag}" == fingerprint):
        return None
    return Fetched(dest, f"etag:{etag}" if etag else digest)
