"""Golden-test driver for the manifest/lock file analyzers (Python, npm, Ruby, PHP, .NET).

A case is ``tests/data/lang/<eco>/<case>/`` holding ``root/`` (files at their image paths) and
``want.json``. Every file under ``root/`` is offered to the analyzer exactly as the scan core does
(``wants(path, info)``, then ``analyze`` only for the wanted ones); the wanted paths, the packages
and the warnings are compared with ``want.json``. Set ``HULLSCAN_UPDATE_GOLDEN=1`` to rewrite it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput
from hullscan.model import FileInfo
from hullscan.serde import to_data

DATA = Path(__file__).parent.parent / "data" / "lang"
LAYER = "sha256:" + "cd" * 32


def run_tree(analyzer: Analyzer, root: Path, layer: str = LAYER) -> dict[str, Any]:
    """Offer every file under ``root`` to ``analyzer``; the wanted paths, packages and warnings found."""
    wanted: list[str] = []
    packages: list[Any] = []
    warnings: list[Any] = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        path = "/" + file.relative_to(root).as_posix()
        data = file.read_bytes()
        if not analyzer.wants(path, FileInfo(path=path, size=len(data))):
            continue
        wanted.append(path)
        result = analyzer.analyze(FileInput.from_bytes(path, data, layer=layer))
        if result is not None:
            packages.extend(to_data(p) for p in result.packages)
            warnings.extend(to_data(w) for w in result.warnings)
    return {"wanted": wanted, "packages": packages, "warnings": warnings}


def check_case(analyzer: Analyzer, eco: str, case: str) -> dict[str, Any]:
    """Run one golden case and compare it with its ``want.json`` (rewritten under HULLSCAN_UPDATE_GOLDEN=1)."""
    case_dir = DATA / eco / case
    got = run_tree(analyzer, case_dir / "root")
    want_file = case_dir / "want.json"
    if os.environ.get("HULLSCAN_UPDATE_GOLDEN") == "1":
        want_file.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(want_file.read_text())
    assert got == want, f"{case_dir}: analyzer output differs from want.json"
    return got


def nv(result: dict[str, Any]) -> set[str]:
    """``name@version`` of every package in a :func:`run_tree` result."""
    return {f"{p['name']}@{p['version']}" for p in result["packages"]}


def analyze_bytes(analyzer: Analyzer, path: str, data: bytes) -> Any:
    """``analyzer.analyze`` on in-memory content, after checking that ``wants`` claims ``path``."""
    assert analyzer.wants(path, FileInfo(path=path, size=len(data))), path
    return analyzer.analyze(FileInput.from_bytes(path, data, layer=LAYER))


def assert_malformed(result: Any, path: str) -> None:
    """``result`` holds no package and exactly one ``malformed-file`` warning naming ``path`` in its layer."""
    assert result is not None and result.packages == []
    (warning,) = result.warnings
    assert warning.code == "malformed-file" and warning.path == path and path in warning.message
    assert warning.layer == LAYER


def truncated_case(eco: str, rel: str, keep: int | bytes) -> tuple[str, bytes]:
    """(image path, content) of fixture ``<eco>/<rel>`` cut after ``keep`` bytes, or just after the marker ``keep``."""
    data = (DATA / eco / rel).read_bytes()
    end = keep if isinstance(keep, int) else data.index(keep) + len(keep)
    return "/" + rel.split("/root/", 1)[1], data[:end]
