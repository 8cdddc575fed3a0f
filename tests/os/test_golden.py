"""Golden outputs of the package analyzers on the committed fixtures (every field of every package).

Set ``HULLSCAN_UPDATE_GOLDEN=1`` to rewrite ``tests/data/os/golden/*.json`` after a deliberate change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hullscan.analyzers.base import Analyzer, FileInput
from hullscan.analyzers.os import attach_distro
from hullscan.analyzers.os.apk import ApkAnalyzer
from hullscan.analyzers.os.rpm import RpmAnalyzer
from hullscan.model import Distro
from hullscan.serde import to_data

DATA = Path(__file__).resolve().parents[1] / "data" / "os"
LAYER = "sha256:" + "ab" * 32
CASES: dict[str, tuple[Analyzer, str, str, Distro]] = {
    "apk-alpine-3.19": (ApkAnalyzer(), "apk/installed", "/lib/apk/db/installed", Distro(id="alpine", version_id="3.19.1")),
    "rpm-sqlite-almalinux-9": (RpmAnalyzer(), "rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite", Distro(id="almalinux", version_id="9.3")),
    "rpm-bdb-centos-7": (RpmAnalyzer(), "rpm/Packages", "/var/lib/rpm/Packages", Distro(id="centos", version_id="7")),
    "rpm-bdb-be-amzn-2": (RpmAnalyzer(), "rpm/Packages.be512", "/var/lib/rpm/Packages", Distro(id="amzn", version_id="2")),
    "rpm-ndb-sles-15.5": (RpmAnalyzer(), "rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages.db", Distro(id="sles", version_id="15.5")),
}


def output(case: str) -> dict[str, Any]:
    analyzer, fixture, path, distro = CASES[case]
    res = analyzer.analyze(FileInput.from_bytes(path, (DATA / fixture).read_bytes(), layer=LAYER))
    return {"packages": [to_data(p) for p in attach_distro(res.packages, distro)],
            "warnings": [to_data(w) for w in res.warnings]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    want_file = DATA / "golden" / f"{case}.json"
    got = output(case)
    if os.environ.get("HULLSCAN_UPDATE_GOLDEN") == "1":
        want_file.parent.mkdir(exist_ok=True)
        want_file.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    assert got == json.loads(want_file.read_text(encoding="utf-8"))
