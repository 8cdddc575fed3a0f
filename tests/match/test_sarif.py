"""The SARIF writer, validated against the official OASIS SARIF 2.1.0 JSON schema (errata01,
tests/data/report/sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec Schemata/)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import jsonschema
import pytest

from hullscan.model import (
    Artifact,
    Category,
    Finding,
    FixStatus,
    Location,
    ScanReport,
    Severity,
    VulnInfo,
)
from hullscan.report import FORMATS
from hullscan.report.sarif import sarif_data, write

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "report" / "sarif-schema-2.1.0.json").read_text())


def validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sample() -> ScanReport:
    def vuln(id: str, pkg: str, sev: Severity, score: float | None, path: str) -> Finding:
        return Finding(
            id=id, category=Category.VULNERABILITY, severity=sev, title=f"{id} in {pkg}", description="details",
            location=Location(path=path, layer="sha256:" + "1" * 64), remediation="Upgrade",
            vuln=VulnInfo(package_name=pkg, installed_version="1.0", ecosystem="deb", purl=f"pkg:deb/debian/{pkg}@1.0",
                          aliases=("DSA-1-1",), fixed_versions=("1.1",), fix_status=FixStatus.FIXED, cvss_score=score,
                          cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" if score else "",
                          references=("https://security-tracker.debian.org/tracker/CVE-2024-1",)))

    findings = [
        vuln("CVE-2024-1", "openssl", Severity.CRITICAL, 9.8, "/var/lib/dpkg/status"),
        vuln("CVE-2024-1", "libssl3", Severity.CRITICAL, 9.8, "/var/lib/dpkg/status"),
        vuln("CVE-2024-2", "zlib", Severity.LOW, None, "/var/lib/dpkg/status"),
        Finding(id="secret-aws-access-key", category=Category.SENSITIVE, severity=Severity.HIGH, title="AWS key",
                location=Location(path="/app/my config/.env", line=3), evidence="AKIA****"),
        Finding(id="history-curl-pipe-sh", category=Category.HISTORY, severity=Severity.MEDIUM,
                title="curl piped to a shell in a build step"),
        Finding(id="baseline-setuid", category=Category.BASELINE, severity=Severity.UNKNOWN, title="setuid file",
                location=Location(path="/usr/bin/x", removed_in="sha256:" + "2" * 64)),
    ]
    suppressed = [(vuln("CVE-2024-3", "curl", Severity.HIGH, 7.5, "/var/lib/dpkg/status"), "VEX not_affected: x")]
    return ScanReport(artifact=Artifact(name="registry.local:5000/app:1.0", kind="registry", digest="sha256:" + "a" * 64),
                      findings=findings, suppressed=suppressed, notes=["a note"], scanned_at="2024-05-01T10:00:00Z")


def test_valid_against_the_official_schema() -> None:
    data = sarif_data(sample())
    errors = sorted(validator().iter_errors(data), key=str)
    assert errors == []
    out = io.StringIO()
    write(sample(), out)
    assert json.loads(out.getvalue()) == data
    assert FORMATS.get("sarif").factory() is write


def test_rules_results_levels_and_locations() -> None:
    run = sarif_data(sample())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["CVE-2024-1", "secret-aws-access-key", "CVE-2024-3", "history-curl-pipe-sh",
                                        "CVE-2024-2", "baseline-setuid"]  # one rule per id, in Finding.sort_key order
    by_rule = {r["id"]: r for r in rules}
    assert by_rule["CVE-2024-1"]["properties"]["security-severity"] == "9.8"
    assert by_rule["CVE-2024-2"]["properties"]["security-severity"] == "2.0"  # no CVSS: middle of the LOW band
    assert by_rule["CVE-2024-1"]["helpUri"].startswith("https://security-tracker.debian.org/")
    results = run["results"]
    assert len(results) == 7
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    levels = {(r["ruleId"], r["properties"].get("packageName", "")): r["level"] for r in results}
    assert levels[("CVE-2024-1", "openssl")] == "error" and levels[("CVE-2024-2", "zlib")] == "note"
    assert levels[("history-curl-pipe-sh", "")] == "warning"
    uris = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in results}
    assert uris["secret-aws-access-key"] == {"artifactLocation": {"uri": "app/my%20config/.env"}, "region": {"startLine": 3}}
    assert uris["history-curl-pipe-sh"]["artifactLocation"]["uri"] == "registry.local%3A5000/app%3A1.0"
    suppressed = [r for r in results if "suppressions" in r]
    assert [(r["ruleId"], r["suppressions"]) for r in suppressed] == [
        ("CVE-2024-3", [{"kind": "external", "status": "accepted", "justification": "VEX not_affected: x"}])]
    fingerprints = {r["partialFingerprints"]["hullscanFinding/v1"] for r in results}
    assert len(fingerprints) == 7  # openssl and libssl3 results of one CVE stay distinct
    vuln = next(r for r in results if r["properties"].get("packageName") == "openssl")
    assert vuln["properties"]["fixedVersions"] == ["1.1"] and vuln["properties"]["aliases"] == ["DSA-1-1"]


def test_schema_rejects_a_broken_log() -> None:
    data = copy.deepcopy(sarif_data(sample()))
    data["runs"][0]["results"][0]["level"] = "fatal"
    del data["runs"][0]["tool"]["driver"]["name"]
    assert len(list(validator().iter_errors(data))) == 2


def test_empty_report() -> None:
    data = sarif_data(ScanReport(artifact=Artifact(name="/tmp/rootfs", kind="rootfs")))
    assert list(validator().iter_errors(data)) == []
    assert data["runs"][0]["results"] == [] and data["runs"][0]["tool"]["driver"]["rules"] == []


@pytest.mark.parametrize("path", ["/usr/lib/ü.so", "/weird/[brackets]#hash?q", "relative/file"])
def test_uris_are_uri_references(path: str) -> None:
    report = ScanReport(artifact=Artifact(name="img", kind="oci-layout"), findings=[
        Finding(id="x", category=Category.BASELINE, severity=Severity.LOW, title="t", location=Location(path=path))])
    data = sarif_data(report)
    assert list(validator().iter_errors(data)) == []
    uri = data["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert not uri.startswith("/") and " " not in uri and "#" not in uri
