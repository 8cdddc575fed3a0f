"""The vulnerability database: one schema-versioned SQLite file.

Layout (``SCHEMA_VERSION`` in table ``meta``)::

    meta(key, value)                      schema_version, built_at
    sources(name, feed, location, records, newest, imported_at, fingerprint)
    advisories(rid, id, source, aliases, summary, details, severity, severity_source, cvss,
               published, modified, withdrawn, refs, native)
    affected(rid, source, ns, name, ecosystem, package, entry, fix_status, severity)   index (ns, name)
    namespaces(ns, records)               which ecosystems / distro releases have data

``aliases``, ``cvss`` and ``refs`` are newline-separated lists; ``entry`` is JSON (an OSV ``affected`` object).
Matching reads the affected rows of many names of one namespace in a few indexed queries
(:meth:`VulnDB.rows`), decides on them, and reads only the advisories that hit (:meth:`VulnDB.load_advisories`).

Writes go through :class:`Builder`: it copies the current database (or starts empty) into a temp file
beside the target, replaces whole sources inside one transaction with ``journal_mode=OFF`` and
``synchronous=OFF``, creates the indexes after the load, and swaps the file in with ``os.replace``.
An import that fails halfway deletes the temp file: the previous database is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self

from hullscan.errors import DatabaseError
from hullscan.version.osvrange import CompiledEntry
from hullscan.vulndb.records import Record, normalise_name, normalise_namespace

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
  name TEXT PRIMARY KEY, feed TEXT NOT NULL, location TEXT NOT NULL, records INTEGER NOT NULL,
  newest TEXT NOT NULL, imported_at TEXT NOT NULL, fingerprint TEXT NOT NULL);
CREATE TABLE advisories (
  rid INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, aliases TEXT NOT NULL,
  summary TEXT NOT NULL, details TEXT NOT NULL, severity TEXT NOT NULL, severity_source TEXT NOT NULL,
  cvss TEXT NOT NULL, published TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT NOT NULL,
  refs TEXT NOT NULL, native INTEGER NOT NULL);
CREATE TABLE affected (
  rid INTEGER NOT NULL, source TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, ecosystem TEXT NOT NULL,
  package TEXT NOT NULL, entry TEXT NOT NULL, fix_status TEXT NOT NULL, severity TEXT NOT NULL);
CREATE TABLE namespaces (ns TEXT PRIMARY KEY, records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alias_index (alias TEXT NOT NULL, rid INTEGER NOT NULL);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS affected_ns_name ON affected (ns, name);
CREATE INDEX IF NOT EXISTS advisories_source ON advisories (source);
CREATE INDEX IF NOT EXISTS advisories_id ON advisories (id);
CREATE INDEX IF NOT EXISTS alias_index_alias ON alias_index (alias);
"""
_DROP_INDEXES = """
DROP INDEX IF EXISTS affected_ns_name;
DROP INDEX IF EXISTS advisories_source;
DROP INDEX IF EXISTS advisories_id;
DROP INDEX IF EXISTS alias_index_alias;
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SourceStatus:
    """One imported source, as ``hullscan db status`` shows it."""

    name: str
    feed: str
    location: str
    records: int
    newest: str
    imported_at: str
    fingerprint: str


class Advisory(NamedTuple):
    """An advisory row, decoded (a named tuple: matching builds tens of thousands of them)."""

    rid: int
    id: str
    source: str
    aliases: tuple[str, ...]
    summary: str
    details: str
    severity: str
    severity_source: str
    cvss: tuple[str, ...]
    published: str
    modified: str
    references: tuple[str, ...]
    native: bool


class AffectedRow(NamedTuple):
    """One affected entry as stored, before its advisory is read (matching decides on these alone)."""

    rid: int  # the advisory's row id
    namespace: str  # the OSV ecosystem string as the feed spelt it
    package: str
    entry: dict[str, Any]
    fix_status: str
    severity: str
    compiled: CompiledEntry  # ``entry`` ready to evaluate


class Candidate(NamedTuple):
    """One affected entry found for a package, with its advisory."""

    advisory: Advisory
    namespace: str  # the OSV ecosystem string as the feed spelt it
    package: str
    entry: dict[str, Any]
    fix_status: str
    severity: str


_ADV_COLUMNS = ("a.rid, a.id, a.source, a.aliases, a.summary, a.details, a.severity, a.severity_source, a.cvss, "
                "a.published, a.modified, a.refs, a.native")


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split("\n")) if text else ()


def _join(items: Iterable[str]) -> str:
    return "\n".join(i.replace("\n", " ") for i in items)


def _advisory(row: tuple[Any, ...]) -> Advisory:
    return Advisory(row[0], row[1], row[2], _split(row[3]), row[4], row[5], row[6], row[7], _split(row[8]),
                    row[9], row[10], _split(row[11]), bool(row[12]))


class VulnDB:
    """Read access to a built database. Raises :class:`DatabaseError` on a missing, corrupt or other-schema file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DatabaseError(
                f"no vulnerability database at {self.path}: run `hullscan db update` or `hullscan db import PATH`"
            )
        try:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"vulnerability database {self.path} is unreadable ({exc}): run `hullscan db update` or `hullscan db import`"
            ) from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            found = row[0] if row else "none"
            raise DatabaseError(
                f"vulnerability database {self.path} has schema {found}, this hullscan needs {SCHEMA_VERSION}: "
                "run `hullscan db update` or `hullscan db import PATH` to rebuild it"
            )
        self._advisories: dict[int, Advisory] = {}
        # (entry JSON, ecosystem) -> (decoded entry, compiled entry): identical entries (subpackages of one
        # errata...) are decoded and compiled once
        self._compiled: dict[tuple[str, str], tuple[dict[str, Any], CompiledEntry]] = {}
        self._namespaces: dict[str, int] = dict(self._conn.execute("SELECT ns, records FROM namespaces"))
        self._has_alias_index: bool | None = None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_namespace(self, namespace: str) -> bool:
        """True when some source holds data for this OSV ecosystem / distro release."""
        return normalise_namespace(namespace) in self._namespaces

    def namespaces(self) -> dict[str, int]:
        """Normalised namespace -> number of affected entries."""
        return dict(self._namespaces)

    def candidates(self, namespace: str, name: str) -> list[Candidate]:
        """Every affected entry for ``name`` in ``namespace``, with its advisory (withdrawn records have none)."""
        rows = self.rows(namespace, [name]).get(normalise_name(namespace, name), [])
        self.load_advisories(row.rid for row in rows)
        return [self.candidate(row) for row in rows]

    def rows(self, namespace: str, names: Iterable[str]) -> dict[str, list[AffectedRow]]:
        """The affected entries of every name of ``names`` in ``namespace``, keyed by normalised name (absent:
        none), each list in storage order. A few indexed queries of up to 500 names each; an entry's JSON is
        decoded and compiled once per database object."""
        ns = normalise_namespace(namespace)
        out: dict[str, list[AffectedRow]] = {}
        if ns not in self._namespaces:
            return out
        keys = sorted({normalise_name(namespace, n) for n in names})
        compiled = self._compiled
        new_row = tuple.__new__  # AffectedRow(...) without its Python-level __new__
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            query = ("SELECT name, rid, ecosystem, package, entry, fix_status, severity FROM affected "
                     f"WHERE ns = ? AND name IN ({marks}) ORDER BY name, rowid")
            for name, rid, ecosystem, package, text, fix_status, severity in self._conn.execute(query, (ns, *chunk)):
                found = compiled.get((text, ecosystem))
                if found is None:
                    if len(compiled) > 200_000:
                        compiled.clear()
                    entry = json.loads(text)
                    found = compiled[(text, ecosystem)] = (entry, CompiledEntry(entry, ecosystem))
                rows = out.get(name)
                if rows is None:
                    rows = out[name] = []
                rows.append(new_row(AffectedRow, (rid, ecosystem, package, found[0], fix_status, severity, found[1])))
        return out

    def load_advisories(self, rids: Iterable[int]) -> None:
        """Read the advisories of ``rids`` not read yet (queries of up to 500 ids)."""
        cache = self._advisories
        missing = sorted({rid for rid in rids if rid not in cache})
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for adv_row in self._conn.execute(f"SELECT {_ADV_COLUMNS} FROM advisories a WHERE a.rid IN ({marks})", chunk):
                cache[adv_row[0]] = _advisory(adv_row)

    def candidate(self, row: AffectedRow) -> Candidate:
        """``row`` with its advisory."""
        return Candidate(self.advisory(row.rid), row.namespace, row.package, row.entry, row.fix_status, row.severity)

    def advisory(self, rid: int) -> Advisory:
        """The advisory with row id ``rid`` (decoded once, then cached)."""
        cached = self._advisories.get(rid)
        if cached is None:
            row = self._conn.execute(f"SELECT {_ADV_COLUMNS} FROM advisories a WHERE a.rid = ?", (rid,)).fetchone()
            cached = self._advisories[rid] = _advisory(row)
        return cached

    def related(self, ids: Iterable[str]) -> dict[str, list[Advisory]]:
        """Per id of ``ids``: the advisories (any source) whose id or one of whose aliases it is. A database
        built before the alias index existed answers by id only."""
        wanted = sorted(set(ids))
        out: dict[str, list[Advisory]] = {}
        if self._has_alias_index is None:
            self._has_alias_index = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alias_index'").fetchone() is not None
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, rid FROM advisories WHERE id IN ({marks})"
            if self._has_alias_index:
                query += f" UNION SELECT alias, rid FROM alias_index WHERE alias IN ({marks})"
            for vid, rid in self._conn.execute(query, chunk * (2 if self._has_alias_index else 1)):
                out.setdefault(vid, []).append(self.advisory(rid))
        return out

    def find(self, vuln_id: str) -> list[Advisory]:
        """Advisories whose id is ``vuln_id`` (any source)."""
        rids = [r for (r,) in self._conn.execute("SELECT rid FROM advisories WHERE id = ?", (vuln_id,))]
        return [self.advisory(r) for r in rids]

    def sources(self) -> list[SourceStatus]:
        """Every imported source, sorted by name."""
        return [SourceStatus(*row) for row in self._conn.execute(
            "SELECT name, feed, location, records, newest, imported_at, fingerprint FROM sources ORDER BY name")]

    def meta(self) -> dict[str, str]:
        """The meta table."""
        return dict(self._conn.execute("SELECT key, value FROM meta"))


def read_sources(path: Path) -> dict[str, SourceStatus]:
    """The sources of the database at ``path``; empty when there is none or it is unusable."""
    try:
        with VulnDB(path) as db:
            return {s.name: s for s in db.sources()}
    except DatabaseError:
        return {}


class Builder:
    """Builds a new database file beside ``target`` and swaps it in on :meth:`commit`.

    ``keep_existing``: start from a copy of the current database (``db import`` adds or replaces sources);
    otherwise start empty (``db update`` rebuilds from the configured sources, keeping unchanged ones
    with :meth:`keep_source`). Use as a context manager: an exception inside the block aborts the build
    and leaves the target untouched.
    """

    def __init__(self, target: Path, keep_existing: bool = True) -> None:
        # the new file is swapped in with os.replace: through a symlink to the file it names, never over a device
        # or a FIFO (as root, --db /dev/null would have replaced the device with a database)
        self.target = Path(target).resolve() if Path(target).is_symlink() else Path(target)
        if self.target.exists() and not self.target.is_file():
            raise DatabaseError(f"{self.target}: not a regular file: give the path of a database file")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.target.parent / f".{self.target.name}.build-{os.getpid()}"
        self._old: Path | None = None
        existing = self.target.is_file() and bool(read_sources(self.target))
        self._conn: sqlite3.Connection | None = None
        if self.tmp.exists():
            self.tmp.unlink()
        if keep_existing and existing:
            shutil.copyfile(self.target, self.tmp)
            self._conn = sqlite3.connect(self.tmp, isolation_level=None)
            self._conn.executescript(_DROP_INDEXES)
        else:
            self._conn = sqlite3.connect(self.tmp, isolation_level=None)
            self._conn.executescript(_SCHEMA)
            self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            if existing:
                self._old = self.target
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("BEGIN")

    @property
    def conn(self) -> sqlite3.Connection:
        """The open build connection."""
        if self._conn is None:
            raise DatabaseError(f"database build of {self.target} is already finished")
        return self._conn

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        elif self._conn is not None:
            self.commit()

    def drop_source(self, name: str) -> None:
        """Remove every row of source ``name``."""
        c = self.conn
        c.execute("DELETE FROM affected WHERE source = ?", (name,))
        c.execute("DELETE FROM advisories WHERE source = ?", (name,))
        c.execute("DELETE FROM sources WHERE name = ?", (name,))

    def replace_source(self, name: str, feed: str, location: str, records: Iterable[Record], fingerprint: str = "") -> int:
        """Replace source ``name`` with ``records``; returns the number of records stored."""
        self.drop_source(name)
        c = self.conn
        row = c.execute("SELECT COALESCE(MAX(rid), 0) FROM advisories").fetchone()
        rid = int(row[0])
        adv_rows: list[tuple[Any, ...]] = []
        aff_rows: list[tuple[Any, ...]] = []
        newest = ""
        count = 0
        for rec in records:
            rid += 1
            count += 1
            stamp = max(rec.modified if not rec.modified.startswith("0001") else "", rec.published)
            newest = max(newest, stamp)
            adv_rows.append((
                rid, rec.id, name, _join(rec.aliases), rec.summary, rec.details, rec.severity,
                rec.severity_source, _join(rec.cvss), rec.published, rec.modified, rec.withdrawn,
                _join(rec.references), int(rec.native),
            ))
            for aff in () if rec.withdrawn else rec.affected:  # withdrawn: kept for lookup, never matched
                aff_rows.append((
                    rid, name, normalise_namespace(aff.namespace), normalise_name(aff.namespace, aff.package),
                    aff.namespace, aff.package, json.dumps(aff.entry, separators=(",", ":")), aff.fix_status, aff.severity,
                ))
            if len(aff_rows) > 20000 or len(adv_rows) > 5000:
                self._flush(adv_rows, aff_rows)
        self._flush(adv_rows, aff_rows)
        c.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, feed, location, count, newest, _now(), fingerprint),
        )
        return count

    def _flush(self, adv_rows: list[tuple[Any, ...]], aff_rows: list[tuple[Any, ...]]) -> None:
        self.conn.executemany("INSERT INTO advisories VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", adv_rows)
        self.conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?,?,?)", aff_rows)
        adv_rows.clear()
        aff_rows.clear()

    def keep_source(self, name: str) -> bool:
        """Copy source ``name`` unchanged from the previous database (``db update`` when a feed is unchanged)."""
        if self._old is None:
            return False
        c = self.conn
        c.execute("COMMIT")
        c.execute("ATTACH DATABASE ? AS old", (str(self._old),))
        c.execute("BEGIN")
        try:
            found = c.execute("SELECT COUNT(*) FROM old.sources WHERE name = ?", (name,)).fetchone()[0]
            if not found:
                return False
            self.drop_source(name)
            offset = int(c.execute("SELECT COALESCE(MAX(rid), 0) FROM advisories").fetchone()[0])
            c.execute("INSERT INTO advisories SELECT rid + ?, id, source, aliases, summary, details, severity, "
                      "severity_source, cvss, published, modified, withdrawn, refs, native FROM old.advisories "
                      "WHERE source = ?", (offset, name))
            c.execute("INSERT INTO affected SELECT rid + ?, source, ns, name, ecosystem, package, entry, fix_status, severity "
                      "FROM old.affected WHERE source = ?", (offset, name))
            c.execute("INSERT INTO sources SELECT * FROM old.sources WHERE name = ?", (name,))
            return True
        finally:
            c.execute("COMMIT")
            c.execute("DETACH DATABASE old")
            c.execute("BEGIN")

    def source_names(self) -> list[str]:
        """Names of the sources currently in the build."""
        return [n for (n,) in self.conn.execute("SELECT name FROM sources ORDER BY name")]

    def commit(self) -> None:
        """Index, record the namespaces, and atomically replace the target."""
        c = self.conn
        c.execute("DELETE FROM namespaces")
        c.execute("INSERT INTO namespaces SELECT ns, COUNT(*) FROM affected GROUP BY ns")
        # every alias of every advisory, for the severity of a finding that its own records leave UNKNOWN
        c.execute("CREATE TABLE IF NOT EXISTS alias_index (alias TEXT NOT NULL, rid INTEGER NOT NULL)")
        c.execute("DELETE FROM alias_index")
        c.executemany("INSERT INTO alias_index VALUES (?, ?)",
                      ((alias, rid) for rid, aliases in c.execute("SELECT rid, aliases FROM advisories WHERE aliases != ''").fetchall()
                       for alias in _split(aliases)))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('built_at', ?)", (_now(),))
        c.execute("COMMIT")
        c.executescript(_INDEXES)
        c.execute("ANALYZE")
        c.close()
        self._conn = None
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        """Throw the build away; the target is untouched."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        self.tmp.unlink(missing_ok=True)

