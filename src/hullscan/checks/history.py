"""Risky build commands (``--scanners history``): the rules of ``rules/history.yaml`` applied to the image
config's history (``created_by``), ``Env``, labels and exposed ports."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hullscan.analyzers.files.rulefiles import rule_yaml
from hullscan.model import Category, Finding, ImageConfigSummary, Location, Severity
from hullscan.stages import ScanContext

RULES_FILE = "history.yaml"
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_SHELL = re.compile(r"^(?:\|\d+\s+(?:\S+=\S*\s+)*)?/bin/(?:ba)?sh -c\s+")


@dataclass(frozen=True)
class HistoryRule:
    """One risky-build-command rule."""

    id: str
    title: str
    severity: Severity
    target: str  # history | env | label | port
    regex: re.Pattern[str]
    remediation: str
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


@functools.cache
def rules() -> list[HistoryRule]:
    """The shipped history rules."""
    out = []
    for raw in rule_yaml(RULES_FILE)["rules"]:
        ex = raw.get("examples") or {}
        out.append(HistoryRule(raw["id"], raw["title"], Severity.parse(raw["severity"]), raw["target"], re.compile(raw["regex"]),
                               raw.get("remediation", ""), tuple(ex.get("match") or ()), tuple(ex.get("no_match") or ())))
    return out


def command_text(created_by: str) -> str:
    """A history line as the Dockerfile instruction it came from (``#(nop)`` prefix removed)."""
    return _NOP.sub("", created_by).strip()


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _targets(config: ImageConfigSummary) -> dict[str, list[tuple[str, str, int]]]:
    """Per target kind: (text, where, history index) tuples."""
    out: dict[str, list[tuple[str, str, int]]] = {"history": [], "env": [], "label": [], "port": []}
    for i, (created_by, _empty) in enumerate(config.history):
        out["history"].append((command_text(created_by), f"history[{i}]", i))
    out["env"] = [(e, "config.Env", -1) for e in config.env]
    out["label"] = [(f"{k}={v}", "config.Labels", -1) for k, v in config.labels]
    out["port"] = [(p, "config.ExposedPorts", -1) for p in config.exposed_ports]
    return out


def _layer_of(ctx: ScanContext, history_index: int) -> str:
    """The diff_id of the layer a (non-empty) history entry produced, when it produced one."""
    if history_index < 0:
        return ""
    non_empty = [i for i, (_c, empty) in enumerate(ctx.config.history) if not empty]
    if history_index in non_empty:
        idx = non_empty.index(history_index)
        if idx < len(ctx.layers):
            return ctx.layers[idx].diff_id
    return ""


def check_history(ctx: ScanContext) -> list[Finding]:
    """Stage (scanner ``history``): one finding per rule and matching history entry / config value."""
    from hullscan.checks.masking import redact

    findings = []
    targets = _targets(ctx.config)
    for rule in rules():
        for text, where, index in targets.get(rule.target, []):
            if not rule.regex.search(text):
                continue
            evidence = _short(redact(text))  # passwords and tokens masked (the rules' secret groups)
            findings.append(
                Finding(
                    id=rule.id,
                    category=Category.HISTORY,
                    severity=rule.severity,
                    title=rule.title,
                    description=f"{rule.title} ({where})",
                    location=Location(path=where, layer=_layer_of(ctx, index)),
                    evidence=evidence,
                    remediation=rule.remediation,
                )
            )
    return findings
