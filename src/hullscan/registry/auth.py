"""Registry authentication as an :class:`httpx.Auth` flow (the generator pattern of ``httpx/_auth.py``).

One flow covers what registries do:

* anonymous: the request goes out as is;
* ``Basic`` challenge: resend once with the credentials;
* ``Bearer`` challenge (``WWW-Authenticate: Bearer realm=..,service=..,scope=..``): ask the realm for a
  token (``GET realm?service=..&scope=..`` with Basic credentials when known; ``POST`` with
  ``grant_type=refresh_token`` for an identity token), read ``token`` or ``access_token``, resend;
* a given registry token is sent as ``Bearer`` straight away.

Tokens are cached per (realm, service, scope) until shortly before they expire, and sent pre-emptively
for later requests on the same repository. A 401 that survives the flow is returned to the caller
(the client turns it into :class:`~hullscan.errors.AuthError`); a token endpoint that refuses the
credentials raises AuthError naming it. Secrets never appear in messages.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from hullscan.errors import AuthError, RegistryUnavailableError
from hullscan.registry.dockerconfig import Credentials

#: default token lifetime when the endpoint does not say (distribution's token spec: 60 seconds)
DEFAULT_EXPIRES_IN = 60
#: renew a token this many seconds before it expires
EXPIRY_MARGIN = 5
_TOKEN_REQUEST = "hullscan_token_request"
#: the largest 401 or token answer read (real ones are a few kB: a JWT and some JSON)
MAX_AUTH_BODY = 1024 * 1024
_CHALLENGE_PARAM = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


class TransientAuthError(RegistryUnavailableError):
    """The token endpoint failed in a way worth retrying (5xx, 429). :class:`RegistryClient` retries it; other
    callers of :class:`RegistryAuth` see a RegistryUnavailableError whose message names the registry and cause."""

    def __init__(self, cause: str, retry_after: float | None = None, registry: str = "") -> None:
        super().__init__(f"registry {registry}: {cause}" if registry else cause)
        self.cause = cause
        self.retry_after = retry_after


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge."""

    scheme: str  # lower-case: "bearer" or "basic"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` (``Bearer realm="x",service="y",scope="z"``; several schemes allowed)."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end() :]
        params: dict[str, str] = {}
        while rest:
            pm = _CHALLENGE_PARAM.match(rest)
            if not pm:
                break
            # a bare word followed by a space is the next scheme, not a parameter
            quoted, bare = pm.group(2), pm.group(3)
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            rest = rest[pm.end() :]
        out.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return out


def scope_for(request: httpx.Request) -> str:
    """The token scope a request needs, as the registry would ask for it (used to reuse cached tokens)."""
    path = request.url.path
    if path.rstrip("/") == "/v2/_catalog":
        return "registry:catalog:*"
    m = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/", path)
    if not m:
        return ""
    actions = "pull" if request.method in ("GET", "HEAD") else "pull,push"
    return f"repository:{m.group(1)}:{actions}"


class RegistryAuth(httpx.Auth):
    """Anonymous / Basic / Bearer-challenge authentication for one registry host. Thread-safe token cache."""

    def __init__(self, credentials: Credentials | None = None, registry: str = "") -> None:
        self.credentials = credentials or Credentials()
        self.registry = registry
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._basic_known = False  # the registry asked for Basic once: send it pre-emptively
        self._bearer_params: dict[str, str] | None = None  # last Bearer realm/service seen
        self._lock = threading.Lock()
        #: how many tokens were fetched from the realm (tests use it to check caching)
        self.token_fetches = 0

    # ------------------------------------------------------------------ httpx hooks

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Like httpx's, but only reads the bodies the flow needs (never a streamed blob)."""
        flow = self.auth_flow(request)
        req = next(flow)
        while True:
            response = yield req
            if req.extensions.get(_TOKEN_REQUEST) or response.status_code == 401:
                self._read_bounded(response)
            try:
                req = flow.send(response)
            except StopIteration:
                break

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Async twin of :meth:`sync_auth_flow`."""
        flow = self.auth_flow(request)
        req = next(flow)
        while True:
            response = yield req
            if req.extensions.get(_TOKEN_REQUEST) or response.status_code == 401:
                await response.aread()
            try:
                req = flow.send(response)
            except StopIteration:
                break

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow: pre-emptive credentials when known, then answer one challenge."""
        creds = self.credentials
        if creds.registry_token:
            request.headers["Authorization"] = f"Bearer {creds.registry_token}"
            yield request
            return
        self._preempt(request)
        response = yield request
        if response.status_code != 401:
            return
        sent = request.headers.get("Authorization", "")
        if sent.startswith("Bearer "):
            self._forget(sent[7:])  # rejected (revoked, expired early): never offer it again
        challenges = parse_challenges(response.headers.get("WWW-Authenticate", ""))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.params.get("realm")), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            token = yield from self._fetch_token(bearer.params)
            if token is None:
                return
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
        elif basic is not None and (creds.username or creds.password):
            self._basic_known = True
            request.headers["Authorization"] = basic_header(creds)
            yield request

    # ------------------------------------------------------------------ internals

    def _read_bounded(self, response: httpx.Response) -> None:
        """Read a challenge or token answer, refusing one over :data:`MAX_AUTH_BODY` (a hostile endless body)."""
        host = response.request.url.netloc.decode("ascii", "replace")
        role = "token service" if response.request.extensions.get(_TOKEN_REQUEST) else "registry"
        what = f"registry {self.registry or host}: the {role} {host}"
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_AUTH_BODY:
            response.close()
            raise AuthError(f"{what} sent a {length}-byte authentication answer (limit {MAX_AUTH_BODY})")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_AUTH_BODY:
                response.close()
                raise AuthError(f"{what} sent an authentication answer over {MAX_AUTH_BODY} bytes")
        response._content = bytes(body)  # what Response.read() stores; the flow reads .json() / .text from it

    def _preempt(self, request: httpx.Request) -> None:
        """Attach a cached token (or Basic credentials the registry asked for before)."""
        creds = self.credentials
        if self._basic_known and (creds.username or creds.password):
            request.headers["Authorization"] = basic_header(creds)
            return
        params = self._bearer_params
        scope = scope_for(request)
        if params is None or not scope:
            return
        cached = self._cached(params.get("realm", ""), params.get("service", ""), scope)
        if cached:
            request.headers["Authorization"] = f"Bearer {cached}"

    def _forget(self, token: str) -> None:
        with self._lock:
            for key in [k for k, (tok, _) in self._tokens.items() if tok == token]:
                del self._tokens[key]

    def _cached(self, realm: str, service: str, scope: str) -> str | None:
        with self._lock:
            hit = self._tokens.get((realm, service, scope))
            if hit and hit[1] > time.monotonic():
                return hit[0]
        return None

    def _fetch_token(self, params: dict[str, str]) -> Generator[httpx.Request, httpx.Response, str | None]:
        """Ask the realm for a token (or reuse a cached one); returns the token."""
        realm, service, scope = params["realm"], params.get("service", ""), params.get("scope", "")
        self._bearer_params = {"realm": realm, "service": service}
        cached = self._cached(realm, service, scope)
        if cached:
            return cached
        creds = self.credentials
        query: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            query.append(("service", service))
        for one in scope.split(" "):
            if one:
                query.append(("scope", one))
        if creds.identity_token:
            form = query + [("grant_type", "refresh_token"), ("refresh_token", creds.identity_token),
                            ("client_id", "hullscan")]
            req = httpx.Request("POST", realm, data=dict(_merge(form)), extensions={_TOKEN_REQUEST: True})
        else:
            if creds.username:
                query.append(("account", creds.username))
            req = httpx.Request("GET", realm, params=query, extensions={_TOKEN_REQUEST: True})
            if creds.username or creds.password:
                req.headers["Authorization"] = basic_header(creds)
        response = yield req
        self.token_fetches += 1
        token, expires_in = self._token_from(response, realm, scope)
        with self._lock:
            self._tokens[(realm, service, scope)] = (token, time.monotonic() + max(1, expires_in - EXPIRY_MARGIN))
        return token

    def _token_from(self, response: httpx.Response, realm: str, scope: str) -> tuple[str, int]:
        """Read the token out of the realm's answer, or raise."""
        host = urlsplit(realm).netloc or realm
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"registry {self.registry or host}: token service {host} refused {self.credentials.describe()}"
                f" for scope {scope or '(none)'} ({status} {response.reason_phrase})"
            )
        if status == 429 or status >= 500:
            raise TransientAuthError(f"token service {host} answered {status} {response.reason_phrase}",
                                     retry_after(response), self.registry)
        if status != 200:
            raise AuthError(f"registry {self.registry or host}: token service {host} answered {status} "
                            f"{response.reason_phrase}")
        try:
            doc = response.json()
        except ValueError:
            raise AuthError(f"registry {self.registry or host}: token service {host} sent a malformed answer") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"registry {self.registry or host}: token service {host} sent no token")
        expires_in = doc.get("expires_in", DEFAULT_EXPIRES_IN)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        return token, expires_in


def basic_header(creds: Credentials) -> str:
    """The ``Authorization: Basic`` value for ``creds``."""
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _merge(pairs: list[tuple[str, str | int | float | bool | None]]) -> dict[str, str | list[str]]:
    """Form fields, repeated keys as lists (several scopes)."""
    out: dict[str, str | list[str]] = {}
    for key, raw in pairs:
        value = str(raw)
        if key in out:
            prev = out[key]
            out[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[key] = value
    return out


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent or invalid."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import datetime as _dt

    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return max(0.0, (when - _dt.datetime.now(_dt.UTC)).total_seconds())

