"""What every registry provider shares: connection settings, listing results, verification errors and HTTP.

A provider verifies credentials (``verify``), lists repositories (``repositories``) and the tags of one
(``tags``: tag, digest, push and update time). Verification failures are one of four exact error codes,
each with a human message; the API returns them as HTTP 400 ``{"code": ..., "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

#: the four verification error codes
FAILED_TO_VERIFY = "FailedToVerifyUsernameOrPwd"
VERSION_ERROR = "RegistryVersionError"
NOT_ADMIN = "UserDoesNotHaveAdminRole"
NETWORK_ERROR = "NetworkConnectError"


class ProviderError(Exception):
    """A registry could not be verified or listed; ``code`` is one of the four codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Namespace:
    """A Quay organisation or GitLab group with its own token."""

    name: str  # organisation name, or GitLab group id / full path
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Connection:
    """How to reach and log into one registry (decrypted secrets; never logged: ``repr`` hides them)."""

    type: str
    version: str
    protocol: str = "https"
    host: str = ""  # domain, else IP
    port: int | None = None
    username: str = ""
    password: str = field(default="", repr=False)
    namespaces: tuple[Namespace, ...] = ()
    timeout: float = 15.0
    verify_tls: bool = True

    @property
    def netloc(self) -> str:
        """``host[:port]``."""
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def base_url(self) -> str:
        """``protocol://host[:port]``."""
        return f"{self.protocol}://{self.netloc}"


@dataclass(frozen=True)
class RepoInfo:
    """A repository as listed by a provider."""

    name: str  # path inside the registry: project/repo, org/repo, group/project
    pull_prefix: str  # host[:port]/path to pull images from
    key: tuple[tuple[str, str], ...] = ()  # provider-specific ids (gitlab repository id...)

    def get(self, name: str) -> str:
        """One provider-specific id."""
        return dict(self.key).get(name, "")


@dataclass(frozen=True)
class TagInfo:
    """A tag with the digest it points at and its times."""

    tag: str
    digest: str
    pushed_at: datetime | None = None
    updated_at: datetime | None = None


class Provider(Protocol):
    """A registry type."""

    def verify(self) -> None:
        """Check reachability, API version, credentials and admin role; ProviderError otherwise."""

    def repositories(self) -> list[RepoInfo]:
        """Every repository visible with the configured credentials."""

    def tags(self, repo: RepoInfo) -> list[TagInfo]:
        """Every tag of ``repo`` with digest and times."""


class Http:
    """A small JSON client that maps transport failures and HTTP errors onto provider error codes."""

    def __init__(self, conn: Connection, headers: dict[str, str] | None = None, auth: httpx.Auth | None = None) -> None:
        self.conn = conn
        try:
            self.client = httpx.Client(
                base_url=conn.base_url,
                headers=headers or {},
                auth=auth,
                timeout=conn.timeout,
                verify=conn.verify_tls,
                follow_redirects=True,
            )
        except httpx.InvalidURL as exc:  # a host stored before validation got stricter
            raise ProviderError(NETWORK_ERROR, f"invalid registry address {conn.base_url!r}: {exc}") from None

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; NetworkConnectError when the registry can't be reached."""
        try:
            return self.client.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise ProviderError(
                NETWORK_ERROR, f"cannot connect to {self.conn.base_url}: {type(exc).__name__}: {exc}".strip()
            ) from None

    def get_json(self, path: str, *, what: str = "", **kwargs: Any) -> tuple[Any, httpx.Response]:
        """GET ``path`` and decode JSON; 401/403 mean bad credentials, other errors name the status."""
        resp = self.request("GET", path, **kwargs)
        check_status(resp, what or path)
        try:
            return resp.json(), resp
        except ValueError:
            raise ProviderError(
                VERSION_ERROR, f"{self.conn.base_url}{path} did not answer JSON: is this a {self.conn.type} registry?"
            ) from None


def check_status(resp: httpx.Response, what: str) -> None:
    """Raise the ProviderError matching a failed response."""
    if resp.status_code < 400:
        return
    if resp.status_code in (401, 403):
        raise ProviderError(FAILED_TO_VERIFY, f"{what}: the registry refused the credentials (HTTP {resp.status_code})")
    if resp.status_code == 404:
        raise ProviderError(VERSION_ERROR, f"{what}: not found (HTTP 404); wrong registry type or API version?")
    raise ProviderError(NETWORK_ERROR, f"{what}: the registry answered HTTP {resp.status_code}")


def paged(fetch: Any, page_size: int = 100, max_pages: int = 10_000) -> Iterator[Any]:
    """Yield the items of ``fetch(page, page_size) -> list`` until a short page."""
    for page in range(1, max_pages + 1):
        items = fetch(page, page_size)
        yield from items
        if len(items) < page_size:
            return


def as_list(data: Any, what: str) -> list[Any]:
    """``data`` when it is a list, else VERSION_ERROR naming ``what`` (an API of another shape)."""
    if isinstance(data, list):
        return data
    raise ProviderError(VERSION_ERROR, f"{what}: unexpected answer shape (a list was expected)")
