"""Index once, re-match without pulling: when the vulnerability database changes, run the ``vuln`` stage on
every stored inventory and record which images gained or lost findings (task log + webhook event)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from hullscan.server import whitelist
from hullscan.server.db.models import FindingRow, Image, Task
from hullscan.server.meta import get_meta, set_meta
from hullscan.server.results import fingerprint, replace_findings
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import add_log, add_logs, finish
from hullscan.server.webhooks import emit

DB_META_KEY = "vuln_db_fingerprint"


def db_fingerprint(path: Path) -> str:
    """A cheap identity of the vulnerability DB file (size, mtime, inode); "" when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"


def vuln_stage() -> Any:
    """The ``vuln`` stage function from :data:`hullscan.stages.STAGES` (None when not registered)."""
    from hullscan.stages import STAGES

    return STAGES.get("vuln").factory() if "vuln" in STAGES else None


def _key(f: Any) -> tuple[str, str, str, str, str]:
    v = f.vuln
    return (v.ecosystem, v.package_name, v.installed_version, f.location.path, f.location.layer) if v else ("", "", "", "", "")


def _pkg_key(p: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (p.get("ecosystem", ""), p.get("name", ""), p.get("version", ""), p.get("path", ""), p.get("layer", ""))


def _ident(p: dict[str, Any]) -> tuple[Any, ...]:
    """What matching can depend on (not the file lists, licenses or dependency names)."""
    return (*_pkg_key(p), p.get("source_name", ""), p.get("source_version", ""), p.get("arch", ""), p.get("purl", ""),
            p.get("module", ""), p.get("installed", True), repr(p.get("extra") or ()))


def match_fleet(stage: Any, options: Any, inventories: dict[int, dict[str, Any]]) -> tuple[dict[int, list[Any]], dict[int, str]]:
    """Vulnerability findings of every stored inventory, matching each distinct package once per distro.

    Images sharing packages (the common case: shared base images) cost one lookup per package, not one
    per image. A package whose identity (ecosystem, name, version, path, layer) is ambiguous in a group
    falls back to matching that image on its own. Returns findings and per-image errors.
    """
    from hullscan.model import Distro, Inventory, Package
    from hullscan.serde import load
    from hullscan.stages import ScanContext

    def run_stage(distro: Any, packages: list[Any]) -> list[Any]:
        return list(stage(ScanContext(options=options, inventory=Inventory(distro=distro, packages=packages))))

    groups: dict[str, list[int]] = {}
    for image_id, inv in inventories.items():
        groups.setdefault(json.dumps(inv.get("os"), sort_keys=True), []).append(image_id)
    out: dict[int, list[Any]] = {}
    errors: dict[int, str] = {}
    for distro_json, image_ids in groups.items():
        distro_data = json.loads(distro_json)
        distro = load(Distro, distro_data) if distro_data else None
        uniq: dict[tuple[Any, ...], dict[str, Any]] = {}
        by_key: dict[tuple[str, str, str, str, str], set[tuple[Any, ...]]] = {}
        members: dict[int, set[tuple[str, str, str, str, str]]] = {}
        for image_id in image_ids:
            keys = set()
            for p in inventories[image_id].get("packages") or []:
                pj = _ident(p)
                uniq.setdefault(pj, p)
                by_key.setdefault(_pkg_key(p), set()).add(pj)
                keys.add(_pkg_key(p))
            members[image_id] = keys
        ambiguous = {k for k, v in by_key.items() if len(v) > 1}
        shared = [load(Package, p) for p in uniq.values() if _pkg_key(p) not in ambiguous]
        try:
            found: dict[tuple[str, ...], list[Any]] = {}
            for f in run_stage(distro, shared):
                found.setdefault(_key(f), []).append(f)
        except Exception as exc:  # the whole group fails alike
            for image_id in image_ids:
                errors[image_id] = f"{type(exc).__name__}: {exc}"
            continue
        for image_id in image_ids:
            if members[image_id] & ambiguous:
                try:
                    pkgs = [load(Package, p) for p in inventories[image_id].get("packages") or []]
                    out[image_id] = run_stage(distro, pkgs)
                except Exception as exc:
                    errors[image_id] = f"{type(exc).__name__}: {exc}"
                continue
            out[image_id] = [f for k in sorted(members[image_id]) for f in found.get(k, [])]
    return out, errors


def run_rematch(rt: Runtime, task_id: int) -> None:
    """Re-match every stored inventory against the current vulnerability DB."""
    from hullscan.options import ScanOptions

    stage = vuln_stage()
    if stage is None:
        finish(rt, task_id, "failed", "no vulnerability matching stage is installed (hullscan.stages has no 'vuln' stage)")
        return
    fp = db_fingerprint(rt.vuln_db_path)
    options = ScanOptions(scanners=frozenset({"vuln"}), db_path=rt.vuln_db_path, cache_dir=rt.cache_dir, quiet=True)
    t0 = rt.clock()
    with rt.session() as s:
        inventories: dict[int, dict[str, Any]] = {}
        digests: dict[int, str] = {}
        for image_id, digest, inv in s.execute(select(Image.id, Image.digest, Image.inventory).where(Image.inventory.is_not(None))):
            inventories[image_id], digests[image_id] = inv, digest
        existing: dict[int, set[str]] = {}
        for image_id, fpr in s.execute(select(FindingRow.image_id, FindingRow.fingerprint).where(FindingRow.category == "vulnerability")):
            existing.setdefault(image_id, set()).add(fpr)
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = len(inventories)
    results, errors = match_fleet(stage, options, inventories)
    for image_id, error in sorted(errors.items()):
        add_log(rt, task_id, f"image {image_id}: re-match failed: {error}", "error")
    changed: list[dict[str, Any]] = []
    ids = sorted(results)
    for start in range(0, len(ids), 200):
        batch = ids[start : start + 200]
        with rt.session() as s:
            touched = []
            s.execute(update(Image).where(Image.id.in_(batch)).values(inventory_fingerprint=fp))
            for image_id in batch:
                findings = results[image_id]
                if {fingerprint(f) for f in findings} == existing.get(image_id, set()):
                    continue
                added, removed = replace_findings(s, image_id, findings, rt.now(), categories={"vulnerability"})
                if added or removed:
                    touched.append(image_id)
                    changed.append({"image_id": image_id, "digest": digests[image_id], "gained": len(added), "lost": len(removed)})
            whitelist.apply(s, rt.now(), touched)
            task = s.get(Task, task_id)
            assert task is not None
            task.progress_done = min(start + len(batch), len(ids))
    add_logs(rt, task_id, [f"image {c['digest']}: +{c['gained']} / -{c['lost']} vulnerabilities" for c in changed])
    with rt.session() as s:
        set_meta(s, DB_META_KEY, fp)
    elapsed = rt.clock() - t0
    add_log(rt, task_id, f"re-matched {len(inventories)} stored inventories in {elapsed:.2f}s; {len(changed)} images changed")
    if changed:
        emit(rt, "findings.changed", {"reason": "vulnerability database updated", "task_id": task_id, "images": changed[:1000],
                                      "images_changed": len(changed)})
    result = {"images": len(inventories), "changed": changed[:1000], "images_changed": len(changed), "seconds": round(elapsed, 3)}
    failures = len(errors)
    finish(rt, task_id, "partially failed" if failures else "succeeded", f"{failures} failed" if failures else "", result)


def db_changed(rt: Runtime) -> bool:
    """True when the vulnerability DB file differs from the one last re-matched against."""
    fp = db_fingerprint(rt.vuln_db_path)
    with rt.session() as s:
        seen = get_meta(s, DB_META_KEY)
        if seen is None:  # first sight: remember it, nothing to re-match yet
            set_meta(s, DB_META_KEY, fp, overwrite=False)
            return False
        return bool(fp) and seen != fp
