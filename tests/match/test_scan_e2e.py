"""End to end through :func:`hullscan.scan.scan`: an OCI image built with ImageBuilder holding a real
dpkg status entry (this host's ``libssl3``, source ``openssl``) and the dist-info ``pip install
--target`` wrote for ``urllib3==1.26.4`` (tests/data/match/site-packages), matched against a
Debian-tracker-format fixture and OSV records: exactly the expected findings, no more. Then the CLI
gates (--exit-code, --severity, --ignore-unfixed, .hullscanignore, --vex) and the SARIF output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.model import FixStatus, ScanReport
from hullscan.options import ScanOptions
from hullscan.scan import scan
from hullscan.vulndb.manage import import_paths
from tests.helpers.imagebuild import F, ImageBuilder
from tests.vulndb.fixtures import VULNDATA, build_db, needs_vulndata, osv, rng

ROOT = Path(__file__).resolve().parents[1] / "data"
STATUS = Path("/var/lib/dpkg/status")
needs_dpkg = pytest.mark.skipif(not STATUS.is_file(), reason="needs a dpkg system")


def host_stanza(name: str) -> tuple[str, dict[str, str]]:
    for chunk in STATUS.read_text().split("\n\n"):
        if chunk.startswith(f"Package: {name}\n"):
            fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", chunk, re.MULTILINE))
            return chunk.strip() + "\n\n", fields
    raise LookupError(name)


def image_files() -> tuple[ImageBuilder, dict[str, str]]:
    stanza, fields = host_stanza("libssl3")
    release = ROOT / "os" / "release" / "debian-12" / "rootfs"
    base = {str(p.relative_to(release)): p.read_bytes() for p in release.rglob("*") if p.is_file()}
    base["etc/os-release"] = F(kind="symlink", linkname="../usr/lib/os-release")
    base["var/lib/dpkg/status"] = stanza
    dist = ROOT / "match" / "site-packages"
    app = {f"app/site-packages/{p.relative_to(dist)}": p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    image = ImageBuilder().add_layer(base, created_by="debian base").add_layer(app, created_by="pip install --target")
    return image, fields


def feeds(fields: dict[str, str]) -> dict[str, object]:
    source_version = fields["Version"]  # libssl3 is built from openssl of the same version
    tracker = {"openssl": {
        "CVE-2099-0001": {"description": "fixed after the installed version", "scope": "remote", "releases": {
            "bookworm": {"status": "resolved", "repositories": {"bookworm": source_version},
                         "fixed_version": source_version + ".1", "urgency": "high"}}},
        "CVE-2099-0002": {"description": "never affected bookworm", "releases": {
            "bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "low"}}},
        "CVE-2099-0003": {"description": "fixed long ago", "releases": {
            "bookworm": {"status": "resolved", "fixed_version": "1.0.0-1", "urgency": "low"}}},
        "CVE-2099-0004": {"description": "open, ignored", "releases": {
            "bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"}}},
        "CVE-2099-0005": {"description": "only affects bullseye", "releases": {
            "bullseye": {"status": "open", "urgency": "medium"}}},
    }}
    pypi = [
        osv("PYSEC-2021-108", "PyPI", "urllib3", rng({"introduced": "0"}, {"fixed": "1.26.5"}),
            aliases=["CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg"], details="Catastrophic backtracking in URL authority parser."),
        osv("GHSA-q2q7-5pp4-w6pg", "PyPI", "urllib3", rng({"introduced": "1.25.4"}, {"fixed": "1.26.5"}),
            aliases=["CVE-2021-33503"], summary="Catastrophic backtracking in URL authority parser",
            database_specific={"severity": "HIGH"}),
        osv("PYSEC-2021-59", "PyPI", "urllib3", rng({"introduced": "1.26.0"}, {"fixed": "1.26.4"})),
        osv("PYSEC-2099-1", "PyPI", "requests", rng({"introduced": "0"})),
    ]
    return {"tracker/json": tracker, **{f"pypi/{r['id']}.json": r for r in pypi}}


def run_scan(tmp_path: Path, db: Path) -> tuple[ScanReport, Path, ImageBuilder]:
    image, _ = image_files()
    layout = tmp_path / "image"
    if layout.exists():
        shutil.rmtree(layout)
    image.write_oci_layout(layout)
    options = ScanOptions(scanners=frozenset({"vuln"}), cache_dir=tmp_path / "cache", db_path=db)
    return scan(str(layout), options), layout, image


@needs_dpkg
def test_image_yields_exactly_the_expected_findings(tmp_path: Path) -> None:
    image, fields = image_files()
    db = build_db(tmp_path, feeds(fields))
    report, _, image = run_scan(tmp_path, db)
    got = sorted((f.id, f.vuln.package_name, f.vuln.fix_status, f.vuln.fixed_versions) for f in report.findings)
    assert got == [
        ("CVE-2021-33503", "urllib3", FixStatus.FIXED, ("1.26.5",)),  # issue 16.6: CVE first
        ("CVE-2099-0001", "libssl3", FixStatus.FIXED, (fields["Version"] + ".1",)),
        ("CVE-2099-0004", "libssl3", FixStatus.WILL_NOT_FIX, ()),
    ]
    by_id = {f.id: f for f in report.findings}
    ssl, url = by_id["CVE-2099-0001"], by_id["CVE-2021-33503"]
    assert ssl.severity.value == "HIGH" and ssl.vuln.source_name == "openssl"
    assert ssl.location.path == "/var/lib/dpkg/status" and ssl.location.layer == image.layers[0].diff_id
    assert url.vuln.aliases == ("GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-108")
    assert url.location.layer == image.layers[1].diff_id and url.location.path.endswith("METADATA")
    assert url.severity.value == "HIGH" and url.vuln.purl.startswith("pkg:pypi/urllib3@1.26.4")
    assert report.notes == []
    assert any(p.name == "vuln" and p.status == "ok" for p in report.plugins)


@needs_dpkg
@needs_vulndata
def test_image_against_real_pypi_records(tmp_path: Path) -> None:
    db = tmp_path / "real.db"
    import_paths(db, [Path(VULNDATA) / "PyPI" / "all.zip"])
    report, _, _ = run_scan(tmp_path, db)
    assert sorted(f.id for f in report.findings) == ["CVE-2021-33503", "CVE-2023-43804", "CVE-2023-45803"]
    assert report.notes == ["no vulnerability data for debian 12: 1 package not checked"]


def hullscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from hullscan.cli import main; sys.argv[0] = 'hullscan'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False)


@needs_dpkg
def test_cli_gates_suppression_and_sarif(tmp_path: Path) -> None:
    image, fields = image_files()
    db = build_db(tmp_path, feeds(fields))
    layout = tmp_path / "image"
    image.write_oci_layout(layout)
    common = ["image", str(layout), "--db", str(db), "--scanners", "vuln", "--cache-dir", str(tmp_path / "c"), "-q"]
    gate = hullscan(*common, "--exit-code", "3", cwd=tmp_path)
    assert gate.returncode == 3, gate.stderr
    assert "CVE-2099-0001" in gate.stdout and "total: 3 finding(s)" in gate.stdout
    # .hullscanignore in the working folder (text form) + --ignore-unfixed: one finding left
    (tmp_path / ".hullscanignore").write_text("CVE-2021-33503 pkg=urllib3  # not reachable\nCVE-2099-0001 exp:2000-01-01\n")
    out = hullscan(*common, "--exit-code", "3", "--ignore-unfixed", "--show-suppressed", "-f", "table", cwd=tmp_path)
    assert out.returncode == 3, out.stderr
    assert "total: 1 finding(s)" in out.stdout and "2 suppressed" in out.stdout
    assert "CVE-2021-33503 [HIGH] urllib3 1.26.4: ignored: not reachable" in out.stdout
    assert "CVE-2099-0004 [LOW] libssl3" in out.stdout and "--ignore-unfixed" in out.stdout
    assert "ignore entry CVE-2099-0001 expired on 2000-01-01" in out.stdout
    # OpenVEX not_affected for libssl3 in this image + --severity HIGH,CRITICAL: urllib3's finding remains
    vex = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.org/vex-1", "author": "sec team",
           "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{
               "vulnerability": {"name": "CVE-2099-0001"},
               "products": [{"@id": f"pkg:oci/test@{image.digest.replace(':', '%3A')}",
                             "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]}],
               "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}
    (tmp_path / "vex.json").write_text(json.dumps(vex))
    (tmp_path / ".hullscanignore").unlink()
    vexed = hullscan(*common, "--exit-code", "3", "--severity", "CRITICAL,HIGH", "--vex", str(tmp_path / "vex.json"),
                     "-f", "json", "-o", str(tmp_path / "r.json"), cwd=tmp_path)
    assert vexed.returncode == 3, vexed.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert [f["id"] for f in data["findings"]] == ["CVE-2021-33503"]
    assert sorted((s["finding"]["id"], s["reason"]) for s in data["suppressed"]) == [
        ("CVE-2099-0001", "VEX not_affected: vulnerable_code_not_in_execute_path"),
        ("CVE-2099-0004", "severity LOW not selected by --severity")]
    sarif = hullscan(*common, "-f", "sarif", cwd=tmp_path)
    assert sarif.returncode == 0, sarif.stderr
    log = json.loads(sarif.stdout)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"CVE-2099-0001", "CVE-2099-0004", "CVE-2021-33503"}
    bad = hullscan(*common, "--severity", "SEVERE", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown severity 'SEVERE'" in bad.stderr
