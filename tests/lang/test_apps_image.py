"""End to end: an image with a Python layer, a Node layer and an upgrade layer, scanned through
``hullscan.scan.scan`` and the CLI; exactly the expected application packages, attributed to the
right layers, and a malformed lock file reported as a warning while the scan goes on. Plus a
property test: no input of any shape makes a language analyzer raise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.dotnet import DotnetAnalyzer
from hullscan.analyzers.lang.npm import NpmAnalyzer
from hullscan.analyzers.lang.php import PhpAnalyzer
from hullscan.analyzers.lang.python import PythonAnalyzer
from hullscan.analyzers.lang.ruby import RubyAnalyzer
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.helpers.imagebuild import ImageBuilder, make_tar
from tests.lang._golden import DATA

PY_ROOT = DATA / "python/installed/root"
NODE_ROOT = DATA / "npm/installed/root"
URLLIB3_NEW = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.18\nLicense: MIT\n"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _golden(eco: str, case: str) -> list[dict]:
    return json.loads((DATA / eco / case / "want.json").read_text())["packages"]


def build(tmp_path: Path) -> tuple[ImageBuilder, Path]:
    b = ImageBuilder()
    python = _tree(PY_ROOT)
    python["srv/broken/poetry.lock"] = b'[[package]]\nname = "requests"\nversion = "2.2'  # truncated
    b.add_layer(python, created_by="RUN pip install --target /opt/app/pydeps ...")
    b.add_layer(_tree(NODE_ROOT), compression="zstd", created_by="RUN npm install")
    upgrade = {
        "opt/app/pydeps/.wh.urllib3-1.26.4.dist-info": b"",
        "opt/app/pydeps/urllib3-1.26.18.dist-info/METADATA": URLLIB3_NEW,
        "app/node_modules/.wh.left-pad": b"",
    }
    b.add_layer(make_tar(upgrade), created_by="RUN pip install -U urllib3==1.26.18 && npm prune --omit=dev")
    path = tmp_path / "apps.tar"
    b.write_docker_archive(path)
    return b, path


def test_python_and_node_layers(tmp_path: Path) -> None:
    b, path = build(tmp_path)
    report = scan(str(path), ScanOptions(scanners=frozenset(), cache_dir=tmp_path / "cache"))
    py_layer, node_layer, top_layer = (layer.diff_id for layer in b.layers)
    got = {(p.ecosystem, p.name, p.version, p.path, p.installed, p.layer) for p in report.packages
           if not p.is_os}

    want = set()
    for p in _golden("python", "installed"):
        if p["name"] != "urllib3":
            want.add(("PyPI", p["name"], p["version"], p["path"], True, py_layer))
    want.add(("PyPI", "urllib3", "1.26.18", "/opt/app/pydeps/urllib3-1.26.18.dist-info/METADATA", True, top_layer))
    for p in _golden("npm", "installed"):
        if p["installed"] and p["name"] == "left-pad":
            continue  # deleted by the top layer
        want.add(("npm", p["name"], p["version"], p["path"], p["installed"], node_layer))
    assert got == want

    (warning,) = [w for w in report.warnings if w.code == "malformed-file"]
    assert warning.path == "/srv/broken/poetry.lock" and warning.layer == py_layer
    assert all(s.status == "ok" for s in report.plugins if s.name.startswith("lang/"))


def test_cli_json_lists_the_packages(tmp_path: Path) -> None:
    _, path = build(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "hullscan.cli", "image", "--input", str(path), "--scanners", "none",
         "--format", "json", "--quiet", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    purls = {p["purl"] for p in data["packages"]}
    assert {"pkg:pypi/urllib3@1.26.18", "pkg:pypi/zope-interface@6.0", "pkg:npm/%40sindresorhus/is@4.6.0",
            "pkg:npm/string-width@4.2.3"} <= purls
    assert "pkg:pypi/urllib3@1.26.4" not in purls


# --------------------------------------------------------------------------- robustness

CLAIMED = [
    (PythonAnalyzer, "/s/a-1.dist-info/METADATA"), (PythonAnalyzer, "/app/poetry.lock"),
    (PythonAnalyzer, "/app/Pipfile.lock"), (PythonAnalyzer, "/app/uv.lock"), (PythonAnalyzer, "/app/requirements.txt"),
    (NpmAnalyzer, "/app/node_modules/a/package.json"), (NpmAnalyzer, "/app/package-lock.json"),
    (NpmAnalyzer, "/app/yarn.lock"), (NpmAnalyzer, "/app/pnpm-lock.yaml"),
    (RubyAnalyzer, "/g/specifications/a-1.gemspec"), (RubyAnalyzer, "/app/Gemfile.lock"),
    (PhpAnalyzer, "/app/vendor/composer/installed.json"), (PhpAnalyzer, "/app/composer.lock"),
    (DotnetAnalyzer, "/app/a.deps.json"), (DotnetAnalyzer, "/app/packages.lock.json"),
]
#: JSON-ish values of any shape, to hit every "wrong type here" branch
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("cls, path", CLAIMED, ids=[p for _, p in CLAIMED])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300), shaped=JSONISH)
def test_no_input_raises(cls: type, path: str, raw: bytes, shaped: object) -> None:
    """Random bytes, and JSON/YAML documents of random shape, give packages or warnings, never an exception."""
    analyzer = cls()
    docs = [raw, json.dumps(shaped).encode()]
    if isinstance(shaped, dict):  # the right top-level keys with wrong contents
        for key in ("packages", "dependencies", "libraries", "package", "default", "snapshots", "importers"):
            docs.append(json.dumps({key: shaped, "lockfileVersion": 3, "targets": shaped}).encode())
    for data in docs:
        result = analyzer.analyze(FileInput.from_bytes(path, data, layer="sha256:" + "0" * 64))
        if result is not None:
            assert all(w.code == "malformed-file" and w.path == path for w in result.warnings)
            assert all(p.name and p.version and p.path == path for p in result.packages)
