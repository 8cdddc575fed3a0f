"""Image-level checks (baseline, history, secrets in the image config) and check selection.

:data:`CHECKS` is the registry of check stage functions (``"module:function"``), each enabled by one scanner;
the scan runs them through :data:`hullscan.stages.STAGES`. :func:`catalog` lists every check id the
project can report, with its category, for ``--checks`` / ``--skip-checks`` validation and documentation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hullscan.plugins import Entry, Registry

#: check stage functions: (name, version, scanner, "module:function"); listed in hullscan.stages.STAGES too
_STAGES = [
    ("checks/history", 1, "history", "hullscan.checks.history:check_history"),
    ("checks/baseline-config", 1, "baseline", "hullscan.checks.config:baseline_config"),
    ("checks/config-secrets", 1, "secret", "hullscan.checks.config:secrets_in_config"),
]

#: the CHECKS registry: check stage name -> its "module:function" target, tagged with its scanner
CHECKS: Registry[str] = Registry(
    "check", [Entry(name=n, version=v, factory=lambda t=t: t, tags=frozenset({s})) for n, v, s, t in _STAGES]
)


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
    from hullscan.analyzers.files import rule_bytes, rule_yaml
    from hullscan.analyzers.files.malware import yara_files

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
    for check in rule_yaml("baseline.yaml")["checks"]:
        out[check["id"]] = CheckMeta(check["id"], "baseline", check["severity"], check["title"],
                                     check.get("default", True) not in (False, "off"))
    for rule in rule_yaml("history.yaml")["rules"]:
        out[rule["id"]] = CheckMeta(rule["id"], "history", rule["severity"], rule["title"])
    return dict(sorted(out.items()))


def default_off() -> frozenset[str]:
    """Check ids that are off unless named in ``--checks`` (``default: off`` in the rule data)."""
    from hullscan.analyzers.files import rule_yaml

    return frozenset(c["id"] for c in rule_yaml("baseline.yaml")["checks"] if c.get("default", True) in (False, "off"))
