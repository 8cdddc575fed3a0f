"""Registry credentials: from flags, the environment, or Docker's ``config.json``.

Precedence (first that has something wins):

1. flags: ``RegistryOptions.username``/``password`` and ``registry_token``;
2. environment: ``HULLSCAN_USERNAME``/``HULLSCAN_PASSWORD`` and ``HULLSCAN_REGISTRY_TOKEN``;
3. ``config.json`` (``RegistryOptions.docker_config``, else ``$DOCKER_CONFIG/config.json``, else
   ``~/.docker/config.json``): ``credHelpers[host]`` / ``credsStore`` (the ``docker-credential-<name>``
   program, when installed), then ``auths[host]`` with base64 ``auth``, ``username``/``password`` or
   ``identitytoken``. Keys may carry a scheme and a path (``https://index.docker.io/v1/``); every
   Docker Hub alias matches Docker Hub.

Secrets are never part of ``repr()`` and never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hullscan.errors import InputError
from hullscan.options import RegistryOptions
from hullscan.registry.reference import DOCKER_HUB_ALIASES, DOCKER_HUB_API

ENV_USERNAME = "HULLSCAN_USERNAME"
ENV_PASSWORD = "HULLSCAN_PASSWORD"
ENV_TOKEN = "HULLSCAN_REGISTRY_TOKEN"
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    """What to authenticate with. Empty means anonymous. ``source`` says where it came from (for messages)."""

    username: str = field(default="")
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # an OAuth2 refresh token (docker login to some registries)
    registry_token: str = field(default="", repr=False)  # a bearer token used as is
    source: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        """True when there is nothing to authenticate with."""
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def describe(self) -> str:
        """A secret-free description such as ``user 'ci' (from environment)``."""
        if self.registry_token:
            return f"a registry token (from {self.source})"
        if self.identity_token:
            return f"an identity token (from {self.source})"
        if self.username or self.password:
            return f"user {self.username!r} (from {self.source})"
        return "anonymous access"


def resolve_credentials(
    registry: str, options: RegistryOptions, env: Mapping[str, str] | None = None
) -> Credentials:
    """The credentials for ``registry`` (the API host, e.g. ``registry-1.docker.io`` or ``127.0.0.1:5000``)."""
    env = os.environ if env is None else env
    if options.registry_token:
        return Credentials(registry_token=options.registry_token, source="--registry-token")
    if options.username or options.password:
        return Credentials(options.username or "", options.password or "", source="--username/--password")
    if env.get(ENV_TOKEN):
        return Credentials(registry_token=env[ENV_TOKEN], source=ENV_TOKEN)
    if env.get(ENV_USERNAME) or env.get(ENV_PASSWORD):
        source = f"{ENV_USERNAME}/{ENV_PASSWORD}"
        return Credentials(env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, ""), source=source)
    path = docker_config_path(options, env)
    if path is not None and path.is_file():
        return credentials_from_config(registry, path, env)
    return Credentials()


def docker_config_path(options: RegistryOptions, env: Mapping[str, str]) -> Path | None:
    """Where Docker's config.json is (it may not exist)."""
    if options.docker_config:
        return Path(options.docker_config).expanduser()
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".docker" / "config.json"


def _normalise_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``registry-1.docker.io``; ``http://host:5000`` -> ``host:5000``."""
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB_API if host in DOCKER_HUB_ALIASES else host


def credentials_from_config(registry: str, path: Path, env: Mapping[str, str] | None = None) -> Credentials:
    """Look ``registry`` up in the config.json at ``path``; a malformed file is an InputError naming it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"docker config {path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"docker config {path}: not a JSON object")
    want = _normalise_host(registry)
    source = f"docker config {path}"

    helpers = doc.get("credHelpers")
    helper = None
    if isinstance(helpers, dict):
        helper = next((v for k, v in helpers.items() if _normalise_host(k) == want and isinstance(v, str)), None)
    if helper is None and isinstance(doc.get("credsStore"), str):
        helper = doc["credsStore"]
    auths = doc.get("auths")
    entry = None
    server_key = registry
    if isinstance(auths, dict):
        for key, value in auths.items():
            if _normalise_host(key) == want and isinstance(value, dict):
                entry, server_key = value, key
                break
    if helper:
        from_helper = _from_helper(helper, server_key if entry is not None else _helper_server(want), env, path)
        if from_helper is not None:
            return from_helper
    if entry is None:
        return Credentials()
    if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
        token = entry["identitytoken"]
        return Credentials(username=str(entry.get("username", "")), identity_token=token, source=source)
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise InputError(f"docker config {path}: 'auth' for {server_key} is not valid base64 ({exc})") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise InputError(f"docker config {path}: 'auth' for {server_key} is not 'user:password'")
        return Credentials(user, password, source=source)
    if entry.get("username") or entry.get("password"):
        return Credentials(str(entry.get("username", "")), str(entry.get("password", "")), source=source)
    return Credentials()


def _helper_server(host: str) -> str:
    """The server URL docker passes to credential helpers."""
    return "https://index.docker.io/v1/" if host == DOCKER_HUB_API else host


def _from_helper(name: str, server: str, env: Mapping[str, str] | None, path: Path) -> Credentials | None:
    """Ask ``docker-credential-<name> get``; None when the helper is missing or knows nothing for ``server``."""
    search_path = (env or os.environ).get("PATH")
    program = shutil.which(f"docker-credential-{name}", path=search_path)
    if program is None:
        return None
    try:
        proc = subprocess.run(  # noqa: S603 - a fixed program found on PATH, as docker itself does
            [program, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False,
            env=dict(env) if env is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"docker credential helper {program} failed for {server}: {exc.__class__.__name__}") from None
    if proc.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(proc.stdout)
        user, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
    except (ValueError, AttributeError):
        raise InputError(f"docker credential helper {program} returned malformed output for {server}") from None
    source = f"docker-credential-{name} (via {path})"
    if user == "<token>":
        return Credentials(identity_token=secret, source=source)
    return Credentials(user, secret, source=source)
