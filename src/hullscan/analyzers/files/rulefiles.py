"""The rule files shipped in ``hullscan/rules``: reading them, their digests, and their parsed form.

The YAML files are the one source. Parsing YAML costs ~30 ms at every start (PyYAML's import and the
parse), so the parsed document of a rule file is kept, at first use, as JSON in the cache folder
(``<cache dir>/rules/<stem>-<sha256 of the YAML>.json``): a later process loads that in ~1 ms. The key is
the YAML's digest, so an edited rule file is parsed again; a cache folder that cannot be written only
means parsing every time. Nothing derived from the rules is committed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any


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


def rules_digest(*names: str) -> str:
    """A short SHA-256 over the named rule files, folded into analyzers' ``cache_salt``."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + rule_bytes(name) + b"\0")
    return h.hexdigest()[:16]


def parse_yaml(raw: bytes) -> Any:
    """A YAML document parsed safely (libyaml's C loader when built in: ~20x faster on the rule files)."""
    import yaml

    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def parsed_cache_path(name: str, raw: bytes, cache_dir: Path | None = None) -> Path:
    """Where the parsed form of rule file ``name`` with content ``raw`` is kept."""
    if cache_dir is None:
        from hullscan.options import default_cache_dir

        cache_dir = default_cache_dir()
    stem = name.replace("/", "_").rsplit(".", 1)[0]
    return cache_dir / "rules" / f"{stem}-{hashlib.sha256(raw).hexdigest()}.json"


def load_document(name: str, raw: bytes, cache_dir: Path | None = None) -> Any:
    """The parsed YAML ``raw`` of rule file ``name``: from the cache folder when parsed before, else parsed and
    kept there (when the document survives a JSON round trip and the folder can be written)."""
    try:
        path = parsed_cache_path(name, raw, cache_dir)
    except Exception:  # noqa: BLE001 - no cache folder can be named here (no home): parse every time
        return parse_yaml(raw)
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):  # not cached yet (or a damaged copy: parsed and written again)
        pass
    document = parse_yaml(raw)
    text = json.dumps(document, ensure_ascii=False)
    if json.loads(text) != document:  # dates and the like: keep parsing the YAML
        return document
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old state or the whole file
    except OSError:
        pass
    return document


@functools.cache
def rule_yaml(name: str) -> Any:
    """A YAML rule file from ``hullscan/rules`` parsed once per process (see the module docstring). Callers must
    not modify the returned document: it is shared."""
    return load_document(name, rule_bytes(name))
