"""``hullscan version`` / ``hullscan --version``: hullscan's version and the vulnerability database's (its file,
schema version, build time and age), as text or JSON (``--format json``)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``hullscan version``."""
    app.command("version")(version_cmd)


def version_info(db: Path | None = None) -> dict[str, Any]:
    """hullscan's version and the database's state (``database.present`` False when there is none or it is
    unusable, with the reason in ``database.error``)."""
    from hullscan import __version__
    from hullscan.errors import DatabaseError
    from hullscan.options import default_db_path
    from hullscan.vulndb.db import SCHEMA_VERSION, VulnDB

    path = db if db is not None else default_db_path()
    database: dict[str, Any] = {"path": str(path), "present": False, "schema_version": None,
                                "supported_schema_version": SCHEMA_VERSION, "built_at": None, "age_seconds": None}
    try:
        with VulnDB(path) as vdb:
            meta = vdb.meta()
            sources = [s.name for s in vdb.sources()]
        database.update(present=True, schema_version=int(meta.get("schema_version", 0)),
                        built_at=meta.get("built_at"), sources=sources)
        built = _parse_time(meta.get("built_at"))
        if built is not None:
            database["age_seconds"] = max(0, int((datetime.now(UTC) - built).total_seconds()))
    except DatabaseError as exc:
        database["error"] = str(exc)
    return {"version": __version__, "database": database}


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def human_age(seconds: int) -> str:
    """``3 days``, ``5 hours``, ``12 minutes``, ``40 seconds``."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def version_text(info: dict[str, Any]) -> str:
    """The text form of :func:`version_info`."""
    db = info["database"]
    lines = [f"hullscan {info['version']}"]
    if db["present"]:
        age = f", {human_age(db['age_seconds'])} old" if db["age_seconds"] is not None else ""
        lines.append(f"Vulnerability database: {db['path']}")
        lines.append(f"  schema version {db['schema_version']}, built {db['built_at'] or 'at an unknown time'}{age}")
        lines.append(f"  sources: {', '.join(db.get('sources') or []) or 'none'}")
    else:
        lines.append(f"Vulnerability database: none at {db['path']} (supported schema version "
                     f"{db['supported_schema_version']}; `hullscan db update` builds it)")
    return "\n".join(lines)


def print_version(ctx: Any, param: Any, value: bool) -> None:
    """The eager ``--version`` flag of the root command."""
    if not value or getattr(ctx, "resilient_parsing", False):
        return
    print(version_text(version_info()))
    raise SystemExit(0)


def version_cmd(
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    db: Annotated[Path | None, typer.Option(envvar="HULLSCAN_DB", help="Vulnerability database file.")] = None,
) -> None:
    """Print hullscan's version and the vulnerability database's (schema version, build time and age)."""
    from hullscan.errors import InputError

    if format not in ("text", "json"):
        raise InputError(f"unknown format {format!r}: choose from text, json")
    info = version_info(db)
    print(json.dumps(info, indent=2) if format == "json" else version_text(info))
