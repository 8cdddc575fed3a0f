"""Scan options: one object passed down explicitly (plugins never read globals or the environment)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hullscan.model import Platform

#: every scanner name; the inventory (OS + application packages) is always built
ALL_SCANNERS = ("vuln", "secret", "malware", "baseline", "history")
DEFAULT_SCANNERS = ("vuln", "secret")


def default_cache_dir() -> Path:
    """``$HULLSCAN_CACHE_DIR`` or the user's cache dir (``~/.cache/hullscan``)."""
    env = os.environ.get("HULLSCAN_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hullscan"))


def default_db_path() -> Path:
    """``$HULLSCAN_DB`` or ``<cache dir>/db/vuln.db``."""
    env = os.environ.get("HULLSCAN_DB")
    return Path(env) if env else default_cache_dir() / "db" / "vuln.db"


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety limits for reading images. Exceeding ``max_total_bytes`` or ``max_entries`` ends the scan with
    LimitExceededError; a file over ``max_file_size`` is skipped with a warning (never read)."""

    max_file_size: int = 256 * 1024 * 1024  # largest single file an analyzer may read
    max_total_bytes: int = 64 * 1024 * 1024 * 1024  # uncompressed bytes read over the whole image
    max_entries: int = 5_000_000  # tar entries over the whole image
    max_layer_bytes: int = 32 * 1024 * 1024 * 1024  # uncompressed bytes of one layer


@dataclass(frozen=True, slots=True)
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
    same_host_redirects: bool = False  # refuse redirects to another host (a server pulling for a remote caller)


@dataclass(frozen=True, slots=True)
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
    #: ``--skip-dirs`` / ``--skip-files``: fnmatch globs over image paths (no leading ``/``); a matching file, or a
    #: file under a matching directory, is never offered to the analyzers, so it is never read
    skip_dirs: tuple[str, ...] = ()
    skip_files: tuple[str, ...] = ()
    #: called by the vuln stage with ``db_path`` before it opens the database, when there are packages to match:
    #: the CLI downloads a missing database or refreshes a stale one there (the library itself never downloads).
    #: It returns a note for the report ('' for none) or raises DatabaseError.
    prepare_db: Callable[[Path], str] | None = field(default=None, compare=False)
