"""Commands of the server: ``hullscan server`` and ``hullscan admin create``; the top-level CLI registers them.

Also runnable as ``python -m hullscan.server`` (the whole ``hullscan`` CLI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from hullscan.errors import InputError

admin_app = typer.Typer(help="Security center administration.", no_args_is_help=True)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="data directory (default: the user data dir)")]
DbUrl = Annotated[str, typer.Option("--db-url", envvar="HULLSCAN_DB_URL",
                                     help="SQLAlchemy URL of the store, e.g. postgresql+psycopg://user:pw@host/db "
                                          "(default: SQLite in the data dir)")]
Broker = Annotated[str, typer.Option("--broker", envvar="HULLSCAN_BROKER_URL",
                                     help="Celery broker of a cluster: redis://host:6379/0 or amqp://user:pw@host:5672// "
                                          "(default: none, tasks run in the server process)")]
RedisUrl = Annotated[str, typer.Option("--redis-url", envvar="HULLSCAN_REDIS_URL",
                                       help="Redis for cluster-wide registry rate limits (default: the broker if Redis)")]
VulnDb = Annotated[Optional[Path], typer.Option("--vuln-db", envvar="HULLSCAN_DB",
                                                help="vulnerability database (default: <cache dir>/db/vuln.db)")]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning, error")]


def _config(data_dir: Path | None, db_url: str, **kw: object) -> "object":
    from hullscan.server.runtime import ServerConfig, default_data_dir

    lease = os.environ.get("HULLSCAN_CLAIM_LEASE_SECONDS")
    if lease:
        kw.setdefault("claim_lease_seconds", float(lease))
    return ServerConfig(data_dir=data_dir or default_data_dir(), db_url=db_url or os.environ.get("HULLSCAN_DB_URL", ""), **kw)  # type: ignore[arg-type]


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    db_url: DbUrl = "",
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option(help="in-process scan workers (embedded mode)")] = 2,
    vuln_db: VulnDb = None,
    broker: Broker = "",
    redis_url: RedisUrl = "",
    scheduler: Annotated[Optional[bool], typer.Option(
        "--scheduler/--no-scheduler", help="run the scheduler in this process (default: yes embedded, no with --broker)")] = None,
    log_level: LogLevel = "info",
    vulndata: Annotated[Optional[Path], typer.Option(
        "--vulndata", envvar="HULLSCAN_VULNDATA",
        help="offline vulnerability feeds to build the database from on first start (default: the public feeds)")] = None,
) -> None:
    """Start the security center: API and console. Embedded (default): SQLite, in-process workers and scheduler.
    With --broker: tasks go to `hullscan worker` processes, the schedule to `hullscan scheduler`."""
    from hullscan.server.main import run_server

    config = _config(data_dir, db_url, workers=workers, vuln_db_path=vuln_db, broker_url=broker, redis_url=redis_url,
                     scheduler=(not broker) if scheduler is None else scheduler, vulndata=vulndata)
    run_server(config, host, port, log_level)  # type: ignore[arg-type]


def worker(
    broker: Broker = "",
    db_url: DbUrl = "",
    data_dir: DataDir = None,
    vuln_db: VulnDb = None,
    redis_url: RedisUrl = "",
    concurrency: Annotated[int, typer.Option(help="jobs run at once by this worker")] = 2,
    queues: Annotated[str, typer.Option(help="comma-separated queues to take jobs from (default: all)")] = "",
    pool: Annotated[str, typer.Option(help="Celery pool: prefork (processes), threads or solo")] = "prefork",
    log_level: LogLevel = "info",
) -> None:
    """Run a worker of a cluster: takes sync, scan (one job per digest), re-match and other tasks from the broker."""
    from hullscan.server.distributed import run_worker

    if not broker:
        raise InputError("a worker needs the cluster's broker: --broker redis://host:6379/0 (or $HULLSCAN_BROKER_URL)")
    config = _config(data_dir, db_url, vuln_db_path=vuln_db, broker_url=broker, redis_url=redis_url, scheduler=False)
    run_worker(config, concurrency, [q for q in queues.split(",") if q], pool, log_level)  # type: ignore[arg-type]


def scheduler_command(
    broker: Broker = "",
    db_url: DbUrl = "",
    data_dir: DataDir = None,
    vuln_db: VulnDb = None,
    redis_url: RedisUrl = "",
    tick_seconds: Annotated[float, typer.Option(help="seconds between two looks at what is due")] = 30.0,
    log_level: LogLevel = "info",
) -> None:
    """Run the cluster's scheduler (daily sync, periodic scans, re-match after a DB update, retention purge, lost
    jobs). Several may run: one leads (a lease in the store), the others wait to take over."""
    from hullscan.server.main import run_scheduler

    if not broker:
        raise InputError("the scheduler of a cluster needs its broker: --broker redis://host:6379/0 (or $HULLSCAN_BROKER_URL)")
    config = _config(data_dir, db_url, vuln_db_path=vuln_db, broker_url=broker, redis_url=redis_url, tick_seconds=tick_seconds)
    run_scheduler(config, log_level)  # type: ignore[arg-type]


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Option(help="user name")] = "admin",
    password: Annotated[Optional[str], typer.Option(help="password (default: $HULLSCAN_ADMIN_PASSWORD or a prompt)")] = None,
    role: Annotated[str, typer.Option(help="admin, operator or viewer")] = "admin",
    db_url: DbUrl = "",
    data_dir: DataDir = None,
) -> None:
    """Create a user (the first admin) and print an API token for it."""
    from hullscan.server.auth import create_token, create_user
    from hullscan.server.runtime import build_runtime

    pw = password or os.environ.get("HULLSCAN_ADMIN_PASSWORD") or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(pw) < 8:
        raise InputError("the password must have at least 8 characters")
    rt = build_runtime(_config(data_dir, db_url, scheduler=False))  # type: ignore[arg-type]
    try:
        with rt.session() as s:
            user = create_user(s, username, pw, role)
            token = create_token(s, user, "created by hullscan admin create")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    typer.echo(f"created {role} {username!r}; API token (shown once):")
    typer.echo(token)


def register(app: typer.Typer) -> None:
    """Add ``server``, ``worker``, ``scheduler`` and ``admin`` to the top-level ``hullscan`` app."""
    app.command("server")(serve)
    app.command("worker")(worker)
    app.command("scheduler")(scheduler_command)
    app.add_typer(admin_app, name="admin")
