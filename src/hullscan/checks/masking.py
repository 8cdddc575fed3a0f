"""One masking for every copy of image metadata a report, the server's store or a log repeats.

``redact(text)`` masks, in this order: the spans the history rules mark as secret (a named group ``secret`` or
``secret2``... in a ``rules/history.yaml`` regex: passwords given to ``chpasswd``, ``useradd -p``,
``--password``, ``mysql -p``, build-argument values), then everything the secret rules find and the values of
secret-named ``KEY=value`` pairs (:func:`hullscan.analyzers.files.secrets.redact`). ``mask_report`` applies it to
the image config summary (Env, labels, entrypoint, cmd, healthcheck, working dir, history) and to each layer's
``created_by``, so the JSON, table, SARIF, SBOM and server outputs, all written from the report, never carry a
clear value that a finding reports masked.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from hullscan.model import ImageConfigSummary, ScanReport


@functools.cache
def _masking_regexes() -> list[tuple[re.Pattern[str], list[str]]]:
    """The history rules that mark a secret span (a named group ``secret...``), compiled once: only those, since
    compiling all of them cost a report ~25 ms for rules that never mask anything."""
    from hullscan.analyzers.files.rulefiles import rule_yaml
    from hullscan.checks.history import RULES_FILE

    out = []
    for raw in rule_yaml(RULES_FILE)["rules"]:
        if "(?P<secret" not in raw["regex"]:
            continue
        regex = re.compile(raw["regex"])
        out.append((regex, [n for n in regex.groupindex if n.startswith("secret")]))
    return out


def _secret_spans(text: str) -> list[tuple[int, int]]:
    from hullscan.checks.history import command_text

    # the rules see the text as the history stage does (``#(nop)`` removed): offsets are shifted back
    shown = command_text(text)
    shift = text.find(shown) if shown else -1
    if shift < 0:
        return []
    spans = []
    for regex, names in _masking_regexes():
        for m in regex.finditer(shown):
            for name in names:
                if m.group(name):
                    spans.append((m.start(name) + shift, m.end(name) + shift))
    return spans


def redact(text: str) -> str:
    """``text`` with every secret the history and secret rules recognise masked."""
    from hullscan.analyzers.files.secrets import mask
    from hullscan.analyzers.files.secrets import redact as redact_secrets

    if not text:
        return text
    for start, end in sorted(set(_secret_spans(text)), reverse=True):
        value = text[start:end]
        if "*" not in value:
            text = text[:start] + mask(value) + text[end:]
    return redact_secrets(text)


def mask_config(config: ImageConfigSummary) -> ImageConfigSummary:
    """``config`` with the secrets in every free-text field masked."""
    return dataclasses.replace(
        config,
        env=tuple(redact(e) for e in config.env),
        labels=tuple((k, redact(f"{k}={v}").partition("=")[2]) for k, v in config.labels),
        entrypoint=tuple(redact(a) for a in config.entrypoint),
        cmd=tuple(redact(a) for a in config.cmd),
        healthcheck=tuple(redact(a) for a in config.healthcheck),
        working_dir=redact(config.working_dir),
        history=tuple((redact(c), empty) for c, empty in config.history),
    )


def mask_report(report: ScanReport) -> ScanReport:
    """``report`` with its image metadata (config summary, layers' ``created_by``) masked."""
    layers = [dataclasses.replace(layer, created_by=redact(layer.created_by)) if layer.created_by else layer
              for layer in report.layers]
    return dataclasses.replace(report, config=mask_config(report.config), layers=layers)
