"""Image-level checks (baseline, history, secrets in the image config) and check selection.

The check stage functions (``history``, ``config``) are registered in :data:`hullscan.stages.STAGES`, each
enabled by one scanner. :func:`catalog` lists every check id the
project can report, with its category, for ``--checks`` / ``--skip-checks`` validation and documentation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """One reportable check: its category, severity, title and whether it runs by default."""

    id: str
    category: str
    severity: str
    title: str
    default: bool = True


@functools.cache
def catalog() -> dict[str, CheckMeta]:
    """Every check id this project reports (vulnerabilities excluded: their ids are CVEs), sorted by id.

    Malware findings are named by the YARA rules' ``id`` metadata plus the block-list and clamd ids."""
    from hullscan.analyzers.files.malware import yara_files
    from hullscan.analyzers.files.rulefiles import rule_bytes, rule_yaml

    out: dict[str, CheckMeta] = {}
    for rule in rule_yaml("secrets.yaml")["rules"]:
        out[f"secret-{rule['id']}"] = CheckMeta(f"secret-{rule['id']}", "sensitive", rule["severity"], rule["title"])
    for item in rule_yaml("sensitive.yaml")["items"]:
        out[f"sensitive-{item['id']}"] = CheckMeta(f"sensitive-{item['id']}", "sensitive", item["severity"], item["title"])
    for name in yara_files():
        text = rule_bytes(name).decode("utf-8")
        for rid, title, severity in re.findall(
            r'id = "([^"]+)"\s+title = "([^"]+)"\s+severity = "([A-Z]+)"', text
        ):
            out[f"malware-{rid}"] = CheckMeta(f"malware-{rid}", "malicious", severity, title)
    out["malware-sha256-blocklist"] = CheckMeta("malware-sha256-blocklist", "malicious", "HIGH", "File on the SHA-256 block list")
    out["malware-clamav"] = CheckMeta("malware-clamav", "malicious", "HIGH", "ClamAV detection (clamd)")
    suspicious = rule_yaml("suspicious.yaml")
    for check in suspicious["checks"]:  # heuristic indicators (hullscan.analyzers.files.suspicious)
        out[check["id"]] = CheckMeta(check["id"], "malicious", suspicious.get("severity", "MEDIUM"), check["title"])
    for check in rule_yaml("baseline.yaml")["checks"]:
        out[check["id"]] = CheckMeta(check["id"], "baseline", check["severity"], check["title"],
                                     check.get("default", True) not in (False, "off"))
    for rule in rule_yaml("history.yaml")["rules"]:
        out[rule["id"]] = CheckMeta(rule["id"], "history", rule["severity"], rule["title"])
    return dict(sorted(out.items()))


def default_off() -> frozenset[str]:
    """Check ids that are off unless named in ``--checks`` (``default: off`` in the rule data)."""
    from hullscan.analyzers.files.rulefiles import rule_yaml

    return frozenset(c["id"] for c in rule_yaml("baseline.yaml")["checks"] if c.get("default", True) in (False, "off"))
