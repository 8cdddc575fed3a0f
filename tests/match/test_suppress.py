"""Suppression and filtering (pure functions over a ScanReport), and CVSS/severity parsing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hullscan.errors import InputError
from hullscan.model import Artifact, Category, Finding, FixStatus, Location, ScanReport, Severity, VulnInfo
from hullscan.severity import best_cvss, from_score, from_word, parse_cvss
from hullscan.suppress import (
    Filters,
    apply_filters,
    build_filters,
    exit_code_for,
    parse_ignore,
    parse_severities,
    parse_vex,
)

DIGEST = "sha256:" + "ab" * 32


def vuln(id: str, pkg: str, severity: Severity, status: FixStatus = FixStatus.FIXED, aliases: tuple[str, ...] = (),
         purl: str = "") -> Finding:
    return Finding(id=id, category=Category.VULNERABILITY, severity=severity, title=f"{id} title",
                   location=Location(path=f"/lib/{pkg}"),
                   vuln=VulnInfo(package_name=pkg, installed_version="1.0", ecosystem="deb", aliases=aliases,
                                 fix_status=status, purl=purl or f"pkg:deb/debian/{pkg}@1.0?arch=amd64"))


def report(*findings: Finding) -> ScanReport:
    return ScanReport(artifact=Artifact(name="app:1", kind="oci-layout", digest=DIGEST), findings=list(findings),
                      notes=["existing note"])


FINDINGS = (
    vuln("CVE-2024-1", "openssl", Severity.HIGH, aliases=("DSA-1-1",)),
    vuln("CVE-2024-1", "libssl3", Severity.HIGH, aliases=("DSA-1-1",)),
    vuln("CVE-2024-2", "zlib", Severity.LOW, FixStatus.AFFECTED),
    vuln("CVE-2024-3", "curl", Severity.CRITICAL, FixStatus.WILL_NOT_FIX),
    Finding(id="secret-aws-access-key", category=Category.SENSITIVE, severity=Severity.HIGH, title="AWS key",
            location=Location(path="/app/.env", line=3)),
)


def kept_and_reasons(out: ScanReport) -> tuple[list[str], list[tuple[str, str, str]]]:
    kept = [f"{f.id}:{f.vuln.package_name if f.vuln else f.location.path}" for f in out.findings]
    sup = sorted((f.id, f.vuln.package_name if f.vuln else f.location.path, why) for f, why in out.suppressed)
    return kept, sup


def test_yaml_ignore_file_with_package_path_and_expiry() -> None:
    rules = parse_ignore("""
ignore:
  - id: DSA-1-1            # matches by alias
    package: libssl3
    expires: 2030-01-01
    reason: patched in our fork
  - id: secret-aws-access-key
    path: /app/*
    reason: test key
  - id: CVE-2024-3
    expires: 2020-01-01
""")
    out = apply_filters(report(*FINDINGS), Filters(rules=tuple(rules)), today=date(2025, 1, 1))
    kept, sup = kept_and_reasons(out)
    assert kept == ["CVE-2024-1:openssl", "CVE-2024-2:zlib", "CVE-2024-3:curl"]
    assert sup == [("CVE-2024-1", "libssl3", "ignored: patched in our fork (until 2030-01-01)"),
                   ("secret-aws-access-key", "/app/.env", "ignored: test key")]
    assert out.notes == ["existing note", "ignore entry CVE-2024-3 expired on 2020-01-01: no longer applied"]
    assert len(report(*FINDINGS).findings) == 5  # the input report is not modified


def test_text_ignore_file_and_errors(tmp_path: Path) -> None:
    rules = parse_ignore("# comment\n\nCVE-2024-2\nCVE-2024-1 pkg=pkg:deb/debian/openssl exp:2030-01-01  # vendor says no\n")
    assert [(r.id, r.package, str(r.expires), r.reason) for r in rules] == [
        ("CVE-2024-2", "", "None", ""), ("CVE-2024-1", "pkg:deb/debian/openssl", "2030-01-01", "vendor says no")]
    out = apply_filters(report(*FINDINGS), Filters(rules=tuple(rules)), today=date(2025, 1, 1))
    assert kept_and_reasons(out)[0] == ["CVE-2024-1:libssl3", "CVE-2024-3:curl", "secret-aws-access-key:/app/.env"]
    with pytest.raises(InputError, match=r"x.ignore:1: unknown field 'bogus'"):
        parse_ignore("CVE-1 bogus", "x.ignore")
    with pytest.raises(InputError, match="expiry 'soon' is not a date"):
        parse_ignore("- id: CVE-1\n  expires: soon\n")
    with pytest.raises(InputError, match="entry 1 has no id"):
        parse_ignore("- package: x\n")
    with pytest.raises(InputError, match="nope.txt: ignore file not found"):
        build_filters(ignorefile=tmp_path / "nope.txt")


def test_unfixed_and_severity_filters_and_exit_code() -> None:
    filters = Filters(severities=parse_severities("high, critical"), ignore_unfixed=True)
    out = apply_filters(report(*FINDINGS), filters)
    kept, sup = kept_and_reasons(out)
    assert kept == ["CVE-2024-1:openssl", "CVE-2024-1:libssl3", "secret-aws-access-key:/app/.env"]
    assert sup == [("CVE-2024-2", "zlib", "no fix available (affected): --ignore-unfixed"),
                   ("CVE-2024-3", "curl", "no fix available (will_not_fix): --ignore-unfixed")]
    assert exit_code_for(out, 4) == 4
    only_critical = apply_filters(report(*FINDINGS), Filters(severities=parse_severities("CRITICAL")))
    assert [f.id for f in only_critical.findings] == ["CVE-2024-3"]
    assert ("CVE-2024-2", "zlib", "severity LOW not selected by --severity") in kept_and_reasons(only_critical)[1]
    assert exit_code_for(apply_filters(report(), filters), 4) == 0
    with pytest.raises(InputError, match="unknown severity 'BAD'"):
        parse_severities("HIGH,bad")


def test_openvex_statements() -> None:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [
            {"vulnerability": {"name": "CVE-2024-1"}, "products": [{"@id": f"pkg:oci/app@{DIGEST.replace(':', '%3A')}",
                                                                    "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_present", "timestamp": "2024-01-01T00:00:00Z"},
            # a later statement for the same product overrides: affected again
            {"vulnerability": {"name": "CVE-2024-1"}, "products": [{"@id": "pkg:deb/debian/openssl@1.0"}],
             "status": "affected", "timestamp": "2024-02-01T00:00:00Z"},
            {"vulnerability": {"name": "DSA-1-1"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
             "status": "fixed", "timestamp": "2024-01-01T00:00:00Z"},
            # the image itself: every package
            {"vulnerability": "CVE-2024-2", "products": [DIGEST], "status": "not_affected",
             "impact_statement": "zlib is never called"},
            # another image: does not apply
            {"vulnerability": {"name": "CVE-2024-3"}, "products": ["sha256:" + "cd" * 32], "status": "not_affected",
             "justification": "component_not_present"},
        ]}
    import json

    statements = parse_vex(json.dumps(doc))
    out = apply_filters(report(*FINDINGS), Filters(vex=tuple(statements)))
    kept, sup = kept_and_reasons(out)
    assert kept == ["CVE-2024-1:openssl", "CVE-2024-3:curl", "secret-aws-access-key:/app/.env"]
    assert sup == [("CVE-2024-1", "libssl3", "VEX fixed"),
                   ("CVE-2024-2", "zlib", "VEX not_affected: zlib is never called")]
    with pytest.raises(InputError, match="not an OpenVEX document"):
        parse_vex('{"a": 1}', "v.json")
    with pytest.raises(InputError, match="v.json: not valid JSON"):
        parse_vex("{", "v.json")


def test_cvss_parsing_and_bands() -> None:
    v31 = parse_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert v31 is not None and (v31.version, v31.score, v31.severity) == ("3.1", 9.8, Severity.CRITICAL)
    v4 = parse_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
    assert v4 is not None and (v4.version, v4.score) == ("4.0", 9.3)
    v2 = parse_cvss("AV:N/AC:L/Au:N/C:P/I:P/A:P")
    assert v2 is not None and (v2.version, v2.score, v2.severity) == ("2.0", 7.5, Severity.HIGH)
    assert parse_cvss("CVSS:3.1/AV:Q") is None and parse_cvss("garbage") is None
    best = best_cvss(["AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                      "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", "bad"])
    assert best is not None and best.version == "3.0" and best.score == 5.4 and best.severity is Severity.MEDIUM
    assert best_cvss([]) is None
    assert [from_score(s) for s in (0.0, 0.1, 3.9, 4.0, 6.9, 7.0, 8.9, 9.0, 10.0)] == [
        Severity.NEGLIGIBLE, Severity.LOW, Severity.LOW, Severity.MEDIUM, Severity.MEDIUM, Severity.HIGH,
        Severity.HIGH, Severity.CRITICAL, Severity.CRITICAL]
    assert [from_word(w) for w in ("Important", "moderate", "unimportant", "low**", "not yet assigned", "")] == [
        Severity.HIGH, Severity.MEDIUM, Severity.NEGLIGIBLE, Severity.LOW, Severity.UNKNOWN, Severity.UNKNOWN]
