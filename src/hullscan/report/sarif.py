"""SARIF 2.1.0 (OASIS) writer for every finding category, shaped for code-scanning consumers
(GitHub code scanning, Azure DevOps, SonarQube).

* one ``reportingDescriptor`` (rule) per finding id, with ``properties.security-severity`` (the
  highest CVSS score of its results, else a score for the severity band) and tags;
* one ``result`` per finding: ``level`` from severity (CRITICAL/HIGH ``error``, MEDIUM ``warning``,
  others ``note``), the location's path inside the image as a relative ``artifactLocation.uri``
  (the image reference when a finding has no path), the line when known, a stable
  ``partialFingerprints`` entry, and the vulnerability details in ``properties``;
* suppressed findings are included with a ``suppressions`` entry (kind ``external``, the reason as
  justification), so consumers see them as dismissed rather than missing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, TextIO
from urllib.parse import quote

from hullscan import __version__
from hullscan.model import Category, Finding, ScanReport, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NEGLIGIBLE: "note",
    Severity.UNKNOWN: "note",
}
#: security-severity used when a finding has no CVSS score (middle of each CVSS band)
_BAND_SCORES = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
    Severity.NEGLIGIBLE: 0.0,
    Severity.UNKNOWN: 0.0,
}


def _score(f: Finding) -> float:
    if f.vuln is not None and f.vuln.cvss_score is not None:
        return float(f.vuln.cvss_score)
    return _BAND_SCORES[f.severity]


def _uri(f: Finding, report: ScanReport) -> str:
    path = f.location.path.lstrip("/") or report.artifact.name
    return quote(path, safe="/@-._~+")


def _message(f: Finding) -> str:
    if f.vuln is not None:
        v = f.vuln
        fix = f"fixed in {', '.join(v.fixed_versions)}" if v.fixed_versions else f"fix status: {v.fix_status.value}"
        return f"{f.id} ({f.severity.value}) in {v.package_name} {v.installed_version}: {f.title} ({fix})"
    return f"{f.id} ({f.severity.value}): {f.title}" + (f" [{f.evidence}]" if f.evidence else "")


def _rule(f: Finding, score: float) -> dict[str, Any]:
    refs = f.vuln.references if f.vuln else ()
    text = f.description or f.title
    help_md = f"**{f.id}** {f.title}\n\n{text}" + (f"\n\nRemediation: {f.remediation}" if f.remediation else "")
    rule: dict[str, Any] = {
        "id": f.id,
        "name": f.category.value,
        "shortDescription": {"text": f.title or f.id},
        "fullDescription": {"text": text or f.id},
        "defaultConfiguration": {"level": _LEVELS[f.severity]},
        "help": {"text": text or f.id, "markdown": help_md},
        "properties": {
            "security-severity": f"{score:.1f}",
            "tags": ["security", f.category.value, f.severity.value],
            "precision": "very-high",
        },
    }
    if refs:
        rule["helpUri"] = refs[0]
    return rule


def _result(f: Finding, rule_index: int, report: ScanReport) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(f, report)}}
    if f.location.line > 0:
        physical["region"] = {"startLine": f.location.line}
    elif f.category == Category.VULNERABILITY:  # the package database or manifest: its first line (code scanning
        physical["region"] = {"startLine": 1}   # shows a result only with a region)
    props: dict[str, Any] = {"category": f.category.value, "severity": f.severity.value}
    if f.location.layer:
        props["layer"] = f.location.layer
    if f.location.removed_in:
        props["removedIn"] = f.location.removed_in
    if f.vuln is not None:
        v = f.vuln
        props.update({
            "packageName": v.package_name, "installedVersion": v.installed_version, "ecosystem": v.ecosystem,
            "purl": v.purl, "fixedVersions": list(v.fixed_versions), "fixStatus": v.fix_status.value,
            "aliases": list(v.aliases), "cvssScore": v.cvss_score, "cvssVector": v.cvss_vector,
            "dataSource": v.data_source,
        })
    key = "\0".join([f.id, f.category.value, f.location.path, str(f.location.line),
                     f.vuln.package_name if f.vuln else "", f.vuln.installed_version if f.vuln else ""])
    return {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": _LEVELS[f.severity],
        "message": {"text": _message(f)},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"hullscanFinding/v1": hashlib.sha256(key.encode()).hexdigest()},
        "properties": props,
    }


def sarif_data(report: ScanReport) -> dict[str, Any]:
    """The SARIF log of a report as JSON-ready data."""
    everything = [(f, "") for f in report.findings] + list(report.suppressed)
    rules: dict[str, dict[str, Any]] = {}
    scores: dict[str, float] = {}
    for f, _ in sorted(everything, key=lambda item: item[0].sort_key()):
        scores[f.id] = max(scores.get(f.id, 0.0), _score(f))
        if f.id not in rules:
            rules[f.id] = _rule(f, 0.0)
    for rule_id, rule in rules.items():
        rule["properties"]["security-severity"] = f"{scores[rule_id]:.1f}"
    index = {rule_id: n for n, rule_id in enumerate(rules)}
    results = []
    for f, reason in everything:
        result = _result(f, index[f.id], report)
        if reason:
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": reason}]
        results.append(result)
    artifact = report.artifact
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "hullscan",
            "version": __version__,
            "informationUri": "https://github.com/hullscan/hullscan",
            "rules": list(rules.values()),
        }},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "properties": {
            "artifact": {"name": artifact.name, "kind": artifact.kind, "digest": artifact.digest},
            "notes": list(report.notes),
        },
    }
    if report.scanned_at:
        run["invocations"] = [{"executionSuccessful": True, "endTimeUtc": report.scanned_at}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def write(report: ScanReport, out: TextIO) -> None:
    """Write the SARIF log."""
    json.dump(sarif_data(report), out, indent=2)
    out.write("\n")
