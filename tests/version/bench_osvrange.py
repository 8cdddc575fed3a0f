"""Time OSV range evaluation on real records: ``python -m tests.version.bench_osvrange``.

Needs ``$HULLSCAN_VULNDATA``. Takes up to 800 records per bundle, picks one bound of each
affected entry as the "installed" version and times :func:`is_affected` over all of them: first
cold (every version parsed, every range compiled), then warm (caches filled), then on fresh copies
of the records (as a database would hand them out: new dicts, same content).
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from hullscan.version import InvalidVersionError, UnknownEcosystemError
from hullscan.version.osvrange import fixed_versions, is_affected

BUNDLES = ["AlmaLinux", "PyPI", "Go", "npm", "Wolfi", "RubyGems", "Packagist", "crates.io", "Bitnami"]


def workload(root: Path, per_bundle: int = 800) -> list[tuple[str, dict[str, Any], str]]:
    """(version, affected entry, ecosystem) triples from real records."""
    rnd = random.Random(1)
    out = []
    for bundle in BUNDLES:
        with zipfile.ZipFile(root / bundle / "all.zip") as zf:
            for member in zf.namelist()[:per_bundle]:
                for affected in json.loads(zf.read(member)).get("affected") or ():
                    bounds = [
                        v
                        for rng in affected.get("ranges") or ()
                        if rng.get("type") != "GIT"
                        for event in rng.get("events") or ()
                        for v in event.values()
                        if v != "0"
                    ]
                    if bounds:
                        out.append((rnd.choice(bounds), affected, affected["package"]["ecosystem"]))
    return out


def run(work: list[tuple[str, dict[str, Any], str]], fixes: bool = False) -> float:
    """Seconds to evaluate every triple once."""
    start = time.perf_counter()
    for version, affected, ecosystem in work:
        try:
            if is_affected(version, affected, ecosystem) and fixes:
                fixed_versions(affected, ecosystem, version)
        except (InvalidVersionError, UnknownEcosystemError):
            pass
    return time.perf_counter() - start


def main() -> int:
    root = os.environ.get("HULLSCAN_VULNDATA")
    if not root:
        print("set HULLSCAN_VULNDATA to the offline vulnerability data snapshot", file=sys.stderr)
        return 2
    work = workload(Path(root))
    n = len(work)
    cold = run(work)
    warm = run(work)
    fresh = run([(v, copy.deepcopy(a), e) for v, a, e in work])
    with_fixes = run(work, fixes=True)
    print(
        f"{n} checks: cold {cold:.3f}s, warm {warm:.3f}s ({warm / n * 1e6:.1f} us/check), "
        f"fresh dicts {fresh:.3f}s, warm with fixed_versions {with_fixes:.3f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
