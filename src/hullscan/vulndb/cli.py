"""``hullscan db``: import, update and status of the vulnerability database (thin over
:mod:`hullscan.vulndb.manage`). Progress bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hullscan.vulndb.manage import Outcome, Progress

db_app = typer.Typer(help="The vulnerability database: import, update, status.", no_args_is_help=True)



def register(app: typer.Typer) -> None:
    """Add ``hullscan db``."""
    app.add_typer(db_app, name="db")


_DB_OPTION = typer.Option("--db", envvar="HULLSCAN_DB", help="Database file (default: <cache dir>/db/vuln.db).")


def _db_path(db: Path | None) -> Path:
    from hullscan.options import default_db_path

    return db if db is not None else default_db_path()


@contextmanager
def _progress(quiet: bool) -> Iterator[Progress | None]:
    """A rich progress display (one line per source) on a terminal; nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    tasks: dict[str, int] = {}
    with RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[n]} records"),
                      TimeElapsedColumn(), console=Console(file=sys.stderr), transient=False) as bar:
        def update(name: str, count: int, done: bool) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=1, n=0)
            bar.update(tasks[name], n=count, completed=1 if done else 0)  # type: ignore[arg-type]

        yield update


def _print_outcomes(outcomes: list[Outcome], db: Path) -> None:
    for o in outcomes:
        if o.status == "imported":
            print(f"{o.name}: {o.records} records")
        elif o.status == "unchanged":
            print(f"{o.name}: unchanged ({o.records} records kept)")
        elif o.status == "kept":
            print(f"{o.name}: not found, {o.records} records kept from the previous database ({o.message})")
        else:
            print(f"{o.name}: skipped ({o.message})")
    total = sum(o.records for o in outcomes if o.status in ("imported", "unchanged", "kept"))
    print(f"database {db}: {total} records from {sum(o.status != 'skipped' for o in outcomes)} source(s) written")


@db_app.command("import")
def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files, zips or folders: OSV bulk zips / JSON / YAML, Debian "
                                                "tracker JSON, DSA/DLA lists, Alpine secdb, Ubuntu CVE tracker.")],
    db: Annotated[Path | None, _DB_OPTION] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Add or replace sources from local files (the format is detected)."""
    from hullscan.vulndb.manage import import_paths

    target = _db_path(db)
    with _progress(quiet) as progress:
        outcomes = import_paths(target, list(paths), progress)
    _print_outcomes(outcomes, target)


@db_app.command("update")
def update_cmd(
    db: Annotated[Path | None, _DB_OPTION] = None,
    sources: Annotated[str | None, typer.Option(
        envvar="HULLSCAN_DB_SOURCES",
        help="Sources: a YAML/JSON source list (path or URL) or an offline mirror root (folder, file:// or "
             "http(s):// URL). Default: the public online feeds.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Download the configured sources and rebuild the database (unchanged sources are kept)."""
    from hullscan.vulndb.manage import configured_sources, update

    target = _db_path(db)
    with _progress(quiet) as progress:
        outcomes = update(target, configured_sources(sources or ""), progress)
    _print_outcomes(outcomes, target)


@db_app.command("status")
def status_cmd(db: Annotated[Path | None, _DB_OPTION] = None) -> None:
    """Each source with its record count, newest record and import time."""
    from hullscan.vulndb.db import VulnDB

    target = _db_path(db)
    with VulnDB(target) as vdb:
        rows = vdb.sources()
        meta = vdb.meta()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{target} (schema {meta.get('schema_version')}, built {meta.get('built_at', '?')})")
    for col in ("Source", "Feed", "Records", "Newest record", "Imported", "Location"):
        table.add_column(col, overflow="fold")
    for s in rows:
        table.add_row(s.name, s.feed, str(s.records), s.newest or "-", s.imported_at, s.location)
    Console(file=sys.stdout, width=max(120, Console().width)).print(table)
    print(f"{len(rows)} source(s), {sum(s.records for s in rows)} records")
