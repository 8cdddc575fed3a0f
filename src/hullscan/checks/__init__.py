"""Image-level checks (baseline, history, secrets in the image config) and check selection.

:data:`CHECKS` is the registry of check stage functions (``"module:function"``), each enabled by one scanner;
the scan runs them through :data:`hullscan.stages.STAGES`. :func:`catalog` lists every check id the
project can report, with its category, for ``--checks`` / ``--skip-checks`` validation and documentation.
"""

from __future__ import annotations

import functools

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


@functools.cache
def catalog() -> dict[str, str]:
    """Every check id this project reports -> its category (vulnerabilities excluded: their ids are CVEs)."""
    from hullscan.analyzers.files import rule_yaml

    out: dict[str, str] = {}
    for rule in rule_yaml("secrets.yaml")["rules"]:
        out[f"secret-{rule['id']}"] = "sensitive"
    for item in rule_yaml("sensitive.yaml")["items"]:
        out[f"sensitive-{item['id']}"] = "sensitive"
    for check in rule_yaml("baseline.yaml")["checks"]:
        out[check["id"]] = "baseline"
    for rule in rule_yaml("history.yaml")["rules"]:
        out[rule["id"]] = "history"
    return dict(sorted(out.items()))


def default_off() -> frozenset[str]:
    """Check ids that are off unless named in ``--checks`` (``default: off`` in the rule data)."""
    from hullscan.analyzers.files import rule_yaml

    return frozenset(c["id"] for c in rule_yaml("baseline.yaml")["checks"] if c.get("default", True) in (False, "off"))
