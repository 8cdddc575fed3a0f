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
    from hullscan.server.metrics import Metrics
    from hullscan.server.tasks import Queue


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
    #: offline vulnerability feeds the first-start database build imports (default: the public online feeds)
    vulndata: Path | None = None

    def resolved_db_url(self) -> str:
        """The store URL."""
        return self.db_url or f"sqlite:///{(self.data_dir / 'hullscan.db').resolve()}"


ScanFn = Callable[[str, "ScanOptions"], "ScanReport"]


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


def build_runtime(config: ServerConfig, **overrides: Any) -> Runtime:
    """Open the store (migrating it to head), the secret key and the metrics for ``config``."""
    from hullscan.server.crypto import SecretBox
    from hullscan.server.db.migrate import upgrade
    from hullscan.server.db.session import make_engine, make_sessionmaker
    from hullscan.server.metrics import Metrics

    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(config.resolved_db_url())
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
