"""Re-matching a fleet: every distinct package version (with its distro) matched once, verdicts fanned out in SQL.

A fleet shares most of its packages (base images), so the store keeps each package at its place once
(:class:`~hullscan.server.db.models.PackageRow`: distro, identity, path and layer) and which image holds it
(``image_packages``). Matching does not depend on the place, so after a vulnerability DB update:

1. each distinct ``match_key`` (distro + everything matching depends on) is matched once, through the ``vuln``
   stage (the same code as a scan), by one representative;
2. its verdict (a digest of its findings) is compared with the one stored at the last re-match
   (``package_verdicts``);
3. only identities whose verdict changed touch the findings table: for each of their places, set-based statements
   over every image holding it (``DELETE … WHERE fingerprint IN (gone) AND image_id IN (holders)``,
   ``UPDATE`` of findings whose content changed, ``INSERT … SELECT holders WHERE NOT EXISTS`` per new finding);
4. images holding an identity never matched before (scanned since the last re-match) get their vulnerability
   findings replaced from their packages' verdicts (the one per-image path).

Images whose findings changed are listed with what they gained and lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, text, update
from sqlalchemy.orm import Session

from hullscan.server.db.models import FindingRow, Image, ImagePackage, PackageRow, PackageVerdict
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
    """The identity of a package of a distro at its place in the fleet."""
    return hashlib.sha256(json.dumps([distro, _ident(p)], sort_keys=True, default=str).encode()).hexdigest()


def match_key(distro: Any, p: dict[str, Any]) -> str:
    """What matching depends on: the distro and the package's identity, not its place (path, layer)."""
    ident = _ident(p)
    del ident[3:5]
    return hashlib.sha256(json.dumps([distro, ident], sort_keys=True, default=str).encode()).hexdigest()


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
        session.execute(stmt, [{"key": k, "match_key": match_key(distro, packages[k]), "distro": distro, "data": packages[k]}
                               for k in missing])
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


def match_packages(stage: Any, options: Any, rows: list[tuple[str, Any, dict[str, Any]]]) -> tuple[dict[str, list[Any]], list[str]]:
    """Findings of each package (match key -> findings), matching every distro group in one run of the stage; a group the
    stage fails on is left out and named in the errors."""
    from hullscan.model import Distro, Inventory, Package
    from hullscan.serde import load
    from hullscan.stages import ScanContext

    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for pid, distro, data in rows:
        groups.setdefault(json.dumps(distro, sort_keys=True), []).append((pid, data))
    out: dict[str, list[Any]] = {}
    errors: list[str] = []
    for distro_json, members in groups.items():
        distro_data = json.loads(distro_json)
        distro = load(Distro, distro_data) if distro_data else None
        # findings name their package by (ecosystem, name, version, path, layer): one run per set of packages
        # unique by that place (packages differing only in source or arch are matched in separate runs)
        rounds: list[dict[tuple[str, ...], str]] = []
        loaded: dict[str, Any] = {}
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


def _verdict(findings: Iterable[Any]) -> str:
    """A digest of findings' content (at whatever place): a changed severity or fix changes it too."""
    from hullscan.serde import to_data

    parts = sorted(json.dumps(to_data(relocate(f, "", "")), sort_keys=True, default=str) for f in findings)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def relocate(f: Any, path: str, layer: str) -> Any:
    """A package's finding at another place of the same package identity."""
    from dataclasses import replace

    return replace(f, location=replace(f.location, path=path, layer=layer))


def rematch(sessions: Any, stage: Any, options: Any, db_fp: str, now: datetime) -> dict[str, Any]:
    """Re-match the whole fleet; returns ``{"images", "packages", "identities", "changed": {image_id: [gained,
    lost]}, "errors", "backfilled"}``."""
    from sqlalchemy import func

    from hullscan.serde import to_data

    backfilled = backfill(sessions)
    with sessions() as s:
        reps = [int(i) for i in s.scalars(select(func.min(PackageRow.id)).group_by(PackageRow.match_key))]
        rows: list[tuple[str, Any, dict[str, Any]]] = []
        for chunk in _chunks(reps):
            rows += [(mk, d, data) for mk, d, data in
                     s.execute(select(PackageRow.match_key, PackageRow.distro, PackageRow.data).where(PackageRow.id.in_(chunk)))]
        old = {mk: (v, vdb, f) for mk, v, vdb, f in s.execute(select(PackageVerdict.match_key, PackageVerdict.verdict,
                                                                      PackageVerdict.verdict_db, PackageVerdict.findings))}
        packages = int(s.scalar(select(func.count()).select_from(PackageRow)) or 0)
        images = int(s.scalar(select(func.count()).select_from(Image).where(Image.inventory.is_not(None))) or 0)
    matched, errors = match_packages(stage, options, rows)
    unknown: list[str] = []
    changed_keys: dict[str, list[Any]] = {}  # match_key -> the old findings
    new_verdicts: dict[str, tuple[str, list[Any]]] = {}
    for mk, findings in matched.items():
        verdict = _verdict(findings)
        prior = old.get(mk)
        if prior is None or not prior[1]:
            unknown.append(mk)
        elif verdict != prior[0]:
            changed_keys[mk] = [load_finding(d) for d in prior[2] or []]
        if prior is None or verdict != prior[0] or not prior[1]:
            new_verdicts[mk] = (verdict, [to_data(f) for f in findings])
    changed: dict[int, list[int]] = {}
    with sessions() as s, s.begin():
        deltas = []
        for chunk in _chunks(sorted(changed_keys)):
            for pid, mk, data in s.execute(select(PackageRow.id, PackageRow.match_key, PackageRow.data)
                                           .where(PackageRow.match_key.in_(chunk))):
                path, layer = data.get("path", ""), data.get("layer", "")
                deltas.append((int(pid), [relocate(f, path, layer) for f in changed_keys[mk]],
                               [relocate(f, path, layer) for f in matched[mk]]))
        _apply_deltas(s, deltas, now, changed)
    _replace_for_new_packages(sessions, unknown, matched, old, now, changed)
    with sessions() as s, s.begin():
        known = set(old)
        for mk, (verdict, data) in new_verdicts.items():
            if mk in known:
                s.execute(update(PackageVerdict).where(PackageVerdict.match_key == mk)
                          .values(verdict=verdict, findings=data, verdict_db=db_fp))
            else:
                s.add(PackageVerdict(match_key=mk, verdict=verdict, findings=data, verdict_db=db_fp))
        same = [mk for mk in matched if mk not in new_verdicts and old[mk][1] != db_fp]
        for chunk in _chunks(same):
            s.execute(update(PackageVerdict).where(PackageVerdict.match_key.in_(chunk)).values(verdict_db=db_fp)
                      .execution_options(synchronize_session=False))
        s.execute(update(Image).where(Image.inventory.is_not(None)).values(inventory_fingerprint=db_fp))
    return {"images": images, "packages": packages, "identities": len(rows), "changed": changed, "errors": errors,
            "backfilled": backfilled}


def load_finding(data: dict[str, Any]) -> Any:
    """A stored serde Finding."""
    from hullscan.model import Finding
    from hullscan.serde import load

    return load(Finding, data)


def _staging(s: Session) -> tuple[Any, Any]:
    """Two temporary tables (this transaction's connection only): findings to add and to remove, per package."""
    from sqlalchemy import Column, Integer, MetaData, String, Table

    meta = MetaData()
    cols = [Column(c.name, c.type) for c in FindingRow.__table__.columns if c.name not in ("id", "image_id", "scan_id")]
    add = Table(f"tmp_add_{id(s)}", meta, Column("package_id", Integer), *cols, prefixes=["TEMPORARY"])
    gone = Table(f"tmp_gone_{id(s)}", meta, Column("package_id", Integer), Column("fingerprint", String(64)), prefixes=["TEMPORARY"])
    meta.create_all(s.connection())
    return add, gone


def _apply_deltas(s: Session, deltas: list[tuple[int, list[Any], list[Any]]], now: datetime, changed: dict[int, list[int]]) -> None:
    """Set-based, for every image holding each package: its findings that are gone deleted, those whose content
    changed updated in place (marks kept), the new ones inserted. ``deltas``: (package id, findings before, after).
    Additions and removals of every package go through two staging tables and one statement each."""
    add_rows: list[dict[str, Any]] = []
    gone_rows: list[dict[str, Any]] = []
    per_package: dict[int, tuple[int, int]] = {}
    for pid, before, after in deltas:
        old = {fingerprint(f): f for f in before}
        new = {fingerprint(f): f for f in after}
        removed = set(old) - set(new)
        added = [fp for fp in new if fp not in old]
        for fp, f in new.items():
            if fp in old and _verdict([f]) != _verdict([old[fp]]):
                holders = select(ImagePackage.image_id).where(ImagePackage.package_id == pid)
                s.execute(update(FindingRow).where(FindingRow.fingerprint == fp, FindingRow.image_id.in_(holders))
                          .values(**row_values(f), last_seen=now).execution_options(synchronize_session=False))
        gone_rows += [{"package_id": pid, "fingerprint": fp} for fp in sorted(removed)]
        add_rows += [{**row_values(new[fp]), "package_id": pid, "fingerprint": fp, "first_seen": now, "last_seen": now,
                      "state": "open", "state_reason": "", "state_by": ""} for fp in added]
        if added or removed:
            per_package[pid] = (len(added), len(removed))
    if not add_rows and not gone_rows:
        return
    add, gone = _staging(s)
    try:
        if gone_rows:
            s.execute(insert(gone), gone_rows)
            s.execute(text(f"ANALYZE {gone.name}"))  # a temporary table has no statistics: without them the planner
            hit = (select(gone.c.package_id).join(ImagePackage, ImagePackage.package_id == gone.c.package_id)
                   .where(ImagePackage.image_id == FindingRow.image_id, gone.c.fingerprint == FindingRow.fingerprint))
            s.execute(delete(FindingRow).where(FindingRow.category == "vulnerability", exists(hit))
                      .execution_options(synchronize_session=False))
        if add_rows:
            s.execute(insert(add), add_rows)
            s.execute(text(f"ANALYZE {add.name}"))  # loops over image_packages per staged row (minutes, not seconds)
            names = [c.name for c in add.columns if c.name != "package_id"]
            present = select(FindingRow.id).where(FindingRow.image_id == ImagePackage.image_id, FindingRow.fingerprint == add.c.fingerprint)
            source = (select(ImagePackage.image_id, *[add.c[n] for n in names])
                      .join(ImagePackage, ImagePackage.package_id == add.c.package_id).where(~exists(present)))
            s.execute(insert(FindingRow).from_select(["image_id", *names], source))
    finally:
        add.drop(s.connection())
        gone.drop(s.connection())
    pids = sorted(per_package)
    for chunk in _chunks(pids):
        for image_id, pid in s.execute(select(ImagePackage.image_id, ImagePackage.package_id).where(ImagePackage.package_id.in_(chunk))):
            counts = changed.setdefault(int(image_id), [0, 0])
            counts[0] += per_package[pid][0]
            counts[1] += per_package[pid][1]


def _replace_for_new_packages(sessions: Any, unknown: list[str], matched: dict[str, list[Any]],
                              old: dict[str, tuple[str, str, Any]], now: datetime, changed: dict[int, list[int]]) -> None:
    """Images holding a package identity never matched before: their vulnerability findings made from their
    packages' verdicts (only this path is per image)."""
    if not unknown:
        return
    with sessions() as s:
        image_ids: set[int] = set()
        for chunk in _chunks(unknown):
            pids = select(PackageRow.id).where(PackageRow.match_key.in_(chunk))
            image_ids.update(int(i) for i in s.scalars(select(ImagePackage.image_id).where(ImagePackage.package_id.in_(pids)).distinct()))
    for chunk in _chunks(sorted(image_ids), 200):
        with sessions() as s, s.begin():
            holdings: dict[int, list[tuple[str, str, str]]] = {}
            for image_id, mk, data in s.execute(select(ImagePackage.image_id, PackageRow.match_key, PackageRow.data)
                                                .join(PackageRow, PackageRow.id == ImagePackage.package_id)
                                                .where(ImagePackage.image_id.in_(chunk))):
                holdings.setdefault(int(image_id), []).append((mk, data.get("path", ""), data.get("layer", "")))
            for image_id in chunk:
                findings = []
                for mk, path, layer in sorted(holdings.get(image_id, [])):
                    if mk in matched:
                        found = matched[mk]
                    else:  # a distro group the stage failed on: its last verdict stands
                        found = [load_finding(d) for d in (old.get(mk) or ("", "", []))[2] or []]
                    findings += [relocate(f, path, layer) for f in found]
                added, removed = replace_findings(s, image_id, findings, now, categories={"vulnerability"})
                if added or removed:
                    counts = changed.setdefault(image_id, [0, 0])
                    counts[0] += len(added)
                    counts[1] += len(removed)
