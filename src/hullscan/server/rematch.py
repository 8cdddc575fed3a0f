"""Index once, re-match without pulling: when the vulnerability database changes, run the ``vuln`` stage on
every stored inventory and record which images gained or lost findings (task log + webhook event)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hullscan.server import whitelist
from hullscan.server.db.models import Image, Meta, Task
from hullscan.server.results import load_inventory, replace_findings
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import add_log, finish
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

    stage = next((s for s in STAGES if s.scanner == "vuln"), None)
    return stage.load() if stage else None


def run_rematch(rt: Runtime, task_id: int) -> None:
    """Re-match every stored inventory against the current vulnerability DB."""
    from hullscan.model import Inventory
    from hullscan.options import ScanOptions
    from hullscan.stages import ScanContext

    stage = vuln_stage()
    if stage is None:
        finish(rt, task_id, "failed", "no vulnerability matching stage is installed (hullscan.stages has no 'vuln' stage)")
        return
    fp = db_fingerprint(rt.vuln_db_path)
    options = ScanOptions(scanners=frozenset({"vuln"}), db_path=rt.vuln_db_path, cache_dir=rt.cache_dir, quiet=True)
    with rt.session() as s:
        ids = list(s.scalars(select(Image.id).where(Image.inventory.is_not(None)).order_by(Image.id)))
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = len(ids)
    changed: list[dict[str, Any]] = []
    failures = 0
    t0 = rt.clock()
    for n, image_id in enumerate(ids, 1):
        with rt.session() as s:
            image = s.get(Image, image_id)
            assert image is not None
            distro, packages = load_inventory(image)
            try:
                findings = stage(ScanContext(options=options, inventory=Inventory(distro=distro, packages=packages)))
            except Exception as exc:  # one broken inventory must not stop the fleet
                failures += 1
                add_log(rt, task_id, f"image {image.digest}: re-match failed: {type(exc).__name__}: {exc}", "error")
                continue
            added, removed = replace_findings(s, image, findings, rt.now(), categories={"vulnerability"})
            image.inventory_fingerprint = fp
            if added or removed:
                whitelist.apply(s, rt.now(), [image.id])
                changed.append({"image_id": image.id, "digest": image.digest, "gained": len(added), "lost": len(removed)})
            if n % 200 == 0 or n == len(ids):
                task = s.get(Task, task_id)
                assert task is not None
                task.progress_done = n
    for c in changed:
        add_log(rt, task_id, f"image {c['digest']}: +{c['gained']} / -{c['lost']} vulnerabilities")
    with rt.session() as s:
        row = s.get(Meta, DB_META_KEY) or Meta(key=DB_META_KEY)
        row.value = fp
        s.add(row)
    elapsed = rt.clock() - t0
    add_log(rt, task_id, f"re-matched {len(ids)} stored inventories in {elapsed:.2f}s; {len(changed)} images changed")
    if changed:
        emit(rt, "findings.changed", {"reason": "vulnerability database updated", "task_id": task_id, "images": changed})
    result = {"images": len(ids), "changed": changed[:1000], "seconds": round(elapsed, 3)}
    finish(rt, task_id, "partially failed" if failures else "succeeded", f"{failures} failed" if failures else "", result)


def db_changed(rt: Runtime) -> bool:
    """True when the vulnerability DB file differs from the one last re-matched against."""
    fp = db_fingerprint(rt.vuln_db_path)
    with rt.session() as s:
        row = s.get(Meta, DB_META_KEY)
        if row is None:  # first sight: remember it, nothing to re-match yet
            s.add(Meta(key=DB_META_KEY, value=fp))
            return False
        return bool(fp) and row.value != fp
