"""A client for the OCI Distribution / Docker Registry HTTP API v2.

* https by default (system CAs + certifi, plus ``RegistryOptions.ca_bundle``); plain http when ``insecure``;
* manifests fetched with the right ``Accept`` header, size-capped, their digest verified (pinned references)
  or computed and cross-checked against ``Docker-Content-Digest``;
* blobs streamed and verified (:class:`~hullscan.image.source.VerifyingReader`); a connection lost mid-blob
  resumes with a ``Range`` request (bounded by ``retries``);
* push: ``has_blob`` (HEAD), ``mount_blob`` (cross-repository mount), ``upload_blob`` (POST + monolithic PUT) and
  ``put_manifest`` (PUT, digest cross-checked), through the same auth flows (a token scope ``pull,push``);
* ``catalog()`` and ``tags()`` follow ``Link: <...>; rel="next"`` pagination;
* retries with exponential backoff and full jitter on 5xx, 429 (``Retry-After`` honoured), timeouts and
  connection errors, bounded in count (``retries``) and in total back-off time (``max_retry_seconds``),
  then :class:`~hullscan.errors.RegistryUnavailableError` naming the registry, the request and the cause.

The back-off base is derived from the options so that the sum of all waits fits ``max_retry_seconds``:
``base = min(1s, max_retry_seconds / 2**retries)``; wait ``n`` is ``base * 2**n`` scaled by a random factor
in [0.5, 1], or the server's ``Retry-After`` when it gives one.
"""

from __future__ import annotations

import io
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urljoin

import httpx

from hullscan.errors import (
    AuthError,
    BlobError,
    DigestMismatchError,
    InputError,
    ManifestError,
    NotFoundError,
    RegistryError,
    RegistryUnavailableError,
)
from hullscan.oci import (
    ACCEPT_MANIFESTS,
    Descriptor,
    VerifyingReader,
    digest_bytes,
    valid_digest,
    verify_bytes,
)
from hullscan.options import RegistryOptions
from hullscan.registry.auth import RegistryAuth, TransientAuthError, retry_after
from hullscan.registry.dockerconfig import Credentials, resolve_credentials
from hullscan.registry.reference import Reference, parse_registry

log = logging.getLogger("hullscan.registry")

#: the largest manifest or index accepted (containerd's limit)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: the largest image config accepted
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: how much of an error body is read for its message
MAX_ERROR_BODY = 64 * 1024
#: the most pages followed for one catalog or tag list (10,000 x n=100: a million names)
MAX_PAGES = 10_000
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
SCHEMA1_TYPES = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
_CHUNK = 1 << 20
_NOT_TLS = "plain http"
T = TypeVar("T")


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        return f"hullscan/{version('hullscan')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "hullscan"


def tls_verify(options: RegistryOptions) -> bool | ssl.SSLContext:
    """The ``verify`` argument for httpx: False for insecure registries, a context with the extra CA bundle."""
    if options.insecure:
        return False
    if not options.ca_bundle:
        return True
    path = Path(options.ca_bundle).expanduser()
    if not path.is_file():
        raise InputError(f"CA bundle {options.ca_bundle}: no such file")
    import certifi

    ctx = ssl.create_default_context(cafile=certifi.where())
    try:
        ctx.load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"CA bundle {options.ca_bundle}: not a PEM certificate file ({exc})") from None
    return ctx


class _Retry(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


class RegistryClient:
    """Talks to one registry host. Use as a context manager (or call :meth:`close`)."""

    def __init__(
        self,
        registry: Reference | str,
        options: RegistryOptions | None = None,
        *,
        credentials: Credentials | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options or RegistryOptions()
        self.host = registry.registry if isinstance(registry, Reference) else parse_registry(registry)
        self.base_url = f"{'http' if self.options.insecure else 'https'}://{self.host}"
        self.credentials = credentials if credentials is not None else resolve_credentials(self.host, self.options)
        self.auth = RegistryAuth(self.credentials, self.host)
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=self.auth,
            verify=tls_verify(self.options),
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=True,
            headers={"User-Agent": _user_agent()},
            event_hooks={"response": [self._check_redirect]} if self.options.same_host_redirects else None,
        )
        #: every retry taken: (method, path, cause, delay) — for diagnostics and tests
        self.retry_log: list[tuple[str, str, str, float]] = []

    def _check_redirect(self, response: httpx.Response) -> None:
        """With ``same_host_redirects``: a redirect to another host (or port) is refused, never followed."""
        location = response.headers.get("location")
        if not response.is_redirect or not location:
            return
        source, target = response.request.url, response.request.url.join(location)
        if (target.host, target.port) != (source.host, source.port):
            raise RegistryError(f"{self.host}: a redirect to another host ({target.host}) was refused")

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ API

    def check(self) -> None:
        """``GET /v2/``: the registry speaks the API and accepts our credentials (AuthError otherwise)."""
        self._request("GET", "/v2/", what="API version check")

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index by tag or digest; returns ``(bytes, media_type, digest)``, digest verified."""
        what = _manifest_name(repo, ref)
        resp, data = self._request("GET", f"/v2/{repo}/manifests/{ref}", what=what,
                                   headers={"Accept": ACCEPT_MANIFESTS}, read_limit=MAX_MANIFEST_BYTES)
        if ref.startswith(("sha256:", "sha512:")):
            verify_bytes(data, ref, what)
            digest = ref
        else:
            digest = digest_bytes(data)
            claimed = resp.headers.get("Docker-Content-Digest", "")
            if claimed.startswith("sha512:") and valid_digest(claimed):
                digest = digest_bytes(data, "sha512")
            if claimed and valid_digest(claimed) and claimed != digest:
                raise DigestMismatchError(
                    f"{what}: digest mismatch: registry {self.host} says {claimed}, the content hashes to {digest}"
                )
        media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        if media_type in ("", "application/json", "text/plain", "application/octet-stream"):
            media_type = _media_type_in(data) or media_type
        return data, media_type, digest

    def head_manifest(self, repo: str, ref: str) -> str:
        """The digest of a manifest (``HEAD``; falls back to ``GET`` when the registry sends no digest header)."""
        what = _manifest_name(repo, ref)
        resp, _ = self._request("HEAD", f"/v2/{repo}/manifests/{ref}", what=what,
                                headers={"Accept": ACCEPT_MANIFESTS})
        claimed = str(resp.headers.get("Docker-Content-Digest", ""))
        if valid_digest(claimed):
            if ref.startswith(("sha256:", "sha512:")) and claimed != ref:
                raise DigestMismatchError(f"{what}: digest mismatch: registry {self.host} says {claimed}")
            return claimed
        return self.get_manifest(repo, ref)[2]

    def open_blob(self, repo: str, desc: Descriptor) -> VerifyingReader:
        """Stream a blob; bytes are verified against ``desc`` (DigestMismatchError / BlobError at the end)."""
        stream = _BlobStream(self, repo, desc)
        return VerifyingReader(stream, desc.digest, desc.size, f"blob {desc.digest}")  # type: ignore[arg-type]

    def get_blob(self, repo: str, desc: Descriptor, limit: int = MAX_CONFIG_BYTES) -> bytes:
        """A small blob (an image config) read whole and verified."""
        if desc.size > limit:
            raise ManifestError(f"blob {desc.digest}: {desc.size} bytes is over the {limit}-byte limit for {repo}")
        reader = self.open_blob(repo, desc)
        try:
            chunks = []
            while chunk := reader.read(_CHUNK):
                chunks.append(chunk)
            reader.drain()
            return b"".join(chunks)
        finally:
            reader.close()

    def catalog(self, page_size: int = 100) -> list[str]:
        """Every repository the registry lists (``/v2/_catalog``, all pages), sorted."""
        return self._paginate(f"/v2/_catalog?n={page_size}", "repositories", "catalog")

    def tags(self, repo: str, page_size: int = 100) -> list[str]:
        """Every tag of ``repo`` (``/v2/<repo>/tags/list``, all pages), sorted."""
        return self._paginate(f"/v2/{repo}/tags/list?n={page_size}", "tags", f"tags of {repo}")

    # ------------------------------------------------------------------ push

    def has_blob(self, repo: str, digest: str) -> bool:
        """Whether ``repo`` already holds the blob (``HEAD /v2/<repo>/blobs/<digest>``)."""
        try:
            self._request("HEAD", f"/v2/{repo}/blobs/{digest}", what=f"blob {digest} of {repo}")
        except NotFoundError:
            return False
        return True

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount (``POST ...uploads/?mount=&from=``); False when the registry wants an upload."""
        resp, _ = self._request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={from_repo}",
                                what=f"mount of blob {digest} into {repo}", read_limit=MAX_ERROR_BODY)
        return resp.status_code == 201

    def upload_blob(self, repo: str, digest: str, data: bytes | BinaryIO, size: int) -> None:
        """Upload one blob: ``POST /v2/<repo>/blobs/uploads/`` then a monolithic ``PUT <location>?digest=``
        (distribution spec "pushing a blob monolithically"). A file given as ``data`` is rewound for each attempt."""
        what = f"upload of blob {digest} to {repo}"
        resp, _ = self._request("POST", f"/v2/{repo}/blobs/uploads/", what=what, read_limit=MAX_ERROR_BODY,
                                headers={"Content-Length": "0"}, content=lambda: b"")
        location = resp.headers.get("Location", "")
        if not location:
            raise RegistryError(f"registry {self.host}: no upload location for {what}")
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={digest}"

        def body() -> Any:
            if isinstance(data, bytes):
                return data
            data.seek(0)
            return data

        self._request("PUT", url, what=what, read_limit=MAX_ERROR_BODY, content=body,
                      headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        """``PUT /v2/<repo>/manifests/<ref>``; returns the manifest's digest (checked against the registry's)."""
        digest = digest_bytes(data)
        what = f"{_manifest_name(repo, ref)} (push)"
        resp, _ = self._request("PUT", f"/v2/{repo}/manifests/{ref}", what=what, read_limit=MAX_ERROR_BODY,
                                headers={"Content-Type": media_type}, content=lambda: data)
        claimed = resp.headers.get("Docker-Content-Digest", "")
        if claimed and valid_digest(claimed) and claimed.startswith("sha256:") and claimed != digest:
            raise DigestMismatchError(f"{what}: registry {self.host} stored {claimed}, the manifest hashes to {digest}")
        return digest

    # ------------------------------------------------------------------ plumbing

    def _paginate(self, first: str, key: str, what: str) -> list[str]:
        out: list[str] = []
        url: str | None = first
        seen: set[str] = set()
        while url and url not in seen:
            if len(seen) >= MAX_PAGES:  # a registry that always links to yet another page
                raise RegistryError(f"registry {self.host}: more than {MAX_PAGES} pages for {what}")
            seen.add(url)
            resp, data = self._request("GET", url, what=what, read_limit=MAX_MANIFEST_BYTES)
            try:
                doc = json.loads(data)
            except ValueError:
                raise RegistryError(f"registry {self.host}: malformed answer for {what}") from None
            items = doc.get(key) if isinstance(doc, dict) else None
            if items is not None and not isinstance(items, list):
                raise RegistryError(f"registry {self.host}: malformed answer for {what} ('{key}' is not a list)")
            if not items:
                break  # an empty page ends the list, whatever the Link header says
            out.extend(str(x) for x in items)
            url = _next_link(resp.headers.get("Link", ""), self.base_url + url if url.startswith("/") else url)
        return sorted(set(out))

    def _request(
        self, method: str, url: str, *, what: str, headers: dict[str, str] | None = None, read_limit: int | None = None,
        content: Callable[[], Any] | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """One API call with retries; returns the response and its body (read up to ``read_limit``). ``content``
        makes the request body afresh for each attempt (bytes, or a file rewound to its start)."""

        def attempt() -> tuple[httpx.Response, bytes]:
            resp = self._send_once(method, url, headers, content() if content is not None else None)
            try:
                self._raise_for_status(resp, what)
                data = b""
                if read_limit is not None:
                    data = _read_limited(resp, read_limit, what)
                return resp, data
            except httpx.TransportError as exc:
                raise _Retry(_describe_transport(exc, self.options.timeout)) from exc
            finally:
                resp.close()

        return self._with_retries(method, url, attempt)

    def _open_stream(self, url: str, what: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """A streamed GET with retries on the status line; the caller closes the response."""

        def attempt() -> httpx.Response:
            resp = self._send_once("GET", url, headers)
            try:
                self._raise_for_status(resp, what)
            except BaseException:
                resp.close()
                raise
            return resp

        return self._with_retries("GET", url, attempt)

    def _send_once(self, method: str, url: str, headers: dict[str, str] | None, content: Any = None) -> httpx.Response:
        """Send one request (streamed); retryable outcomes become :class:`_Retry`."""
        try:
            request = self._client.build_request(method, url, headers=headers, content=content)
            resp = self._client.send(request, stream=True)
        except TransientAuthError as exc:
            raise _Retry(exc.cause, exc.retry_after) from exc
        except httpx.TransportError as exc:
            tls = _tls_failure(exc)
            if tls == _NOT_TLS:
                raise RegistryError(
                    f"registry {self.host} does not speak TLS on this port; use --insecure for a plain-http registry"
                ) from None
            if tls:
                raise RegistryError(
                    f"registry {self.host}: TLS verification failed ({tls}); pass --ca-bundle with its CA"
                    " (or --insecure for a plain-http registry)"
                ) from None
            if _unknown_host(exc):
                raise RegistryError(f"registry {self.host}: unknown host ({_unknown_host(exc)})") from None
            raise _Retry(_describe_transport(exc, self.options.timeout)) from exc
        if resp.status_code in RETRY_STATUSES:
            cause = f"answered {resp.status_code} {resp.reason_phrase}".rstrip()
            wait = retry_after(resp)
            resp.close()
            raise _Retry(cause, wait)
        return resp

    def _with_retries(self, method: str, url: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, a non-retryable error occurs, or the retry budget is spent."""
        opts = self.options
        retries = max(0, opts.retries)
        base = min(1.0, opts.max_retry_seconds / (2**retries)) if retries else 0.0
        waited = 0.0
        causes: list[str] = []
        path = url.split("?", 1)[0]
        stop = ""
        for n in range(retries + 1):
            try:
                return attempt()
            except _Retry as exc:
                causes.append(exc.cause)
                if n == retries:
                    break
                delay = base * (2**n) * random.uniform(0.5, 1.0)
                if exc.retry_after is not None:
                    delay = exc.retry_after
                if waited + delay > opts.max_retry_seconds:
                    stop = (f"; the next wait ({delay:g}s) would pass the {opts.max_retry_seconds:g}s retry budget")
                    break
                log.info("registry %s: %s for %s %s; retrying in %.2fs", self.host, exc.cause, method, path, delay)
                self.retry_log.append((method, path, exc.cause, delay))
                self._sleep(delay)
                waited += delay
        count = len(causes)
        times = "once" if count == 1 else f"{count} times"
        if len(set(causes)) == 1:
            msg = f"registry {self.host} {causes[0]} {times} for {method} {path}"
        else:
            msg = f"registry {self.host} failed {times} for {method} {path} (last: {causes[-1]})"
        raise RegistryUnavailableError(msg + stop)

    def _raise_for_status(self, resp: httpx.Response, what: str) -> None:
        """Map a non-2xx answer to the matching error (named after ``what``)."""
        status = resp.status_code
        if 200 <= status < 300:
            return
        detail = _registry_message(resp)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            raise AuthError(
                f"registry {self.host}: {status} {resp.reason_phrase} for {what} with "
                f"{self.credentials.describe()}{suffix}"
            )
        if status == 404:
            raise NotFoundError(f"registry {self.host}: {what} not found{suffix}")
        raise RegistryError(f"registry {self.host} answered {status} {resp.reason_phrase} for {what}{suffix}")


class _BlobStream(io.RawIOBase):
    """The bytes of one blob from the registry; resumes with ``Range`` after a lost connection."""

    def __init__(self, client: RegistryClient, repo: str, desc: Descriptor) -> None:
        super().__init__()
        self._client = client
        self._desc = desc
        self._url = f"/v2/{repo}/blobs/{desc.digest}"
        self._what = f"blob {desc.digest} of {repo}"
        self._pos = 0
        self._pending = b""
        self._resumes = 0
        self._resp: httpx.Response | None = None
        self._iter: Iterator[bytes] | None = None
        self._open(0)

    def _open(self, start: int) -> None:
        # identity: the stored bytes as they are (a Range over a transfer encoding would be ambiguous)
        headers = {"Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        resp = self._client._open_stream(self._url, self._what, headers)
        self._resp = resp
        self._iter = resp.iter_bytes()  # chunks as they arrive: nothing received is lost if the connection breaks
        skip = start
        if start and resp.status_code == 206:
            content_range = resp.headers.get("Content-Range", "")
            if content_range.startswith(f"bytes {start}-"):
                skip = 0
        while skip > 0:  # the server ignored Range: drop what we already have
            chunk = self._next_chunk()
            if not chunk:
                return
            if len(chunk) > skip:
                self._pending = chunk[skip:]
            skip -= len(chunk)

    def _next_chunk(self) -> bytes:
        assert self._iter is not None
        try:
            return next(self._iter)
        except StopIteration:
            return b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        """Fill ``buf`` from the stream, resuming after connection loss."""
        while not self._pending:
            try:
                chunk = self._next_chunk()
            except httpx.TransportError as exc:
                self._recover(exc)
                continue
            if not chunk:
                return 0
            self._pending = chunk
        n = min(len(buf), len(self._pending))
        buf[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def _recover(self, exc: httpx.TransportError) -> None:
        """Reopen at the current offset after a lost connection, at most ``retries`` times in all."""
        while True:
            cause = _describe_transport(exc, self._client.options.timeout)
            self._close_resp()
            if self._resumes >= max(0, self._client.options.retries):
                size = self._desc.size
                if isinstance(exc, httpx.TimeoutException):
                    raise RegistryUnavailableError(
                        f"registry {self._client.host} {cause} reading {self._what} after {self._pos} of {size}"
                        f" bytes ({self._resumes + 1} attempts)"
                    ) from None
                raise BlobError(
                    f"{self._what}: truncated: the connection broke after {self._pos} of {size} bytes"
                    f" ({self._resumes + 1} attempts; {cause})"
                ) from None
            self._resumes += 1
            log.info("registry %s: %s reading %s at byte %d; resuming", self._client.host, cause, self._what,
                     self._pos)
            self._client.retry_log.append(("GET", self._url, cause, 0.0))
            try:
                self._open(self._pos)
                return
            except httpx.TransportError as again:  # lost again while skipping what we already had
                exc = again

    def _close_resp(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def close(self) -> None:
        """Release the connection."""
        self._close_resp()
        super().close()


# ---------------------------------------------------------------------- helpers


def _manifest_name(repo: str, ref: str) -> str:
    sep = "@" if ref.startswith(("sha256:", "sha512:")) else ":"
    return f"manifest {repo}{sep}{ref}"


def _read_limited(resp: httpx.Response, limit: int, what: str) -> bytes:
    """Read a streamed body, refusing more than ``limit`` bytes."""
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise ManifestError(f"{what}: {length} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_bytes(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise ManifestError(f"{what}: over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _registry_message(resp: httpx.Response) -> str:
    """The registry's own words from an error body (``{"errors":[{"code":..,"message":..}]}``)."""
    try:
        body = b""
        for chunk in resp.iter_bytes(8192):
            body += chunk
            if len(body) >= MAX_ERROR_BODY:
                break
        doc = json.loads(body)
    except (ValueError, httpx.HTTPError, RuntimeError):
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for err in errors[:3]:
        if isinstance(err, dict):
            code, message = str(err.get("code", "")), str(err.get("message", ""))
            parts.append(f"{code} {message}".strip() if message.lower() != code.lower() else code)
    return "; ".join(p for p in parts if p)[:300]


def _media_type_in(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(doc, dict):
        if isinstance(doc.get("mediaType"), str):
            return str(doc["mediaType"])
        if doc.get("schemaVersion") == 1:
            return SCHEMA1_TYPES[0]
    return ""


def _next_link(header: str, current: str) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, absolute or relative to ``current``."""
    for part in header.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return urljoin(current, part[start + 1 : end])
    return None


def _describe_transport(exc: httpx.TransportError, timeout: float) -> str:
    """A short cause for a transport failure (no URLs with secrets: registry URLs carry none)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write",
                httpx.PoolTimeout: "pool"}.get(type(exc), "")
        return f"timed out ({kind + ' ' if kind else ''}timeout {timeout:g}s)"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "refused" in text.lower():
            return "refused the connection"
        return f"could not be reached ({text or exc.__class__.__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"broke the connection ({exc or exc.__class__.__name__})"
    return f"failed ({exc.__class__.__name__}: {exc})"


def _unknown_host(exc: BaseException) -> str:
    """The resolver's message when the host name does not exist (not worth retrying), else ''.

    A temporary resolver failure (``EAI_AGAIN``) is not matched: it is retried like other connection errors.
    """
    import socket

    cur: BaseException | None = exc
    seen: set[int] = set()
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, socket.gaierror) and cur.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return str(cur.strerror or cur)
        cur = cur.__cause__ or cur.__context__
    return ""


def _tls_failure(exc: BaseException) -> str:
    """The reason when ``exc`` is a certificate verification failure, else ''."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur.verify_message or str(cur)
        text = str(cur)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return text.split("] ", 1)[-1] if "] " in text else text
        if "WRONG_VERSION_NUMBER" in text:
            return _NOT_TLS
        cur = cur.__cause__ or cur.__context__
    return ""
