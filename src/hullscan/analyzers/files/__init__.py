"""File-content risk analyzers: secrets, sensitive files, malware and baseline (rule-driven, rules in ``hullscan/rules``).

Shared helpers for these analyzers live here: loading rule files from the package, digesting them for the
layer-cache key, and the binary sniff.

A YAML rule file may ship with a JSON *sidecar* (``secrets.yaml`` -> ``secrets.json``): the same document,
written by ``python -m hullscan.analyzers.files secrets.yaml`` and stamped with the SHA-256 of the YAML bytes it
was built from. Loading it takes ~1 ms where importing PyYAML and parsing the YAML take ~30 ms at every start;
a sidecar whose stamp does not match the YAML (edited without rebuilding) is ignored, so the YAML stays the
one source of truth (and a test fails until the sidecar is rebuilt).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from typing import Any

#: text files are sniffed for a NUL byte in this many leading bytes
SNIFF_BYTES = 8192


def rule_bytes(name: str) -> bytes:
    """The raw bytes of ``hullscan/rules/<name>`` (``name`` may contain ``/``)."""
    node = resources.files("hullscan").joinpath("rules")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


def rule_names(folder: str, suffix: str) -> list[str]:
    """Sorted names (``folder/file``) of the rule files in ``hullscan/rules/<folder>`` ending in ``suffix``."""
    node = resources.files("hullscan").joinpath("rules").joinpath(folder)
    return sorted(f"{folder}/{p.name}" for p in node.iterdir() if p.name.endswith(suffix))


@functools.cache
def rule_yaml(name: str) -> Any:
    """A YAML rule file from ``hullscan/rules`` parsed once per process (from its JSON sidecar when that is
    current). Callers must not modify the returned document: it is shared."""
    raw = rule_bytes(name)
    document = _sidecar_document(name, raw)
    return document if document is not None else _parse_yaml(raw)


def _parse_yaml(raw: bytes) -> Any:
    import yaml

    # libyaml's C loader when built in: ~20x faster than the pure-Python one on the rule files
    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def sidecar_name(name: str) -> str:
    """The JSON sidecar of the YAML rule file ``name`` (``secrets.yaml`` -> ``secrets.json``)."""
    return name.rsplit(".", 1)[0] + ".json"


def _sidecar_document(name: str, raw: bytes) -> Any:
    """The document of ``name``'s sidecar when it exists and was built from ``raw``; else None."""
    try:
        sidecar = json.loads(rule_bytes(sidecar_name(name)))
    except (OSError, ValueError):  # no sidecar shipped (most rule files), or an unreadable one
        return None
    if not isinstance(sidecar, dict) or sidecar.get("source_sha256") != hashlib.sha256(raw).hexdigest():
        return None
    return sidecar.get("document")


def build_sidecar(name: str) -> str:
    """The JSON sidecar text for ``hullscan/rules/<name>`` (ValueError when the YAML holds values JSON cannot
    carry unchanged, such as dates)."""
    raw = rule_bytes(name)
    document = _parse_yaml(raw)
    if json.loads(json.dumps(document)) != document:
        raise ValueError(f"{name}: the document does not survive a JSON round trip")
    sidecar = {"source": name, "source_sha256": hashlib.sha256(raw).hexdigest(), "document": document}
    return json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n"


def rules_digest(*names: str) -> str:
    """A short SHA-256 over the named rule files, folded into analyzers' ``cache_salt``."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + rule_bytes(name) + b"\0")
    return h.hexdigest()[:16]


def is_binary(data: bytes) -> bool:
    """True when a NUL byte occurs in the first :data:`SNIFF_BYTES` bytes."""
    return b"\0" in data[:SNIFF_BYTES]
