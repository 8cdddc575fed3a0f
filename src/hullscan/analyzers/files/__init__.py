"""File-content risk analyzers: secrets, sensitive files, malware and baseline (rule-driven, rules in ``hullscan/rules``).

Shared helpers for these analyzers live here: loading rule files from the package, digesting them for the
layer-cache key, and the binary sniff.
"""

from __future__ import annotations

import functools
import hashlib
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
    """A YAML rule file from ``hullscan/rules`` parsed once per process."""
    import yaml

    # libyaml's C loader when built in: ~20x faster than the pure-Python one on the rule files
    return yaml.load(rule_bytes(name), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def rules_digest(*names: str) -> str:
    """A short SHA-256 over the named rule files, folded into analyzers' ``cache_salt``."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + rule_bytes(name) + b"\0")
    return h.hexdigest()[:16]


def is_binary(data: bytes) -> bool:
    """True when a NUL byte occurs in the first :data:`SNIFF_BYTES` bytes."""
    return b"\0" in data[:SNIFF_BYTES]
