"""Fleet re-match benchmark on PostgreSQL: ``python bench/rematch_bench.py [--images 100000]``.

A fleet of stored inventories (100 to 1,000 packages each) is re-matched after a vulnerability DB update, through
the server's own code (:func:`hullscan.server.fleet.rematch`). The packages are real: Debian packages installed on
this machine (``dpkg-query``: the OS layer of every image, five base images made of subsets of it) and PyPI
packages at versions named by the PyPI advisories of the offline snapshot (``$HULLSCAN_VULNDATA``), in five shared
runtime layers and in each image's own application layer (popular packages more likely, as in real fleets).
The update: the "before" DB lacks 5% of the PyPI advisories, the "after" DB has them all.

Setup (not timed): the store is filled with COPY, then the "before" verdicts are seeded set-based. Printed: the
fleet's shape, the seed time, and the re-match time after the update with the images whose findings changed.
PostgreSQL: ``$HULLSCAN_BENCH_PG`` (a server URL where the bench may create a database; default the machine's
``postgresql+psycopg://postgres@127.0.0.1:5432``). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool


def vulndata() -> Path:
    env = os.environ.get("HULLSCAN_VULNDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "vulndata"


def pypi_records() -> list[dict[str, Any]]:
    with zipfile.ZipFile(vulndata() / "PyPI" / "all.zip") as z:
        return [json.loads(z.read(n)) for n in sorted(z.namelist()) if n.endswith(".json")]


def build_dbs(tmp: Path, records: list[dict[str, Any]], held_back: float) -> tuple[Path, Path]:
    from hullscan.vulndb.manage import import_paths

    rng = random.Random(7)
    dirs = {"before": tmp / "before" / "PyPI", "after": tmp / "after" / "PyPI"}
    for d in dirs.values():
        d.mkdir(parents=True)
    for name, keep in (("before", lambda: rng.random() >= held_back), ("after", lambda: True)):
        with zipfile.ZipFile(dirs[name] / "all.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for r in records:
                if keep():
                    z.writestr(f"{r['id']}.json", json.dumps(r))
    out = []
    for name in ("before", "after"):
        path = tmp / f"{name}.db"
        import_paths(path, [tmp / name])
        out.append(path)
    return out[0], out[1]


def pypi_pool(records: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str]]:
    """(name, version) pairs named by the advisories: mostly fixed versions (a fleet is mostly patched), one in ten
    an affected version (listed or a range's start)."""
    fixed: set[tuple[str, str]] = set()
    affected: set[tuple[str, str]] = set()
    for r in records:
        for a in r.get("affected") or []:
            name = (a.get("package") or {}).get("name")
            if not name:
                continue
            affected.update((name, v) for v in list(a.get("versions") or [])[-3:])
            for rg in a.get("ranges") or []:
                for e in rg.get("events") or []:
                    if e.get("fixed"):
                        fixed.add((name, e["fixed"]))
                    elif e.get("introduced") not in (None, "0"):
                        affected.add((name, e["introduced"]))
    vulnerable = rng.sample(sorted(affected), min(len(affected), len(fixed) // 9))
    return sorted(fixed) + vulnerable


def dpkg_pool() -> list[tuple[str, str, str]]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${source:Package}\t${source:Version}\n"],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("\t")[:3]) for line in out.splitlines() if line.count("\t") >= 3]  # type: ignore[misc]


def pkg(name: str, version: str, ecosystem: str, path: str, layer: str, source: str = "") -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "version": version, "ecosystem": ecosystem, "path": path, "layer": layer}
    if ecosystem == "PyPI":
        d["purl"] = f"pkg:pypi/{name.lower()}@{version}"
    else:
        d["purl"] = f"pkg:deb/debian/{name}@{version}?distro=debian-12"
        if source and source != name:
            d["source_name"] = source
    return d


def copy_rows(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    """COPY rows (tuples) into ``table``; returns the count."""
    n = 0
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from hullscan.options import ScanOptions
    from hullscan.server import fleet
    from hullscan.server.db.migrate import upgrade
    from hullscan.server.db.session import make_engine, make_sessionmaker
    from hullscan.server.rematch import vuln_stage

    rng = random.Random(args.seed)
    base_url = os.environ.get("HULLSCAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432").rstrip("/")
    name = f"hs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{base_url}/postgres", isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = Path(tempfile.mkdtemp(prefix="hullscan-rematch-bench-"))
    try:
        t = time.monotonic()
        records = pypi_records()
        before_db, after_db = build_dbs(tmp, records, held_back=0.05)
        print(f"vulnerability DBs built from {len(records)} PyPI advisories (before: 95%): {time.monotonic() - t:.1f}s")
        engine = make_engine(f"{base_url}/{name}")
        upgrade(engine)
        sessions = make_sessionmaker(engine)

        debian = {"id": "debian", "version_id": "12", "name": "Debian GNU/Linux"}
        dpkgs = dpkg_pool()
        pypi = pypi_pool(records, rng)
        rng.shuffle(pypi)
        popular = pypi[:3000]  # an app layer draws mostly from popular packages (Zipf-like), sometimes from the tail
        # located packages: key -> (id, match_key, distro, data)
        packages: dict[str, tuple[int, str, Any, dict[str, Any]]] = {}

        def located(distro: Any, data: dict[str, Any]) -> int:
            k = fleet.package_key(distro, data)
            got = packages.get(k)
            if got is None:
                got = (len(packages) + 1, fleet.match_key(distro, data), distro, data)
                packages[k] = got
            return got[0]

        bases = []
        for b in range(5):
            chosen = rng.sample(dpkgs, min(len(dpkgs), rng.randint(100, 300)))
            bases.append([located(debian, pkg(n, v, "Debian", "/var/lib/dpkg/status", f"sha256:base{b:060d}", s))
                          for n, v, s in chosen])
        runtimes = []
        for r in range(25):
            chosen = rng.sample(popular, rng.randint(0, 400))
            runtimes.append([located(debian, pkg(n, v, "PyPI", "/usr/local/lib/python3.11/site-packages", f"sha256:rt{r:062d}"))
                             for n, v in chosen])
        t = time.monotonic()
        links: list[tuple[int, int]] = []
        sizes = []
        for i in range(1, args.images + 1):
            held = set(bases[i % 5]) | set(runtimes[rng.randrange(25)])
            for _ in range(rng.randint(0, 60)):  # the image's own application layer
                n, v = popular[min(int(rng.paretovariate(1.2)) - 1, len(popular) - 1)] if rng.random() < 0.9 else rng.choice(pypi)
                held.add(located(debian, pkg(n, v, "PyPI", "/app/site-packages", f"sha256:app{i:061d}")))
            while len(held) < 100:
                n, v, s = rng.choice(dpkgs)
                held.add(located(debian, pkg(n, v, "Debian", "/var/lib/dpkg/status", f"sha256:base{i % 5:060d}", s)))
            sizes.append(len(held))
            links.extend((i, p) for p in held)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            copy_rows(conn, "packages", ["id", "key", "match_key", "distro", "data"],
                      ((pid, k, mk, json.dumps(d), json.dumps(data)) for k, (pid, mk, d, data) in packages.items()))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('packages', 'id'), (SELECT max(id) FROM packages))"))
            inv = json.dumps({"os": debian, "packages": [], "note": "indexed in image_packages"})
            copy_rows(conn, "images", ["id", "digest", "os", "inventory", "inventory_fingerprint", "scan_status", "scan_error",
                                       "created_at", "scan_claim_owner"],
                      ((i, f"sha256:{i:064x}", "debian 12", inv, "", "succeeded", "", now, "") for i in range(1, args.images + 1)))
            conn.execute(text("SELECT setval(pg_get_serial_sequence('images', 'id'), (SELECT max(id) FROM images))"))
            copy_rows(conn, "image_packages", ["image_id", "package_id"], iter(links))
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        identities = len({v[1] for v in packages.values()})
        print(f"fleet: {args.images} images, {len(links)} package links (per image {min(sizes)}-{max(sizes)}, "
              f"mean {sum(sizes) / len(sizes):.0f}), {len(packages)} packages at their places, {identities} distinct "
              f"package versions; stored in {time.monotonic() - t:.1f}s")

        stage = vuln_stage()
        before = ScanOptions(scanners=frozenset({"vuln"}), db_path=before_db, cache_dir=tmp / "cache", quiet=True)
        after = ScanOptions(scanners=frozenset({"vuln"}), db_path=after_db, cache_dir=tmp / "cache", quiet=True)
        t = time.monotonic()
        with sessions() as s:  # seed (setup): the "before" verdicts, fanned out set-based as a re-match would
            reps = {mk: (d, data) for _, mk, d, data in sorted(packages.values(), key=lambda v: v[0])}
            matched, _ = fleet.match_packages(stage, before, [(mk, d, data) for mk, (d, data) in reps.items()])
        from hullscan.serde import to_data
        from hullscan.server.db.models import PackageVerdict

        changed: dict[int, list[int]] = {}
        with sessions() as s, s.begin():
            for mk, found in matched.items():
                s.add(PackageVerdict(match_key=mk, verdict=fleet._verdict(found), verdict_db="before",
                                     findings=[to_data(f) for f in found]))
            deltas = [(pid, [], [fleet.relocate(f, data["path"], data["layer"]) for f in matched[mk]])
                      for pid, mk, _, data in packages.values() if matched.get(mk)]
            fleet._apply_deltas(s, deltas, now, changed)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
            findings_before = conn.execute(text("SELECT count(*) FROM findings")).scalar_one()
        print(f"seed (setup): {findings_before} findings of the 'before' DB in {time.monotonic() - t:.1f}s")

        t = time.monotonic()
        out = fleet.rematch(sessions, stage, after, "after", datetime.now(UTC))
        elapsed = time.monotonic() - t
        with engine.connect() as conn:
            findings_after = conn.execute(text("SELECT count(*) FROM findings")).scalar_one()
        gained = sum(g for g, _ in out["changed"].values())
        print(f"re-match after the update: {elapsed:.1f}s for {out['images']} images ({out['identities']} package versions "
              f"matched once each); {len(out['changed'])} images changed (+{gained} findings); findings "
              f"{findings_before} -> {findings_after}; target < 60 s: {'met' if elapsed < 60 else 'NOT met'}")
        t = time.monotonic()
        again = fleet.rematch(sessions, stage, after, "after", datetime.now(UTC))
        print(f"re-match with no change: {time.monotonic() - t:.1f}s, {len(again['changed'])} images changed")
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
