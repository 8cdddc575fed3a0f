"""Keeping the vulnerability database usable before a scan: :func:`ensure`.

* No database (or an unusable one: unreadable, another schema): it is built with :func:`~hullscan.vulndb.manage.update`
  from the configured sources (``HULLSCAN_DB_SOURCES``: a mirror folder or URL, or the public feeds), unless
  updating is forbidden (``--skip-db-update`` / ``--offline``): then a :class:`DatabaseError` says so and how to get one.
* A database older than ``max_age`` (its ``built_at``): refreshed the same way when allowed; when it is not, when
  it holds sources the configuration does not list (added by ``db import``: a rebuild would drop them), or when
  the refresh fails (no network, a feed down), the old database is used and a warning says how old it is.

The CLI calls this before a scan that matches vulnerabilities; the library's scan never downloads anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hullscan.errors import DatabaseError, HullscanError
from hullscan.vulndb.db import read_sources
from hullscan.vulndb.manage import Progress, configured_sources, update


@dataclass(frozen=True, slots=True)
class Freshness:
    """What :func:`ensure` did: ``action`` is ``fresh``, ``downloaded``, ``refreshed`` or ``stale`` (used as is, with
    ``warning`` saying why)."""

    action: str
    built_at: str = ""
    warning: str = ""


def built_at(path: Path) -> datetime | None:
    """The database's build time (None when it has none); DatabaseError when it is missing or unusable."""
    from hullscan.vulndb.db import VulnDB

    with VulnDB(path) as db:
        text = db.meta().get("built_at", "")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _age(seconds: float) -> str:
    days, hours = int(seconds // 86400), int(seconds % 86400 // 3600)
    return f"{days} day{'s' if days != 1 else ''}" if days else f"{hours} hour{'s' if hours != 1 else ''}"


def ensure(path: Path, *, allow_update: bool, max_age: float | None, progress: Progress | None = None,
           sources: str | None = None, now: datetime | None = None) -> Freshness:
    """Make sure a usable database is at ``path`` (see the module docstring). ``max_age`` in seconds (None: no
    limit); ``sources`` as ``HULLSCAN_DB_SOURCES``."""
    try:
        built = built_at(path)
    except DatabaseError as exc:
        if not allow_update:
            raise DatabaseError(f"{exc} (updates are off: --skip-db-update / --offline; build it with "
                                "`hullscan db update`, or `hullscan db import PATH` on an offline host)") from None
        try:
            update(path, configured_sources(sources), progress)
        except HullscanError as err:
            raise DatabaseError(f"no usable vulnerability database at {path}, and downloading it failed: {err}") from None
        return Freshness("downloaded", _text(built_at(path)))
    now = now or datetime.now(UTC)
    age = (now - built).total_seconds() if built is not None else None
    if max_age is None or (age is not None and age <= max_age):
        return Freshness("fresh", _text(built))
    how_old = f"built {_age(age)} ago" if age is not None else "of unknown build time"
    if not allow_update:
        return Freshness("stale", _text(built), f"the vulnerability database {path} is {how_old} (older than "
                         f"--db-max-age); updates are off: run `hullscan db update`")
    specs = configured_sources(sources)
    own = set(read_sources(path)) - {s.name for s in specs}
    if own:  # a refresh rebuilds from the configured sources: it would drop what `db import` added
        return Freshness("stale", _text(built), f"the vulnerability database {path} is {how_old} (older than "
                         f"--db-max-age) and holds imported sources ({', '.join(sorted(own))}): refresh it with "
                         "`hullscan db import`, or `hullscan db update` to rebuild it from the configured sources")
    try:
        update(path, specs, progress)
    except HullscanError as err:
        return Freshness("stale", _text(built), f"the vulnerability database {path} is {how_old} and could not be "
                         f"refreshed ({err}): scanning with it")
    return Freshness("refreshed", _text(built_at(path)))


def _text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""
