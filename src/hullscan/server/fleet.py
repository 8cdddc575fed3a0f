"""Re-matching a fleet: every distinct package (with its distro) matched once, verdicts fanned out in SQL.

A fleet shares most of its packages (base images), so the store keeps each distinct package once
(:class:`~hullscan.server.db.models.PackageRow`, keyed by its distro and everything matching depends on,
including its path and layer) and which image holds it (``image_packages``). After a vulnerability DB update:

1. every distinct package is matched once per distro group through the ``vuln`` stage (the same code as a scan);
2. its verdict (the fingerprints of its findings) is compared with the one stored at the last re-match;
3. only packages whose verdict changed touch the findings table, in set-based statements over every image holding
   them: ``DELETE … WHERE fingerprint IN (gone) AND image_id IN (holders)`` and
   ``INSERT … SELECT holders WHERE NOT EXISTS`` per new finding;
4. images holding a package never matched before (scanned since the last re-match) get their vulnerability
   findings replaced from their packages' verdicts (the one per-image path).

Images whose findings changed are listed with what they gained and lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, delete, exists, insert, literal, select, update
from sqlalchemy.orm import Session

from hullscan.server.db.models import FindingRow, Image, ImagePackage, PackageRow
from hullscan.server.results import fingerprint, replace_findings, row_values

CHUNK = 1000


def _chunks(items: list[Any], n: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _ident(p: dict[str, Any]) -> list[Any]:
    """What matching can depend on and where the package is (not file lists, licenses, dependency names)."""
    return [p.get("ecosystem", ""), p.get("name", ""), p.get("version", ""), p.get("path", ""), p.get("layer", ""),
            p.get("source_name", ""), p.get("source_version", ""), p.get("arch", ""), p.get("purl", ""),
            p.get("module", ""), p.get("installed", True), repr(p.get("extra") or ())]


def package_key(distro: Any, p: dict[str, Any]) -> str:
    """The identity of a package of a distro in the fleet."""
    return hashlib.sha256(json.dumps([distro, _ident(p)], sort_keys=True, default=str).encode()).hexdigest()


def _insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def ensure_packages(session: Session, distro: Any, packages: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Ids of the packages (key -> data), inserting the new ones (concurrent workers: the key decides)."""
    found: dict[str, int] = {}
    keys = list(packages)
    for chunk in _chunks(keys):
        found.update({k: int(i) for k, i in session.execute(select(PackageRow.key, PackageRow.id).where(PackageRow.key.in_(chunk)))})
    missing = [k for k in keys if k not in found]
    if missing:
        stmt = _insert(session)(PackageRow).on_conflict_do_nothing(index_elements=["key"])
        session.execute(stmt, [{"key": k, "distro": distro, "data": packages[k], "verdict": "", "verdict_db": ""} for k in missing])
        for chunk in _chunks(missing):
            found.update({k: int(i) for k, i in session.execute(select(PackageRow.key, PackageRow.id).where(PackageRow.key.in_(chunk)))})
    return found


def record_packages(session: Session, image_id: int, inventory: dict[str, Any] | None) -> None:
    """Index an image's stored inventory: its distinct packages and the links to them (replacing old links)."""
    distro = (inventory or {}).get("os")
    pkgs = {package_key(distro, p): p for p in (inventory or {}).get("packages") or []}
    ids = ensure_packages(session, distro, pkgs)
    session.execute(delete(ImagePackage).where(ImagePackage.image_id == image_id))
    if ids:
        session.execute(insert(ImagePackage), [{"image_id": image_id, "package_id": i} for i in sorted(set(ids.values()))])


def backfill(sessions: Any) -> int:
    """Index the inventories stored before the package index existed (once). Returns the images indexed."""
    linked = select(ImagePackage.image_id).where(ImagePackage.image_id == Image.id)
    with sessions() as s:
        ids = list(s.scalars(select(Image.id).where(Image.inventory.is_not(None), ~exists(linked))))
    for chunk in _chunks(ids, 200):
        with sessions() as s, s.begin():
            for image_id, inv in s.execute(select(Image.id, Image.inventory).where(Image.id.in_(chunk))):
                record_packages(s, image_id, inv)
    return len(ids)


def match_packages(stage: Any, options: Any, rows: list[tuple[int, Any, dict[str, Any]]]) -> tuple[dict[int, list[Any]], list[str]]:
    """Findings of each package (id -> findings), matching every distro group in one run of the stage; a group the
    stage fails on is left out and named in the errors."""
    from hullscan.model import Distro, Inventory, Package
    from hullscan.serde import load
    from hullscan.stages import ScanContext

    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for pid, distro, data in rows:
        groups.setdefault(json.dumps(distro, sort_keys=True), []).append((pid, data))
    out: dict[int, list[Any]] = {}
    errors: list[str] = []
    for distro_json, members in groups.items():
        distro_data = json.loads(distro_json)
        distro = load(Distro, distro_data) if distro_data else None
        # findings name their package by (ecosystem, name, version, path, layer): one run per set of packages
        # unique by that place (packages differing only in source or arch are matched in separate runs)
        rounds: list[dict[tuple[str, ...], int]] = []
        loaded: dict[int, Any] = {}
        for pid, data in members:
            place = (data.get("ecosystem", ""), data.get("name", ""), data.get("version", ""), data.get("path", ""), data.get("layer", ""))
            for r in rounds:
                if place not in r:
                    r[place] = pid
                    break
            else:
                rounds.append({place: pid})
            loaded[pid] = data
        try:
            for r in rounds:
                pkgs = [load(Package, loaded[pid]) for pid in r.values()]
                for pid in r.values():
                    out.setdefault(pid, [])
                for f in stage(ScanContext(options=options, inventory=Inventory(distro=distro, packages=pkgs))):
                    v = f.vuln
                    if v is None:
                        continue
                    owner = r.get((v.ecosystem, v.package_name, v.installed_version, f.location.path, f.location.layer))
                    if owner is not None:
                        out[owner].append(f)
        except Exception as exc:  # noqa: BLE001 - the group keeps its old findings; the task names it
            for pid, _ in members:
                out.pop(pid, None)
            errors.append(f"distro {distro_data.get('id', '?') if distro_data else 'none'} "
                          f"{distro_data.get('version_id', '') if distro_data else ''}: {type(exc).__name__}: {exc}")
    return out, errors


def _verdict(fps: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(fps)).encode()).hexdigest()


def rematch(sessions: Any, stage: Any, options: Any, db_fp: str, now: datetime) -> dict[str, Any]:
    """Re-match the whole fleet; returns ``{"images", "packages", "changed": {image_id: [gained, lost]},
    "errors", "backfilled"}``."""
    from hullscan.serde import to_data

    backfilled = backfill(sessions)
    with sessions() as s:
        rows = s.execute(select(PackageRow.id, PackageRow.distro, PackageRow.data, PackageRow.verdict,
                                PackageRow.verdict_db, PackageRow.findings)).all()
        images = int(s.scalar(select(func_count()).select_from(Image).where(Image.inventory.is_not(None))) or 0)
    matched, errors = match_packages(stage, options, [(r[0], r[1], r[2]) for r in rows])
    old = {r[0]: (r[3], r[4], r[5]) for r in rows}
    unknown: list[int] = []
    delta: dict[int, tuple[list[Any], set[str]]] = {}
    new_verdicts: dict[int, tuple[str, list[Any]]] = {}
    for pid, findings in matched.items():
        fps = {fingerprint(f): f for f in findings}
        verdict = _verdict(fps)
        old_verdict, old_db, old_findings = old[pid]
        if not old_db:
            unknown.append(pid)
        elif verdict != old_verdict:
            before = {fingerprint(load_finding(d)) for d in old_findings or []}
            delta[pid] = ([f for fp, f in fps.items() if fp not in before], before - set(fps))
        if verdict != old_verdict or not old_db:
            new_verdicts[pid] = (verdict, [to_data(f) for f in fps.values()])
    changed: dict[int, list[int]] = {}
    with sessions() as s, s.begin():
        _apply_deltas(s, delta, now, changed)
    _replace_for_new_packages(sessions, unknown, matched, now, changed)
    with sessions() as s, s.begin():
        for pid, (verdict, data) in new_verdicts.items():
            s.execute(update(PackageRow).where(PackageRow.id == pid).values(verdict=verdict, findings=data, verdict_db=db_fp))
        same = [pid for pid in matched if pid not in new_verdicts and old[pid][1] != db_fp]
        for chunk in _chunks(same):
            s.execute(update(PackageRow).where(PackageRow.id.in_(chunk)).values(verdict_db=db_fp)
                      .execution_options(synchronize_session=False))
        s.execute(update(Image).where(Image.inventory.is_not(None)).values(inventory_fingerprint=db_fp))
    return {"images": images, "packages": len(rows), "changed": changed, "errors": errors, "backfilled": backfilled}


def func_count() -> Any:
    from sqlalchemy import func

    return func.count()


def load_finding(data: dict[str, Any]) -> Any:
    """A stored serde Finding."""
    from hullscan.model import Finding
    from hullscan.serde import load

    return load(Finding, data)


def _apply_deltas(s: Session, delta: dict[int, tuple[list[Any], set[str]]], now: datetime, changed: dict[int, list[int]]) -> None:
    """Set-based: per changed package, remove its findings that are gone and add the new ones to every holder."""
    table = FindingRow.__table__
    for pid, (added, removed) in delta.items():
        holders = select(ImagePackage.image_id).where(ImagePackage.package_id == pid)
        if removed:
            s.execute(delete(FindingRow).where(FindingRow.category == "vulnerability", FindingRow.fingerprint.in_(sorted(removed)),
                                               FindingRow.image_id.in_(holders)).execution_options(synchronize_session=False))
        for f in added:
            fp = fingerprint(f)
            values = {**row_values(f), "fingerprint": fp, "first_seen": now, "last_seen": now}
            names = ["image_id", *values]
            cols = [ImagePackage.image_id, *(literal(v, type_=table.c[k].type if not isinstance(table.c[k].type, JSON) else JSON())
                                               .label(k) for k, v in values.items())]
            present = select(FindingRow.id).where(FindingRow.image_id == ImagePackage.image_id, FindingRow.fingerprint == fp)
            s.execute(insert(FindingRow).from_select(names, select(*cols).where(ImagePackage.package_id == pid, ~exists(present))))
        if added or removed:
            for (image_id,) in s.execute(holders):
                counts = changed.setdefault(int(image_id), [0, 0])
                counts[0] += len(added)
                counts[1] += len(removed)


def _replace_for_new_packages(sessions: Any, unknown: list[int], matched: dict[int, list[Any]], now: datetime,
                              changed: dict[int, list[int]]) -> None:
    """Images holding a package never matched before: their vulnerability findings made from their packages'
    verdicts (only this path is per image)."""
    if not unknown:
        return
    with sessions() as s:
        image_ids: set[int] = set()
        for chunk in _chunks(unknown):
            image_ids.update(int(i) for i in s.scalars(select(ImagePackage.image_id).where(ImagePackage.package_id.in_(chunk)).distinct()))
    for chunk in _chunks(sorted(image_ids), 200):
        with sessions() as s, s.begin():
            holdings: dict[int, list[int]] = {}
            for image_id, pid in s.execute(select(ImagePackage.image_id, ImagePackage.package_id).where(ImagePackage.image_id.in_(chunk))):
                holdings.setdefault(int(image_id), []).append(int(pid))
            missing = {pid for pids in holdings.values() for pid in pids if pid not in matched}
            stored: dict[int, list[Any]] = {}
            if missing:  # packages of a distro group the stage failed on: their last verdict stands
                for pid, data in s.execute(select(PackageRow.id, PackageRow.findings).where(PackageRow.id.in_(sorted(missing)))):
                    stored[int(pid)] = [load_finding(d) for d in data or []]
            for image_id in chunk:
                findings = [f for pid in sorted(holdings.get(image_id, [])) for f in matched.get(pid, stored.get(pid, []))]
                added, removed = replace_findings(s, image_id, findings, now, categories={"vulnerability"})
                if added or removed:
                    counts = changed.setdefault(image_id, [0, 0])
                    counts[0] += len(added)
                    counts[1] += len(removed)
