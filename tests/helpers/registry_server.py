"""Real registries for tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1.

Session fixtures (each a :class:`RegistryServer`):

* ``registry``        anonymous, plain http (use ``insecure=True``);
* ``basic_registry``  htpasswd (bcrypt) basic auth over https with a test CA (``ca_bundle``);
* ``token_registry``  the bearer-token flow: ``auth.token`` points at a token service run here in Python
                      (:class:`TokenServer`) that checks basic credentials and issues RS256 JWTs with an
                      ``x5c`` chain rooted in the registry's ``rootcertbundle``.

Function fixture ``faulty_registry``: a :class:`FaultProxy` in front of ``registry`` that can be told to
answer 500/503, 429 with ``Retry-After``, hang, drop the connection, truncate or corrupt a body, or serve
a malformed/replaced manifest, for the next N matching requests.

Helpers for everybody's tests: :func:`push_image` (an ``ImageBuilder`` image -> ``"127.0.0.1:PORT/repo:tag"``),
:func:`push_index` (a multi-platform index), :func:`put_manifest` (raw manifest bytes), and
``RegistryServer.options()`` (the matching ``RegistryOptions``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hullscan.options import RegistryOptions
from tests.helpers.imagebuild import OCI_INDEX, ImageBuilder

REGISTRY_BIN = "/usr/bin/docker-registry"
TEST_USER = "hulltester"
TEST_PASSWORD = "s3cret-Pa55"
TOKEN_SERVICE = "hullscan-test-registry"
TOKEN_ISSUER = "hullscan-test-token-issuer"
#: a refresh token the token service accepts (as ``identitytoken`` in a docker config.json) for TEST_USER
TEST_REFRESH_TOKEN = "refresh-" + "7f3a9c" * 4


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(data: bytes) -> str:
    """``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- certificates


@dataclass
class CertAuthority:
    """A throw-away CA that signs a TLS server certificate and a token-signing certificate."""

    dir: Path
    ca_pem: Path = field(init=False)
    _key: Any = field(init=False, repr=False)
    _cert: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hullscan test CA")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca_pem = self.dir / "ca.pem"
        self.ca_pem.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server_ip: str | None = None, rsa: bool = False) -> tuple[Path, Path, Any, Any]:
        """A leaf certificate signed by the CA: returns (cert.pem, key.pem, private key, certificate)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric import rsa as rsa_mod
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = rsa_mod.generate_private_key(public_exponent=65537, key_size=2048) if rsa else ec.generate_private_key(
            ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server_ip:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip)),
                                             x509.DNSName("localhost")]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_pem, key_pem = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        return cert_pem, key_pem, key, cert


# ----------------------------------------------------------------------------- token service


class _QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print clients hanging up (tests abort reads on purpose)."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """The token service of the bearer flow (distribution's token spec), issuing RS256 JWTs.

    ``GET /token?service=..&scope=..`` with Basic credentials of a known user grants the requested
    actions; without credentials it grants nothing (an empty ``access`` list, like Docker Hub for a
    private repository); wrong credentials get 401. ``POST /token`` with ``grant_type=refresh_token``
    accepts :data:`TEST_REFRESH_TOKEN`. Every request is recorded in :attr:`requests`.
    """

    def __init__(self, ca: CertAuthority, users: dict[str, str]) -> None:
        from cryptography.hazmat.primitives import serialization

        _, _, self._key, cert = ca.issue("token-signer", rsa=True)
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]
        self.users = users
        self.requests: list[dict[str, Any]] = []
        self.expires_in = 300
        #: answer the next N requests with 503 (to test retries of the token request)
        self.fail_next = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user = self._basic_user()
                server._answer(self, user, query, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                user: str | None | bool = None
                if form.get("grant_type") == ["refresh_token"]:
                    user = TEST_USER if form.get("refresh_token") == [TEST_REFRESH_TOKEN] else False
                server._answer(self, user, form, "POST")

            def _basic_user(self) -> str | None | bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return False
                return user if server.users.get(user) == password else False

        self._httpd = _QuietServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler, user: str | None | bool, query: dict[str, list[str]],
                method: str) -> None:
        scopes = [s for one in query.get("scope", []) for s in one.split(" ") if s]
        with self._lock:
            self.requests.append({"method": method, "user": user, "scopes": scopes,
                                  "service": query.get("service", [""])[0]})
            failing = self.fail_next > 0
            self.fail_next -= 1 if failing else 0
        if failing:
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if user is False:
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}).encode()
            handler.send_response(401)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        access = []
        if user:
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        token = self.make_token(str(user or ""), access, query.get("service", [TOKEN_SERVICE])[0])
        key = "access_token" if method == "POST" else "token"
        body = json.dumps({key: token, "expires_in": self.expires_in,
                           "issued_at": dt.datetime.now(dt.UTC).isoformat()}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def make_token(self, subject: str, access: list[dict[str, Any]], audience: str = TOKEN_SERVICE) -> str:
        """A signed JWT the registry accepts."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self._x5c}
        claims = {"iss": TOKEN_ISSUER, "sub": subject, "aud": audience, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def reset(self) -> None:
        """Forget recorded requests and pending failures."""
        with self._lock:
            self.requests.clear()
            self.fail_next = 0

    def stop(self) -> None:
        """Shut the service down."""
        self._httpd.shutdown()
        self._httpd.server_close()


# ----------------------------------------------------------------------------- the registry process


@dataclass
class RegistryServer:
    """A running ``docker-registry``."""

    host: str  # 127.0.0.1:PORT
    url: str  # http(s)://127.0.0.1:PORT
    auth: str  # none | htpasswd | token
    root: Path
    process: subprocess.Popen[bytes] | None = None
    username: str = ""
    password: str = ""
    ca_bundle: str | None = None
    token_server: TokenServer | None = None

    @property
    def verify(self) -> bool | ssl.SSLContext:
        """The httpx ``verify`` argument for this server (a context trusting the test CA over TLS)."""
        return ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else True

    @property
    def insecure(self) -> bool:
        """Plain http."""
        return self.url.startswith("http://")

    def options(self, with_credentials: bool = True, **overrides: Any) -> RegistryOptions:
        """RegistryOptions to reach this registry (credentials included unless told otherwise)."""
        opts = RegistryOptions(insecure=self.insecure, ca_bundle=self.ca_bundle, timeout=10.0, retries=2,
                               max_retry_seconds=2.0)
        if with_credentials and self.username:
            opts = replace(opts, username=self.username, password=self.password)
        return replace(opts, **overrides)

    def ref(self, repo: str, tag: str = "latest") -> str:
        """``host/repo:tag``."""
        return f"{self.host}/{repo}:{tag}"

    def push_auth(self) -> httpx.Auth | None:
        """An auth flow able to push here."""
        if not self.username:
            return None
        from hullscan.registry.auth import RegistryAuth
        from hullscan.registry.dockerconfig import Credentials

        return RegistryAuth(Credentials(self.username, self.password, source="test"), self.host)

    def http(self) -> httpx.Client:
        """A raw httpx client with push rights (for tests that talk to the API directly)."""
        return httpx.Client(base_url=self.url, auth=self.push_auth(), verify=self.verify, timeout=30)

    def stop(self) -> None:
        """Stop the process (and the token service)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.token_server is not None:
            self.token_server.stop()


def start_registry(
    root: Path, auth: str = "none", tls: bool = False, ca: CertAuthority | None = None
) -> RegistryServer:
    """Start ``docker-registry serve`` with its storage under ``root``; waits until it answers ``/v2/``."""
    if not os.path.exists(REGISTRY_BIN):
        pytest.skip(f"{REGISTRY_BIN} not installed (apt-get install docker-registry)")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    server = RegistryServer(host=f"127.0.0.1:{port}", url=f"{'https' if tls else 'http'}://127.0.0.1:{port}",
                            auth=auth, root=root)
    if (tls or auth == "token") and ca is None:
        ca = CertAuthority(root / "pki")
    if tls:
        assert ca is not None
        cert, key, _, _ = ca.issue("registry", server_ip="127.0.0.1")
        config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
        server.ca_bundle = str(ca.ca_pem)
    if auth == "htpasswd":
        htpasswd = root / "htpasswd"
        out = subprocess.run(["htpasswd", "-Bbn", TEST_USER, TEST_PASSWORD], check=True, capture_output=True)
        htpasswd.write_bytes(out.stdout)
        config["auth"] = {"htpasswd": {"realm": "hullscan-test", "path": str(htpasswd)}}
        server.username, server.password = TEST_USER, TEST_PASSWORD
    elif auth == "token":
        assert ca is not None
        token = TokenServer(ca, {TEST_USER: TEST_PASSWORD})
        config["auth"] = {"token": {"realm": token.realm, "service": TOKEN_SERVICE, "issuer": TOKEN_ISSUER,
                                    "rootcertbundle": str(ca.ca_pem)}}
        server.username, server.password, server.token_server = TEST_USER, TEST_PASSWORD, token
    config_path = root / "config.yml"
    config_path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    log_file = open(root / "registry.log", "wb")  # noqa: SIM115 - owned by the process
    server.process = subprocess.Popen([REGISTRY_BIN, "serve", str(config_path)], stdout=log_file, stderr=log_file)
    log_file.close()
    deadline = time.monotonic() + 20
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()[-2000:]}")
        try:
            r = httpx.get(f"{server.url}/v2/", verify=server.verify, timeout=2)
            if r.status_code in (200, 401):
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- pushing


def push_image(registry: RegistryServer, builder: ImageBuilder, repo: str, tag: str = "latest") -> str:
    """Push an ImageBuilder image; returns ``"127.0.0.1:PORT/repo:tag"``."""
    builder.push(registry.url, repo, tag, auth=registry.push_auth(), verify=registry.verify)
    return registry.ref(repo, tag)


def put_manifest(registry: RegistryServer, repo: str, ref: str, body: bytes, media_type: str) -> str:
    """PUT raw manifest bytes under a tag or digest; returns their digest."""
    with registry.http() as client:
        r = client.put(f"/v2/{repo}/manifests/{ref}", content=body, headers={"Content-Type": media_type})
        if r.status_code >= 300:
            raise RuntimeError(f"PUT manifest {repo}:{ref}: {r.status_code} {r.text[:500]}")
    return sha256(body)


def push_index(registry: RegistryServer, builders: list[ImageBuilder], repo: str, tag: str = "latest",
               media_type: str = OCI_INDEX, variants: dict[int, str] | None = None) -> tuple[str, str]:
    """Push several platform images and an index of them under ``tag``; returns (reference, index digest)."""
    entries = []
    for i, builder in enumerate(builders):
        digest = builder.push(registry.url, repo, builder.digest, auth=registry.push_auth(),
                              verify=registry.verify)
        manifest = builder.manifest_bytes()
        plat = {"os": builder.os, "architecture": builder.architecture}
        if variants and i in variants:
            plat["variant"] = variants[i]
        entries.append({"mediaType": json.loads(manifest)["mediaType"], "digest": digest, "size": len(manifest),
                        "platform": plat})
    index = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}).encode()
    digest = put_manifest(registry, repo, tag, index, media_type)
    return registry.ref(repo, tag), digest


def pull_image(reference: str, options: RegistryOptions, platform: Any = None) -> tuple[Any, dict[str, bytes]]:
    """Resolve ``reference`` through :class:`RegistrySource` and read every layer blob (verified).

    Returns ``(ResolvedImage, {layer digest: stored bytes})``.
    """
    from hullscan.image.registry_source import RegistrySource

    with RegistrySource(reference, options) as source:
        image = source.resolve(platform)
        blobs = {}
        for desc in image.layers:
            reader = source.open_blob(desc)
            try:
                blobs[desc.digest] = reader.read()
            finally:
                reader.close()
    return image, blobs


# ----------------------------------------------------------------------------- fault-injecting proxy


@dataclass
class Fault:
    """What to do to the next ``times`` requests whose path contains ``match`` (and method is ``method``).

    kinds: ``status`` (answer ``status``, with ``Retry-After: retry_after`` when set), ``hang`` (say nothing
    for ``seconds``, then drop the connection), ``drop`` (close without answering), ``truncate`` (send the
    headers and the first ``keep`` fraction of the body, then close), ``corrupt`` (flip one byte of the body),
    ``replace`` (serve ``body`` with ``content_type``; ``Docker-Content-Digest`` recomputed unless ``keep_digest``),
    ``ignore-range`` (forward without the ``Range`` header, so the whole blob comes back with 200; any
    forwarding fault does the same with ``strip_range=True``),
    ``redirect`` (answer ``307`` to ``location`` + the same path, as registries do to a CDN for blobs).
    """

    kind: str
    times: int = 1
    match: str = ""
    method: str = ""
    status: int = 500
    retry_after: str | None = None
    seconds: float = 5.0
    body: bytes = b""
    content_type: str = ""
    keep_digest: bool = False
    location: str = ""
    keep: float = 0.5
    strip_range: bool = False


MALFORMED_MANIFEST = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {'

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate",
        "proxy-authorization"}


class FaultProxy:
    """An HTTP proxy in front of a plain-http registry, injecting faults on demand. Records every request."""

    def __init__(self, upstream: RegistryServer) -> None:
        self.upstream = upstream
        up = urlsplit(upstream.url)
        self._up_host, self._up_port = up.hostname or "127.0.0.1", up.port or 80
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, str]] = []  # (method, path, outcome)
        self.request_headers: list[tuple[str, dict[str, str]]] = []  # (path, headers as received)
        self._lock = threading.Lock()
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._httpd = _QuietServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- control

    def inject(self, kind: str, times: int = 1, match: str = "", **kw: Any) -> Fault:
        """Queue a fault (see :class:`Fault`)."""
        fault = Fault(kind, times, match, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Drop queued faults and the log."""
        with self._lock:
            self.faults.clear()
            self.log.clear()
            self.request_headers.clear()

    def ref(self, repo: str, tag: str = "latest") -> str:
        """``proxyhost/repo:tag``."""
        return f"{self.host}/{repo}:{tag}"

    def options(self, **overrides: Any) -> RegistryOptions:
        """Fast-retry RegistryOptions for this proxy."""
        opts = RegistryOptions(insecure=True, timeout=5.0, retries=3, max_retry_seconds=1.0)
        return replace(opts, **overrides)

    def count(self, match: str = "", outcome: str | None = None) -> int:
        """How many logged requests' paths contain ``match`` (and had ``outcome``)."""
        with self._lock:
            return sum(1 for _, p, o in self.log if match in p and (outcome is None or o == outcome))

    def stop(self) -> None:
        """Shut down."""
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- serving

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in path and (not fault.method or fault.method == method):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, method: str, path: str, outcome: str) -> None:
        with self._lock:
            self.log.append((method, path, outcome))

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        length = int(h.headers.get("Content-Length") or 0)
        body_in = h.rfile.read(length) if length else b""
        with self._lock:
            self.request_headers.append((path, {k.lower(): v for k, v in h.headers.items()}))
        fault = self._take(method, path)
        if fault and fault.kind == "redirect":
            self._record(method, path, "redirect")
            h.send_response(307)
            h.send_header("Location", fault.location.rstrip("/") + path)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if fault and fault.kind == "status":
            self._record(method, path, str(fault.status))
            payload = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}).encode()
            h.send_response(fault.status)
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if fault and fault.kind in ("hang", "drop"):
            self._record(method, path, fault.kind)
            if fault.kind == "hang":
                time.sleep(fault.seconds)
            h.close_connection = True
            return
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
        headers["Host"] = f"{self._up_host}:{self._up_port}"
        if fault and (fault.kind == "ignore-range" or fault.strip_range):
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        conn = http.client.HTTPConnection(self._up_host, self._up_port, timeout=30)
        try:
            conn.request(method, path, body=body_in or None, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            status, reason, resp_headers = resp.status, resp.reason, resp.getheaders()
        finally:
            conn.close()
        out_headers = [(k, v) for k, v in resp_headers if k.lower() not in _HOP]
        out_headers = [(k, v.replace(f"{self._up_host}:{self._up_port}", self.host) if k.lower() == "location" else v)
                       for k, v in out_headers]
        outcome = str(status)
        if fault and fault.kind == "corrupt" and body:
            mid = len(body) // 2
            body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1 :]
            outcome = "corrupt"
        elif fault and fault.kind == "replace":
            body = fault.body
            outcome = "replace"
            out_headers = [(k, v) for k, v in out_headers if k.lower() not in ("content-length", "content-type")
                           and (fault.keep_digest or k.lower() != "docker-content-digest")]
            out_headers.append(("Content-Type", fault.content_type or dict(
                (k.lower(), v) for k, v in resp_headers).get("content-type", "application/json")))
            if not fault.keep_digest:
                out_headers.append(("Docker-Content-Digest", sha256(body)))
            out_headers.append(("Content-Length", str(len(body))))
        h.send_response(status, reason)
        for k, v in out_headers:
            h.send_header(k, v)
        h.end_headers()
        if method == "HEAD":
            self._record(method, path, outcome)
            return
        if fault and fault.kind == "truncate":
            self._record(method, path, "truncate")
            h.wfile.write(body[: int(len(body) * fault.keep)])
            h.wfile.flush()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        self._record(method, path, outcome)
        h.wfile.write(body)


# ----------------------------------------------------------------------------- pytest fixtures


@pytest.fixture(scope="session")
def _registry_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="hullscan-registries-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def registry(_registry_root: Path) -> Iterator[RegistryServer]:
    """An anonymous plain-http registry."""
    server = start_registry(_registry_root / "anonymous")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(_registry_root: Path) -> Iterator[RegistryServer]:
    """A registry with htpasswd (bcrypt) basic auth, served over https signed by a test CA."""
    server = start_registry(_registry_root / "basic", auth="htpasswd", tls=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(_registry_root: Path) -> Iterator[RegistryServer]:
    """A registry behind the bearer-token flow, with a token service run by the fixture."""
    server = start_registry(_registry_root / "token", auth="token")
    yield server
    server.stop()


@pytest.fixture
def faulty_registry(registry: RegistryServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the anonymous registry (fresh per test)."""
    proxy = FaultProxy(registry)
    yield proxy
    proxy.stop()
