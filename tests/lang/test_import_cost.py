"""Importing the inventory analyzers (groups ``os`` and ``lang``, loaded by every scan) stays cheap: the parsers'
heavy dependencies are imported by the analyze() that needs them, not at start-up.

Checked in a fresh interpreter, since this test session has long imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hullscan

#: modules only some analyze() calls need: TOML, purl, XML, shell-quoting and YAML libraries, the executable
#: readers of the Go/Rust binary analyzers, and the rpm database backends
DEFERRED = (
    "tomllib",
    "packageurl",
    "xml.etree.ElementTree",
    "shlex",
    "sqlite3",
    "yaml",
    "hullscan.analyzers.lang.gobuildinfo",
    "hullscan.analyzers.os.rpmdb_sqlite",
    "hullscan.analyzers.os.rpmdb_bdb",
    "hullscan.analyzers.os.rpmdb_ndb",
)

_PROBE = """
import json, sys
from hullscan.analyzers import ANALYZERS, create
analyzers = [create(entry) for entry in ANALYZERS.select(tags=["os", "lang"])]
for a in analyzers:  # what the walk calls for every entry stays import-free too
    a.path_hint()
print(json.dumps({"names": sorted(a.name for a in analyzers), "loaded": [m for m in %r if m in sys.modules]}))
"""


def test_os_and_lang_analyzers_import_without_their_parsers_dependencies() -> None:
    src = str(Path(hullscan.__file__).resolve().parent.parent)  # the hullscan this session tests
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE % (DEFERRED,)], check=True, capture_output=True, text=True, timeout=60, env=env
    ).stdout
    probe = json.loads(out)
    assert "lang/java-archive" in probe["names"] and "os/rpm" in probe["names"]
    assert probe["loaded"] == []


def test_listing_the_analyzers_imports_none_of_them() -> None:
    src = str(Path(hullscan.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    probe = ("import sys; from hullscan.analyzers import ANALYZERS; ANALYZERS.select(tags=['secret']); "
             "print(sorted(m for m in sys.modules if m.startswith('hullscan.analyzers.')))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60, env=env)
    assert out.stdout.strip() == "['hullscan.analyzers.base']"


def test_every_analyzer_class_matches_its_registry_entry() -> None:
    from hullscan.analyzers import ANALYZERS, create

    assert len(ANALYZERS) == 21  # 19 + files/suspicious and files/hardening (issue 16)
    for entry in ANALYZERS:
        analyzer = create(entry)  # raises when name, version or tags disagree
        assert (analyzer.name, analyzer.version, analyzer.tags) == (entry.name, entry.version, entry.tags)
