"""Issue 12 benchmark: server time of every console page with 10,000 images and 1,000,000 findings.

    python bench/console_bench.py [--images 10000] [--findings-per-image 100] [--runs 5] [--db-url URL]

Fills a store (SQLite in bench/.cache by default, reused between runs; ``--db-url`` for PostgreSQL) with
1,000 repositories, 10,000 images (one tag each, scanned), 100 findings per image over the five categories and
six severities (some handled, some whitelisted), a scan per image and a few tasks; then renders every console
page in-process (Starlette's TestClient over the app, logged in as an administrator: no network, so the time
is the server's) and prints the median and worst time per page, side by side without and with the console's
indexes (migration 0003_console: the same queries, the index dropped vs present). Not a test: the figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CACHE = ROOT / "bench" / ".cache"
CATEGORIES = ["vulnerability"] * 6 + ["baseline", "sensitive", "history", "malicious"]
SEVERITIES = [("CRITICAL", 5), ("HIGH", 4), ("MEDIUM", 3), ("LOW", 2), ("NEGLIGIBLE", 1), ("UNKNOWN", 0)]
ECOSYSTEMS = ["deb", "deb", "rpm", "apk", "PyPI", "npm", "Maven", "Go"]
#: the console's indexes (migration 0003_console)
INDEXES = ["ix_findings_console_totals", "ix_findings_console_list", "ix_findings_first_seen"]


def fill(rt: Any, images: int, per_image: int) -> None:
    from sqlalchemy import insert

    from hullscan.server.auth import create_user
    from hullscan.server.db.models import FindingRow, Image, ImageTag, Registry, Repository, Scan, Task

    rng = random.Random(12)
    now = datetime.now(UTC)
    with rt.session() as s:
        create_user(s, "bench", "bench password", "admin")
        reg = Registry(name="bench", type="registry", version="v2", protocol="http", ip="127.0.0.1", port=5000)
        s.add(reg)
        s.flush()
        repos = [{"registry_id": reg.id, "name": f"team{i // 100}/service-{i}", "pull_prefix": "", "in_scope": True}
                 for i in range(max(images // 10, 1))]
        s.execute(insert(Repository), repos)
        task = Task(kind="scan", status="succeeded", progress_done=images, progress_total=images, created_at=now)
        s.add(task)
        s.flush()
        task_id = task.id
    t0 = time.perf_counter()
    with rt.engine.begin() as conn:
        conn.execute(insert(Image), [{"digest": f"sha256:{i:064x}", "os": "debian 12", "scan_status": "succeeded",
                                      "last_scanned_at": now - timedelta(hours=i % 240), "inventory": None}
                                     for i in range(1, images + 1)])
        conn.execute(insert(ImageTag), [{"repository_id": (i - 1) // 10 + 1, "image_id": i, "tag": f"v{i % 10}"}
                                        for i in range(1, images + 1)])
        conn.execute(insert(Scan), [{"image_id": i, "task_id": task_id, "status": "succeeded", "summary": {},
                                     "started_at": now - timedelta(days=i % 30), "duration_seconds": 1.5}
                                    for i in range(1, images + 1)])
        batch: list[dict[str, Any]] = []
        for image_id in range(1, images + 1):
            for n in range(per_image):
                cat = CATEGORIES[n % len(CATEGORIES)]
                sev, rank = SEVERITIES[rng.randrange(6)]
                eco = ECOSYSTEMS[rng.randrange(len(ECOSYSTEMS))] if cat == "vulnerability" else ""
                state = "handled" if rng.random() < 0.05 else "open"
                batch.append({
                    "image_id": image_id, "fingerprint": f"{image_id}-{n}", "category": cat,
                    "rule_id": f"CVE-2024-{rng.randrange(40000):05d}" if cat == "vulnerability" else f"{cat}-check-{n % 7}",
                    "severity": sev, "severity_rank": rank, "title": f"{cat} finding {n}", "description": "",
                    "path": f"/usr/lib/file{n}" if cat != "vulnerability" else "", "line": 0, "layer": "sha256:" + "a" * 64,
                    "removed_in": "", "evidence": "", "remediation": "", "package_name": f"pkg{rng.randrange(3000)}" if eco else "",
                    "package_version": "1.0" if eco else "", "ecosystem": eco, "purl": "", "fix_status": "fixed" if eco else "",
                    "fixed_versions": ["1.1"] if eco else [], "cvss_score": None, "data_source": "", "detail": {},
                    "state": state, "state_reason": "", "state_by": "", "state_at": None,
                    "suppressed_by": 1 if rng.random() < 0.02 else None,
                    "first_seen": now - timedelta(days=rng.randrange(60)), "last_seen": now,
                })
                if len(batch) >= 20_000:
                    conn.execute(insert(FindingRow), batch)
                    batch.clear()
        if batch:
            conn.execute(insert(FindingRow), batch)
    print(f"filled {images} images, {images * per_image} findings in {time.perf_counter() - t0:.0f} s", flush=True)


def page_list(rt: Any) -> list[str]:
    return ["/ui/dashboard", "/ui/security", "/ui/security?tab=vulnerability&kind=system&severity=HIGH",
            "/ui/security?tab=vulnerability&page=2000", "/ui/security?tab=baseline&sort=first_seen&dir=asc",
            "/ui/security?tab=sensitive&repository=team3/service-345", "/ui/security?tab=vulnerability&package=pkg42",
            "/ui/security/findings/500000", "/ui/images", "/ui/images?page=300", "/ui/images/5000",
            "/ui/settings?tab=config", "/ui/settings?tab=vulnwhitelist", "/ui/scan", "/ui/tasks", "/ui/tasks/1",
            "/ui/registries", "/ui/users", "/ui/tokens"]


def measure(rt: Any, runs: int) -> dict[str, tuple[float, float, float]]:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app

    c = TestClient(create_app(rt), client=("127.0.0.1", 5000), follow_redirects=False)
    page = c.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert c.post("/ui/login", data={"csrf": token, "username": "bench", "password": "bench password"}).status_code == 303
    from hullscan.server.web import aggregates

    c.get("/ui/scan")  # templates compiled, statement caches warm
    out: dict[str, tuple[float, float, float]] = {}
    for path in page_list(rt):
        aggregates.invalidate(rt)  # the first render recomputes the shared store-wide counts
        times = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            r = c.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        out[path] = (times[0], statistics.median(times[1:]), max(times[1:]))
    return out


def set_indexes(rt: Any, present: bool) -> None:
    from sqlalchemy import text

    from hullscan.server.db.models import FindingRow

    with rt.engine.begin() as conn:
        for name in INDEXES:
            if present:
                index = next(ix for ix in FindingRow.__table__.indexes if ix.name == name)
                index.create(conn, checkfirst=True)
            else:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        if rt.engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE findings"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--findings-per-image", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db-url", default="")
    ap.add_argument("--only-indexed", action="store_true", help="measure with the console's indexes only")
    args = ap.parse_args()
    from hullscan.server.runtime import ServerConfig, build_runtime

    data = CACHE / f"console-{args.images}x{args.findings_per_image}"
    fresh = not (data / "hullscan.db").exists() or bool(args.db_url)
    rt = build_runtime(ServerConfig(data_dir=data, db_url=args.db_url, vuln_db_path=data / "none.db", scheduler=False))
    if fresh:
        fill(rt, args.images, args.findings_per_image)
    results = {}
    for present in ((False, True) if not args.only_indexed else (True,)):
        set_indexes(rt, present)
        results[present] = measure(rt, args.runs)
    import os

    print(f"\n{args.images} images, {args.images * args.findings_per_image} findings, {rt.engine.dialect.name}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; server time per page in ms: first render "
          f"(shared counts recomputed) | median / worst of {args.runs} more\n")
    print(f"{'page':60} {'without console indexes':>28} {'with (0003_console)':>28}")
    for path in page_list(rt):
        b = results[True][path]
        a = results.get(False, {}).get(path, (float("nan"),) * 3)
        flag = "" if b[2] < 300 else "  over 300 ms warm" if b[1] >= 300 else ""
        print(f"{path:60} {a[0]:8.0f} | {a[1]:6.0f} / {a[2]:6.0f}   {b[0]:8.0f} | {b[1]:6.0f} / {b[2]:6.0f}{flag}")


if __name__ == "__main__":
    main()
