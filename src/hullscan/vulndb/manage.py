"""Building the database: ``import_paths`` (``hullscan db import``) and ``update`` (``hullscan db update``).

Both build beside the target and swap atomically (:class:`~hullscan.vulndb.db.Builder`): an error
anywhere leaves the previous database as it was.

Sources for ``update``: the default list in ``rules/vuln-sources.yaml`` (public online feeds), or
``HULLSCAN_DB_SOURCES`` (or the ``sources`` argument), which is either

* a YAML/JSON file (path or URL) with the same shape (``sources`` list, optional ``osv_bucket`` and
  ``osv_ecosystems``), or
* an offline mirror root (a folder, ``file://`` or ``http(s)://`` URL): every default source is then
  read from ``<root>/<mirror path>`` (``<root>/PyPI/all.zip``, ``<root>/debian-tracker/json``...), and
  documents missing from the mirror are skipped and reported.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from hullscan.errors import FeedError, HullscanError, InputError
from hullscan.vulndb.db import Builder, read_sources
from hullscan.vulndb.feeds import FEEDS
from hullscan.vulndb.feeds.discover import Unit, discover
from hullscan.vulndb.feeds.fetch import FeedNotFoundError, fetch, local_path
from hullscan.vulndb.records import Record

#: progress callback: (source name, records stored so far, finished?)
Progress = Callable[[str, int, bool], None]


@dataclass(frozen=True)
class SourceSpec:
    """One configured source of ``db update``."""

    name: str
    feed: str
    url: str
    optional: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one source: ``imported``, ``unchanged`` (same fingerprint: copied from the previous
    database), ``kept`` (optional source missing from the mirror: previous data copied), ``skipped``
    (optional, missing, nothing to keep)."""

    name: str
    status: str
    records: int = 0
    message: str = ""


def _counting(unit: Unit, progress: Progress | None) -> Iterator[Record]:
    """Pass records through, reporting progress; anything but a HullscanError becomes a FeedError naming the input."""
    n = 0
    try:
        for rec in unit.load():
            n += 1
            if progress is not None and n % 500 == 0:
                progress(unit.name, n, False)
            yield rec
    except HullscanError:
        raise
    except Exception as exc:  # a parser bug on odd input must still end as one clear line
        raise FeedError(f"{unit.location}: malformed {unit.feed} data after {n} records "
                        f"({exc.__class__.__name__}: {exc})") from exc


def _store(builder: Builder, unit: Unit, location: str, fingerprint: str, progress: Progress | None) -> Outcome:
    count = builder.replace_source(unit.name, unit.feed, location, _counting(unit, progress),
                                   fingerprint or unit.fingerprint)
    if progress is not None:
        progress(unit.name, count, True)
    return Outcome(unit.name, "imported", count)


def import_paths(db_path: Path, paths: list[Path], progress: Progress | None = None) -> list[Outcome]:
    """Import (add or replace) every source found under ``paths``; skipped files are reported as outcomes."""
    outcomes: list[Outcome] = []
    units: list[Unit] = []
    for path in paths:
        found = discover(Path(path))
        units.extend(found.units)
        outcomes.extend(Outcome(p, "skipped", message=why) for p, why in found.skipped)
    if not units:
        raise InputError(f"no vulnerability data found in {', '.join(str(p) for p in paths)}")
    names = [u.name for u in units]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two inputs give the same source {dupes[0]!r}: import them separately")
    with Builder(db_path, keep_existing=True) as builder:
        for unit in units:
            outcomes.append(_store(builder, unit, unit.location, unit.fingerprint, progress))
    return outcomes


def _default_config() -> dict[str, Any]:
    text = resources.files("hullscan").joinpath("rules/vuln-sources.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _specs(config: dict[str, Any], mirror: str | None) -> list[SourceSpec]:
    specs: list[SourceSpec] = []
    bucket = str(config.get("osv_bucket", "")).rstrip("/")
    for eco in config.get("osv_ecosystems") or ():
        if mirror is not None:
            specs.append(SourceSpec(f"osv:{eco}", "osv", _join(mirror, f"{eco}/all.zip"), True))
        else:
            specs.append(SourceSpec(f"osv:{eco}", "osv", f"{bucket}/{quote(str(eco))}/all.zip"))
    for item in config.get("sources") or ():
        feed_name = str(item["feed"])
        FEEDS.get(feed_name)  # unknown feeds fail loudly
        if mirror is not None:
            specs.append(SourceSpec(str(item["name"]), feed_name, _join(mirror, str(item.get("mirror") or "")), True))
        else:
            specs.append(SourceSpec(str(item["name"]), feed_name, str(item["url"]), bool(item.get("optional"))))
    return specs


def _join(root: str, rel: str) -> str:
    if root.startswith(("http://", "https://", "file://")):
        return root.rstrip("/") + "/" + quote(rel)
    return str(Path(root) / rel)


def configured_sources(setting: str | None = None) -> list[SourceSpec]:
    """The sources ``db update`` fetches (see the module doc)."""
    setting = setting if setting is not None else os.environ.get("HULLSCAN_DB_SOURCES", "")
    if not setting:
        return _specs(_default_config(), None)
    if setting.rstrip("/").endswith((".yaml", ".yml", ".json")):
        path = local_path(setting)
        if path is None:
            with tempfile.TemporaryDirectory() as tmp:
                got = fetch(setting, "", Path(tmp) / "sources.yaml")
                text = got.path.read_text(encoding="utf-8") if got else ""
        elif path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            raise InputError(f"HULLSCAN_DB_SOURCES: {setting}: no such file")
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"HULLSCAN_DB_SOURCES: {setting}: not valid YAML ({exc})") from None
        if not isinstance(config, dict):
            raise InputError(f"HULLSCAN_DB_SOURCES: {setting}: expected a mapping with a `sources` list")
        return _specs(config, None)
    return _specs(_default_config(), setting)


def update(db_path: Path, sources: list[SourceSpec], progress: Progress | None = None) -> list[Outcome]:
    """Fetch every source and rebuild the database; unchanged sources are copied from the current one."""
    previous = read_sources(db_path)
    outcomes: list[Outcome] = []
    db_path.parent.mkdir(parents=True, exist_ok=True)
    import httpx

    with tempfile.TemporaryDirectory(dir=db_path.parent, prefix=".download-") as tmp, \
            httpx.Client(timeout=300.0, follow_redirects=True) as client, \
            Builder(db_path, keep_existing=False) as builder:
        for i, spec in enumerate(sources):
            old = previous.get(spec.name)
            dest = Path(tmp) / f"{i}-{spec.url.rstrip('/').rsplit('/', 1)[-1] or 'feed'}"
            try:
                got = fetch(spec.url, old.fingerprint if old else "", dest, client=client)
            except FeedNotFoundError as exc:
                if not spec.optional:
                    raise
                if old is not None and builder.keep_source(spec.name):
                    outcomes.append(Outcome(spec.name, "kept", old.records, f"{exc}; previous data kept"))
                else:
                    outcomes.append(Outcome(spec.name, "skipped", message=str(exc)))
                continue
            if got is None:
                builder.keep_source(spec.name)
                outcomes.append(Outcome(spec.name, "unchanged", old.records if old else 0))
                continue
            found = discover(got.path, name=spec.name if got.path.is_file() else None)
            if not found.units:
                raise FeedError(f"{spec.url}: no {spec.feed} data in the downloaded document")
            for unit in found.units:
                outcomes.append(_store(builder, unit, spec.url, got.fingerprint, progress))
            dest.unlink(missing_ok=True)
        if not builder.source_names():
            raise FeedError("no vulnerability source could be fetched: the database was left unchanged")
    return outcomes
