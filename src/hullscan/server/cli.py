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
DbUrl = Annotated[str, typer.Option("--db-url", help="SQLAlchemy URL of the store (default: SQLite in the data dir)")]


def _config(data_dir: Path | None, db_url: str, **kw: object) -> "object":
    from hullscan.server.runtime import ServerConfig, default_data_dir

    return ServerConfig(data_dir=data_dir or default_data_dir(), db_url=db_url or os.environ.get("HULLSCAN_DB_URL", ""), **kw)  # type: ignore[arg-type]


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    db_url: DbUrl = "",
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option(help="in-process scan workers")] = 2,
    vuln_db: Annotated[Optional[Path], typer.Option("--vuln-db", envvar="HULLSCAN_DB",
                                                    help="vulnerability database (default: <cache dir>/db/vuln.db)")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
    vulndata: Annotated[Optional[Path], typer.Option(
        "--vulndata", envvar="HULLSCAN_VULNDATA",
        help="offline vulnerability feeds to build the database from on first start (default: the public feeds)")] = None,
) -> None:
    """Start the security center (embedded: SQLite, in-process workers and scheduler)."""
    from hullscan.server.main import run_server

    run_server(_config(data_dir, db_url, workers=workers, vuln_db_path=vuln_db, vulndata=vulndata),  # type: ignore[arg-type]
               host, port, log_level)


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
    """Add ``server`` and ``admin`` to the top-level ``hullscan`` app."""
    app.command("server")(serve)
    app.add_typer(admin_app, name="admin")
