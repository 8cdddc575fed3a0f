"""Issue 16.6: vulnerability identity and severity. The CVE an advisory aliases is the finding's id (PYSEC,
GHSA, Bitnami ids stay as aliases); records of several sources for one CVE make one finding; a finding its
own records leave unrated takes the best rating of another record naming the same CVE (and says which); the
title is the advisory's summary, or the first sentence of its details that does not describe the package.
Then how ``--severity`` and ``--exit-code`` treat UNKNOWN, through the real CLI on a built image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hullscan.match import match_packages
from hullscan.model import Package, Severity
from hullscan.vulndb.db import VulnDB
from tests.server.conftest import python_image
from tests.vulndb.fixtures import build_db, osv, rng

HIGH = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]  # 7.5
CRITICAL = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]  # 9.8
BELOW_2 = rng({"introduced": "0"}, {"fixed": "2.0"})


def feeds() -> dict[str, object]:
    return {
        # PYSEC without a rating + the GHSA with the CVSS, both naming CVE-2099-1111: one finding
        "pypi/PYSEC-2099-1.json": osv("PYSEC-2099-1", "PyPI", "demo", BELOW_2, aliases=["CVE-2099-1111", "GHSA-aaaa-bbbb-cccc"],
                                      details="demo is a small library for parsing things. Demo mishandles nested brackets."),
        "pypi/GHSA-aaaa-bbbb-cccc.json": osv("GHSA-aaaa-bbbb-cccc", "PyPI", "demo", BELOW_2, aliases=["CVE-2099-1111"],
                                             summary="Demo mishandles nested brackets", severity=HIGH),
        # unrated PYSEC; the only rating of CVE-2099-2222 is a Bitnami record (another ecosystem)
        "pypi/PYSEC-2099-2.json": osv("PYSEC-2099-2", "PyPI", "demo", BELOW_2, aliases=["CVE-2099-2222"],
                                      details="Demo (the parser) is a library for parsing.\nA crafted header crashes the parser."),
        "bitnami/BIT-demo-2099-2222.json": osv("BIT-demo-2099-2222", "Bitnami", "demo", BELOW_2, aliases=["CVE-2099-2222"],
                                               severity=CRITICAL, summary="crafted header crash"),
        # nothing rates CVE-2099-3333
        "pypi/PYSEC-2099-3.json": osv("PYSEC-2099-3", "PyPI", "demo", BELOW_2, aliases=["CVE-2099-3333"],
                                      summary="Demo leaks memory"),
    }


def test_cve_first_merged_rated_from_aliases_titled(tmp_path: Path) -> None:
    with VulnDB(build_db(tmp_path, feeds())) as db:
        found = match_packages(db, None, [Package("demo", "1.0", "PyPI", path="/app/METADATA")]).findings
    by_id = {f.id: f for f in found}
    assert [f.id for f in found] == ["CVE-2099-2222", "CVE-2099-1111", "CVE-2099-3333"]  # by severity, then id
    one = by_id["CVE-2099-1111"]
    assert one.vuln.aliases == ("GHSA-aaaa-bbbb-cccc", "PYSEC-2099-1")
    assert one.severity is Severity.HIGH and one.vuln.cvss_score == 7.5 and one.vuln.severity_source.endswith("(CVSS 3.1)")
    assert one.title == "Demo mishandles nested brackets"
    two = by_id["CVE-2099-2222"]
    assert two.vuln.aliases == ("PYSEC-2099-2",)  # the Bitnami record rates it, it does not match a PyPI package
    assert two.severity is Severity.CRITICAL and two.vuln.cvss_score == 9.8
    assert "BIT-demo-2099-2222 via CVE-2099-2222 (CVSS 3.1)" in two.vuln.severity_source
    assert two.title == "A crafted header crashes the parser"  # not "Demo (the parser) is a library for parsing"
    assert by_id["CVE-2099-3333"].severity is Severity.UNKNOWN and by_id["CVE-2099-3333"].vuln.severity_source == ""


def _hullscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


def test_unknown_and_severity_exit_code(tmp_path: Path) -> None:
    db = build_db(tmp_path, feeds())
    python_image(("demo", "1.0")).write_oci_layout(tmp_path / "img")
    common = ["image", str(tmp_path / "img"), "--db", str(db), "--scanners", "vuln", "--no-cache", "-f", "json"]

    def run(*extra: str) -> tuple[int, list[str], dict[str, str]]:
        out = _hullscan(*common, *extra, cwd=tmp_path)
        assert out.returncode in (0, 5), out.stderr
        data = json.loads(out.stdout)
        return out.returncode, [f["id"] for f in data["findings"]], {s["finding"]["id"]: s["reason"] for s in data["suppressed"]}

    # no --severity: UNKNOWN findings are reported and count for --exit-code
    assert run("--exit-code", "5") == (5, ["CVE-2099-2222", "CVE-2099-1111", "CVE-2099-3333"], {})
    # --severity without UNKNOWN: the UNKNOWN finding is suppressed (with its reason) and does not trip the gate
    code, ids, suppressed = run("--severity", "CRITICAL", "--exit-code", "5")
    assert (code, ids) == (5, ["CVE-2099-2222"])
    assert suppressed["CVE-2099-3333"] == "severity UNKNOWN not selected by --severity"
    code, ids, _ = run("--severity", "MEDIUM,LOW", "--exit-code", "5")
    assert (code, ids) == (0, [])
    # UNKNOWN named: kept and gating
    assert run("--severity", "UNKNOWN", "--exit-code", "5")[:2] == (5, ["CVE-2099-3333"])
