"""Scan options: one object passed down explicitly (plugins never read globals or the environment)."""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path

from hullscan.model import FACTORY, Platform, lean_dataclass

_set = object.__setattr__

#: every scanner name; the inventory (OS + application packages) is always built
ALL_SCANNERS = ("vuln", "secret", "malware", "baseline", "history")
DEFAULT_SCANNERS = ("vuln", "secret")


def default_cache_dir() -> Path:
    """``$HULLSCAN_CACHE_DIR`` or the user's cache dir (``~/.cache/hullscan``)."""
    from hullscan.resultcache import default_cache_dir as folder

    return Path(folder())


def default_db_path() -> Path:
    """``$HULLSCAN_DB`` or ``<cache dir>/db/vuln.db``."""
    env = os.environ.get("HULLSCAN_DB")
    return Path(env) if env else default_cache_dir() / "db" / "vuln.db"


@lean_dataclass(frozen=True)
class Limits:
    """Safety limits for reading images. Exceeding ``max_total_bytes`` or ``max_entries`` ends the scan with
    LimitExceededError; a file over ``max_file_size`` is skipped with a warning (never read)."""

    max_file_size: int = 256 * 1024 * 1024  # largest single file an analyzer may read
    max_total_bytes: int = 64 * 1024 * 1024 * 1024  # uncompressed bytes read over the whole image
    max_entries: int = 5_000_000  # tar entries over the whole image
    max_layer_bytes: int = 32 * 1024 * 1024 * 1024  # uncompressed bytes of one layer

    def __init__(self, max_file_size: int = 256 * 1024 * 1024, max_total_bytes: int = 64 * 1024 * 1024 * 1024,
                 max_entries: int = 5_000_000, max_layer_bytes: int = 32 * 1024 * 1024 * 1024) -> None:
        _set(self, "max_file_size", max_file_size)
        _set(self, "max_total_bytes", max_total_bytes)
        _set(self, "max_entries", max_entries)
        _set(self, "max_layer_bytes", max_layer_bytes)


@lean_dataclass(frozen=True)
class RegistryOptions:
    """How to talk to registries."""

    username: str | None = None
    password: str | None = None
    registry_token: str | None = None  # a bearer token to use as is
    insecure: bool = False  # plain http (and no TLS verification)
    ca_bundle: str | None = None  # PEM file of extra CAs
    docker_config: str | None = None  # path to config.json; default ~/.docker/config.json ($DOCKER_CONFIG)
    timeout: float = 60.0
    retries: int = 5
    max_retry_seconds: float = 60.0  # total time spent backing off before giving up

    def __init__(self, username: str | None = None, password: str | None = None, registry_token: str | None = None,
                 insecure: bool = False, ca_bundle: str | None = None, docker_config: str | None = None,
                 timeout: float = 60.0, retries: int = 5, max_retry_seconds: float = 60.0) -> None:
        _set(self, "username", username)
        _set(self, "password", password)
        _set(self, "registry_token", registry_token)
        _set(self, "insecure", insecure)
        _set(self, "ca_bundle", ca_bundle)
        _set(self, "docker_config", docker_config)
        _set(self, "timeout", timeout)
        _set(self, "retries", retries)
        _set(self, "max_retry_seconds", max_retry_seconds)


@lean_dataclass(frozen=True)
class ScanOptions:
    """Everything one scan needs."""

    scanners: frozenset[str] = frozenset(DEFAULT_SCANNERS)
    platform: Platform | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    use_cache: bool = True
    db_path: Path = field(default_factory=default_db_path)
    limits: Limits = field(default_factory=Limits)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    analyzers: tuple[str, ...] | None = None  # restrict to these analyzer names
    checks: tuple[str, ...] = ()  # --checks: ids or categories to keep (empty: all)
    skip_checks: tuple[str, ...] = ()  # --skip-checks: ids or categories to drop
    workers: int = 0  # layer-analysis parallelism (0: number of cores)
    #: ``time.monotonic()`` after which the scan stops with TimeLimitError (checked between entries, layers, stages)
    deadline: float | None = None
    #: free-form settings for plugins, by plugin name (e.g. {"secret": {"config": "/path/rules.yaml"}})
    plugin_settings: dict[str, dict[str, object]] = field(default_factory=dict)
    quiet: bool = False

    def __init__(self, scanners: frozenset[str] = frozenset(DEFAULT_SCANNERS), platform: Platform | None = None,
                 cache_dir: Path = FACTORY, use_cache: bool = True, db_path: Path = FACTORY,
                 limits: Limits = FACTORY, registry: RegistryOptions = FACTORY,
                 analyzers: tuple[str, ...] | None = None, checks: tuple[str, ...] = (),
                 skip_checks: tuple[str, ...] = (), workers: int = 0, deadline: float | None = None,
                 plugin_settings: dict[str, dict[str, object]] = FACTORY, quiet: bool = False) -> None:
        _set(self, "scanners", scanners)
        _set(self, "platform", platform)
        _set(self, "cache_dir", default_cache_dir() if cache_dir is FACTORY else cache_dir)
        _set(self, "use_cache", use_cache)
        _set(self, "db_path", default_db_path() if db_path is FACTORY else db_path)
        _set(self, "limits", Limits() if limits is FACTORY else limits)
        _set(self, "registry", RegistryOptions() if registry is FACTORY else registry)
        _set(self, "analyzers", analyzers)
        _set(self, "checks", checks)
        _set(self, "skip_checks", skip_checks)
        _set(self, "workers", workers)
        _set(self, "deadline", deadline)
        _set(self, "plugin_settings", dict() if plugin_settings is FACTORY else plugin_settings)
        _set(self, "quiet", quiet)
