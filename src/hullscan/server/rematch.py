"""Index once, re-match without pulling: when the vulnerability database changes, run the ``vuln`` stage on
every stored inventory and record which images gained or lost findings (task log + webhook event)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hullscan.server import whitelist
from hullscan.server.db.models import Image, Meta, Task
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


def run_rematch(rt: Runtime, task_id: int) -> None:
    """Re-match every stored inventory against the current vulnerability DB (:mod:`hullscan.server.fleet`: each
    distinct package once, verdicts fanned out in SQL)."""
    from hullscan.options import ScanOptions
    from hullscan.server.fleet import rematch

    stage = vuln_stage()
    if stage is None:
        finish(rt, task_id, "failed", "no vulnerability matching stage is installed (hullscan.stages has no 'vuln' stage)")
        return
    fp = db_fingerprint(rt.vuln_db_path)
    options = ScanOptions(scanners=frozenset({"vuln"}), db_path=rt.vuln_db_path, cache_dir=rt.cache_dir, quiet=True)
    t0 = rt.clock()
    out = rematch(rt.sessions, stage, options, fp, rt.now())
    for error in out["errors"]:
        add_log(rt, task_id, f"re-match failed for {error}", "error")
    ids = sorted(out["changed"])
    digests: dict[int, str] = {}
    with rt.session() as s:
        for start in range(0, len(ids), 1000):
            digests.update(s.execute(select(Image.id, Image.digest).where(Image.id.in_(ids[start : start + 1000]))).all())
        if ids and whitelist.active_rules(s, rt.now()):
            for start in range(0, len(ids), 500):
                whitelist.apply(s, rt.now(), ids[start : start + 500])
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = task.progress_done = out["images"]
    changed = [{"image_id": i, "digest": digests.get(i, ""), "gained": g, "lost": lost}
               for i, (g, lost) in sorted(out["changed"].items())]
    lines = [f"image {c['digest']}: +{c['gained']} / -{c['lost']} vulnerabilities" for c in changed[:1000]]
    if len(changed) > 1000:
        lines.append(f"... and {len(changed) - 1000} more images")
    add_logs(rt, task_id, lines)
    with rt.session() as s:
        row = s.get(Meta, DB_META_KEY) or Meta(key=DB_META_KEY)
        row.value = fp
        s.add(row)
    elapsed = rt.clock() - t0
    add_log(rt, task_id, f"re-matched {out['images']} stored inventories ({out['packages']} packages, "
            f"{out['identities']} distinct package versions matched) in "
            f"{elapsed:.2f}s; {len(changed)} images changed")
    if changed:
        emit(rt, "findings.changed", {"reason": "vulnerability database updated", "task_id": task_id, "images": changed[:1000],
                                      "images_changed": len(changed)})
    result = {"images": out["images"], "packages": out["packages"], "identities": out["identities"], "changed": changed[:1000], "images_changed": len(changed),
              "seconds": round(elapsed, 3)}
    failures = len(out["errors"])
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
