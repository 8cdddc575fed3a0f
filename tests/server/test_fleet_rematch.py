"""Re-matching a fleet through the package index: each distinct package matched once, verdict changes fanned out
in SQL (added and removed findings), and the result equal to matching every image on its own."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hullscan.model import Distro, Package
from hullscan.serde import to_data
from hullscan.server.db.models import FindingRow, Image, ImagePackage, PackageVerdict
from hullscan.server.rematch import vuln_stage
from hullscan.server.results import fingerprint
from hullscan.vulndb.manage import import_paths
from tests.server.conftest import make_runtime
from tests.server.helpers import run

UPDATE_DIR = Path(__file__).resolve().parents[1] / "data" / "server" / "osv_update"
NEW_VULN = "CVE-2023-32681"  # GHSA-j8r2-6x86-q33q's CVE (issue 16.6: CVE first)


def _fleet(rt: Any, n: int) -> None:
    base = [Package(name="urllib3", version="1.26.4", ecosystem="PyPI", purl="pkg:pypi/urllib3@1.26.4", path="/base")]
    base += [Package(name=f"baselib{i}", version="1.0.0", ecosystem="PyPI", path="/base") for i in range(20)]
    with rt.session() as s:
        for i in range(n):
            app = [Package(name="requests", version="2.25.0" if i % 3 == 0 else "2.31.0", ecosystem="PyPI", path=f"/srv{i % 2}"),
                   Package(name=f"app{i}", version="0.1", ecosystem="PyPI", path=f"/app{i}")]
            inv = {"os": to_data(Distro(id="debian", version_id="12")), "packages": to_data(base + app)}
            s.add(Image(digest=f"sha256:{i:064x}", inventory=inv, scan_status="succeeded"))


def _findings(rt: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with rt.session() as s:
        for digest, fp in s.execute(select(Image.digest, FindingRow.fingerprint).join(Image, Image.id == FindingRow.image_id)
                                    .where(FindingRow.category == "vulnerability")):
            out.setdefault(digest, set()).add(fp)
    return out


def _each_image_alone(rt: Any) -> dict[str, set[str]]:
    """The reference: the vuln stage run on every image's own inventory."""
    from hullscan.model import Inventory
    from hullscan.options import ScanOptions
    from hullscan.serde import load
    from hullscan.stages import ScanContext

    stage = vuln_stage()
    options = ScanOptions(scanners=frozenset({"vuln"}), db_path=rt.vuln_db_path, cache_dir=rt.cache_dir, quiet=True)
    out: dict[str, set[str]] = {}
    with rt.session() as s:
        for digest, inv in s.execute(select(Image.digest, Image.inventory)):
            inventory = Inventory(distro=load(Distro, inv["os"]), packages=[load(Package, p) for p in inv["packages"]])
            fps = {fingerprint(f) for f in stage(ScanContext(options=options, inventory=inventory))}
            if fps:
                out[digest] = fps
    return out


def test_fleet_rematch_fans_verdict_changes_out(tmp_path: Path, vulndb: Path) -> None:
    db = tmp_path / "vuln.db"
    shutil.copy(vulndb, db)
    rt = make_runtime(tmp_path / "data", db)
    _fleet(rt, 30)
    first = run(rt, "rematch", {})  # first sight: the index is built, every image's findings come from the verdicts
    assert first.status == "succeeded", first.error
    # base shared once, two requests versions at two places each, one app package each; matched: each version once
    assert (first.result["packages"], first.result["identities"]) == (21 + 4 + 30, 21 + 2 + 30)
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(ImagePackage)) == 30 * 23
        assert s.scalar(select(func.count()).select_from(PackageVerdict).where(PackageVerdict.verdict_db != "")) == 53
    assert _findings(rt) == _each_image_alone(rt) and len(_findings(rt)) == 30

    import_paths(db, [UPDATE_DIR])  # a new advisory for requests 2.25.0: the set-based path adds it to 10 images
    second = run(rt, "rematch", {})
    assert second.status == "succeeded", second.error
    assert second.result["images_changed"] == 10
    assert {c["gained"] for c in second.result["changed"]} == {1} and {c["lost"] for c in second.result["changed"]} == {0}
    assert _findings(rt) == _each_image_alone(rt)
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(FindingRow).where(FindingRow.rule_id == NEW_VULN)) == 10

    shutil.copy(vulndb, db)  # the advisory withdrawn: the set-based path removes it again
    third = run(rt, "rematch", {})
    assert third.result["images_changed"] == 10 and {c["lost"] for c in third.result["changed"]} == {1}
    assert _findings(rt) == _each_image_alone(rt)
    with rt.session() as s:
        assert s.scalar(select(func.count()).select_from(FindingRow).where(FindingRow.rule_id == NEW_VULN)) == 0
    assert run(rt, "rematch", {}).result["images_changed"] == 0  # nothing changed: nothing touched
