"""The server's runtime: configuration, store, secrets, queue, clock. One object passed down explicitly.

Task functions receive a :class:`Runtime` and a task id only, so the same functions run in the in-process
queue today and in a Celery worker later (which builds its own Runtime from the same configuration).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from hullscan.model import ScanReport
    from hullscan.options import ScanOptions
    from hullscan.server.crypto import SecretBox
    from hullscan.server.logins import LoginGuard
    from hullscan.server.metrics import Metrics
    from hullscan.server.tasks import Queue


def _env_list(name: str) -> tuple[str, ...]:
    import os

    return tuple(x.strip() for x in os.environ.get(name, "").split(",") if x.strip())


def default_data_dir() -> Path:
    """``$HULLSCAN_DATA_DIR`` or the user data dir (``~/.local/share/hullscan``)."""
    import os

    env = os.environ.get("HULLSCAN_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("hullscan"))


@dataclass
class ServerConfig:
    """Start-up configuration of a security center (CLI flags / environment)."""

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str = ""  # default: sqlite:///<data_dir>/hullscan.db
    vuln_db_path: Path | None = None  # default: hullscan.options.default_db_path()
    workers: int = 2
    scheduler: bool = True
    tick_seconds: float = 30.0
    registry_timeout: float = 15.0  # seconds per registry API request during sync
    #: distributed mode: the Celery broker (redis://…, amqp://…); "" runs tasks in the server process
    broker_url: str = ""
    #: Redis for the cluster-wide registry rate limits (default: the broker when it is Redis; else the store)
    redis_url: str = ""
    #: a digest claim lapses this long after its holder's last heartbeat (a dead worker's digest is taken over)
    claim_lease_seconds: float = 60.0
    #: where workers share layer analyses: "store" (the layer_results table) or "local" (the data dir's cache)
    layer_cache: str = "local"
    #: registries the Harbor scanner adapter may pull from besides the added ones (``host`` or ``host:port``;
    #: ``$HULLSCAN_HARBOR_REGISTRIES``, comma-separated)
    harbor_registries: tuple[str, ...] = field(default_factory=lambda: _env_list("HULLSCAN_HARBOR_REGISTRIES"))
    #: seconds of retry back-off a pull may spend on one registry request before the image fails
    pull_retry_seconds: float = 60.0
    #: consecutive "registry unreachable" failures after which a scan task gives up on that registry's other images
    breaker_threshold: int = 3
    #: SQLite: seconds a write waits for another process's write (this process's writers queue on a lock instead)
    db_busy_timeout: float = 5.0
    #: SQLite: seconds a write waits for its turn among this process's writers before the API answers 503
    db_write_wait: float = 10.0
    #: offline vulnerability feeds the first-start database build imports (default: the public online feeds)
    vulndata: Path | None = None

    def resolved_db_url(self) -> str:
        """The store URL."""
        return self.db_url or f"sqlite:///{(self.data_dir / 'hullscan.db').resolve()}"


ScanFn = Callable[[str, "ScanOptions"], "ScanReport"]


def _login_guard() -> LoginGuard:
    from hullscan.server.logins import LoginGuard

    return LoginGuard()


def _default_scan(target: str, options: "ScanOptions") -> "ScanReport":
    from hullscan.scan import scan

    return scan(target, options)


@dataclass
class Runtime:
    """Everything tasks and API handlers share."""

    config: ServerConfig
    engine: "Engine"
    sessions: "sessionmaker[Session]"
    secrets: "SecretBox"
    metrics: "Metrics"
    queue: "Queue | None" = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    scan_fn: ScanFn = _default_scan
    #: (registry_id, images per hour, now) -> seconds to wait (0: go); None: the store's token bucket
    rate_limiter: Callable[[int, "int | None", float], float] | None = None
    logins: LoginGuard = field(default_factory=lambda: _login_guard())

    def now(self) -> datetime:
        """The clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    @contextmanager
    def session(self) -> Iterator["Session"]:
        """A session committed on success and rolled back on error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @property
    def vuln_db_path(self) -> Path:
        """The vulnerability database file the ``vuln`` stage reads."""
        if self.config.vuln_db_path is not None:
            return self.config.vuln_db_path
        from hullscan.options import default_db_path

        return default_db_path()

    @property
    def cache_dir(self) -> Path:
        """The layer cache shared by every scan of this server (identical layers are analysed once)."""
        return self.config.data_dir / "cache"


def secure_data_dir(data_dir: Path, store_file: Path | None = None) -> None:
    """Create the data dir 0700, or tighten an existing one and the key file in it to the owner only (with a
    warning): the store holds password hashes and encrypted credentials, the key file decrypts them. A folder or
    file that can't be tightened (owned by someone else) is refused with a message naming it. ``store_file``, the
    SQLite store, is created 0600 before SQLite opens it (its ``-wal``/``-shm`` files take its mode)."""
    import logging
    import os
    import stat

    from hullscan.errors import InputError

    log = logging.getLogger("hullscan.server")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    checks = [(data_dir, 0o700, True), (data_dir / "secret.key", 0o600, True)]
    if store_file is not None:
        if not store_file.exists():
            os.close(os.open(store_file, os.O_WRONLY | os.O_CREAT, 0o600))
        checks += [(store_file.with_name(store_file.name + suffix), 0o600, False) for suffix in ("", "-wal", "-shm")]
    for path, mode, warn in checks:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if stat.S_IMODE(st.st_mode) & 0o077 == 0:
            continue
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise InputError(f"{path} is readable by other users (mode {stat.S_IMODE(st.st_mode):o}) and can't be "
                             f"tightened ({exc.strerror}): make it mode {mode:o}, owned by the server's user") from None
        if warn:
            log.warning("%s was readable by other users (mode %o): tightened to %o", path, stat.S_IMODE(st.st_mode), mode)


def build_runtime(config: ServerConfig, **overrides: Any) -> Runtime:
    """Open the store (migrating it to head), the secret key and the metrics for ``config``."""
    from hullscan.server.crypto import SecretBox
    from hullscan.server.db.migrate import upgrade
    from hullscan.server.db.session import make_engine, make_sessionmaker
    from hullscan.server.metrics import Metrics

    secure_data_dir(config.data_dir, None if config.db_url else config.data_dir / "hullscan.db")
    engine = make_engine(config.resolved_db_url(), config.db_busy_timeout, config.db_write_wait)
    upgrade(engine)
    rt = Runtime(
        config=config,
        engine=engine,
        sessions=make_sessionmaker(engine),
        secrets=SecretBox.load(config.data_dir),
        metrics=Metrics(),
        **overrides,
    )
    from hullscan.server.bootstrap import ensure_defaults

    with rt.session() as s:
        ensure_defaults(s)
    return rt
