"""Python analyzer: dist-info/egg-info metadata from a real ``pip install --target`` and Debian's
dist-packages, lock files written by the real poetry, pipenv, uv and pip-compile (see
``tests/data/lang/python/README.md``), and malformed input."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hullscan.analyzers.lang.python import PythonAnalyzer
from hullscan.model import FileInfo
from tests.lang._golden import LAYER, analyze_bytes, assert_malformed, check_case, nv, run_tree, truncated_case


@pytest.fixture()
def analyzer() -> PythonAnalyzer:
    return PythonAnalyzer()


def test_installed_golden(analyzer: PythonAnalyzer) -> None:
    got = check_case(analyzer, "python", "installed")
    # exactly what pip installed with --target (pip list --path agrees), plus two Debian egg-infos
    assert nv(got) == {
        "Flask@2.0.0", "PyYAML@6.0.1", "certifi@2026.10.18", "chardet@3.0.4", "click@8.5.1", "idna@2.10",
        "itsdangerous@2.2.0", "Jinja2@3.1.6", "MarkupSafe@3.0.4", "requests@2.25.0", "setuptools@84.2.1",
        "urllib3@1.26.4", "Werkzeug@3.1.9", "zope.interface@6.0", "PyJWT@2.6.0", "pycairo@1.20.1",
    }
    assert all(p["installed"] and p["ecosystem"] == "PyPI" and p["layer"] == LAYER for p in got["packages"])
    assert not any(w.endswith("top_level.txt") for w in got["wanted"])  # only metadata files are read
    by_name = {p["name"]: p for p in got["packages"]}
    assert by_name["zope.interface"]["purl"] == "pkg:pypi/zope-interface@6.0"  # PEP 503 in the purl
    assert by_name["requests"]["depends"] == ["certifi", "chardet", "idna", "urllib3"]  # extras left out
    assert by_name["requests"]["licenses"] == ["Apache 2.0"]
    assert by_name["Jinja2"]["licenses"] == ["BSD License"]  # from the classifier: no License field
    assert by_name["pycairo"]["path"] == "/usr/lib/python3/dist-packages/pycairo-1.20.1.egg-info"
    assert by_name["pycairo"]["found_by"] == "lang/python"


def test_locks_golden(analyzer: PythonAnalyzer) -> None:
    got = check_case(analyzer, "python", "locks")
    assert all(not p["installed"] for p in got["packages"])
    by_file: dict[str, set[str]] = {}
    for p in got["packages"]:
        by_file.setdefault(Path(p["path"]).name, set()).add(f"{p['name']}@{p['version']}")
    locked = {"certifi@2026.10.18", "chardet@3.0.4", "idna@2.10", "requests@2.25.0", "urllib3@1.26.20"}
    assert by_file["poetry.lock"] == locked | {"pyyaml@6.0.1", "six@1.17.0"}
    assert by_file["Pipfile.lock"] == locked | {"pyyaml@6.0.1", "six@1.16.0"}
    assert by_file["uv.lock"] == locked | {"pyyaml@6.0.1", "six@1.16.0"}  # the project itself is skipped
    assert by_file["requirements.txt"] == locked | {"pyyaml@6.0.1", "zope-interface@6.0"}
    # only == / === pins; -r, -c, -e, URLs, ranges, wildcards and two-specifier lines are skipped
    assert by_file["requirements-dev.txt"] == {
        "pytest@7.4.0", "requests@2.25.0", "six@1.16.0", "black@23.1.0", "mypy@1.4.1",
    }
    groups = {(Path(p["path"]).name, p["name"]): dict(p["extra"]).get("group") for p in got["packages"]}
    assert groups[("poetry.lock", "six")] == "dev" and groups[("poetry.lock", "requests")] == "main"
    assert groups[("Pipfile.lock", "six")] == "dev"


def test_wants_is_name_based(analyzer: PythonAnalyzer) -> None:
    def wants(path: str, kind: str = "file") -> bool:
        return analyzer.wants(path, FileInfo(path=path, kind=kind))

    assert wants("/usr/lib/python3.11/site-packages/a-1.dist-info/METADATA")
    assert wants("/x/y.egg/EGG-INFO/PKG-INFO")
    assert wants("/usr/lib/python3/dist-packages/foo-1.0.egg-info")
    assert not wants("/usr/lib/python3/dist-packages/foo-1.0.egg-info", kind="dir")
    assert wants("/srv/requirements/prod.txt") and wants("/srv/dev-requirements.txt")
    assert not wants("/x/a-1.dist-info/RECORD") and not wants("/x/a.egg-info/requires.txt")
    assert not wants("/x/notes.txt") and not wants("/x/poetry.lock.bak")


def test_requirement_pins_with_continuations_and_markers(analyzer: PythonAnalyzer) -> None:
    text = (
        "Django==4.2.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "  Pillow == 9.0.0 ; sys_platform != 'win32'  # image lib\n"
        "uvicorn[standard]===0.22.0\n"
        "#numpy==1.0\n"
        "Babel==2.12.*\n"
    )
    result = analyze_bytes(analyzer, "/app/requirements.txt", text.encode())
    assert {(p.name, p.version) for p in result.packages} == {("Django", "4.2.1"), ("Pillow", "9.0.0"),
                                                              ("uvicorn", "0.22.0")}
    assert {p.purl for p in result.packages} >= {"pkg:pypi/django@4.2.1", "pkg:pypi/pillow@9.0.0"}


def test_license_text_is_not_a_license_name(analyzer: PythonAnalyzer) -> None:
    meta = (b"Metadata-Version: 2.1\nName: x_y\nVersion: 1.0\n"
            b"License: Copyright (c) 2020 someone\n        Permission is hereby granted\n")
    result = analyze_bytes(analyzer, "/a/x_y-1.0.dist-info/METADATA", meta)
    (pkg,) = result.packages
    assert pkg.licenses == () and pkg.purl == "pkg:pypi/x-y@1.0"


@pytest.mark.parametrize(
    "path, cut_after",
    [
        ("locks/root/app/poetry/poetry.lock", b'version = "'),
        ("locks/root/app/pipenv/Pipfile.lock", b'"version": "'),
        ("locks/root/app/uv/uv.lock", b'name = "'),
    ],
)
def test_truncated_lock_file_gives_warning(analyzer: PythonAnalyzer, path: str, cut_after: bytes) -> None:
    image_path, truncated = truncated_case("python", path, cut_after)
    assert_malformed(analyze_bytes(analyzer, image_path, truncated), image_path)


def test_malformed_files_do_not_stop_the_others(tmp_path: Path, analyzer: PythonAnalyzer) -> None:
    site = tmp_path / "usr/lib/python3/site-packages"
    (site / "good-1.0.dist-info").mkdir(parents=True)
    (site / "good-1.0.dist-info/METADATA").write_text("Metadata-Version: 2.1\nName: good\nVersion: 1.0\n")
    (site / "bad-1.0.dist-info").mkdir()
    (site / "bad-1.0.dist-info/METADATA").write_bytes(b"\x00\xff garbage without headers")
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Pipfile.lock").write_text('{"default": ["not", "an", "object"]}')
    (tmp_path / "app/poetry.lock").write_bytes(b"[[package]\nname = ")
    got = run_tree(analyzer, tmp_path)
    assert nv(got) == {"good@1.0"}
    assert sorted(w["path"] for w in got["warnings"]) == [
        "/app/Pipfile.lock", "/app/poetry.lock", "/usr/lib/python3/site-packages/bad-1.0.dist-info/METADATA",
    ]
    assert all(w["code"] == "malformed-file" for w in got["warnings"])


def _bdist_egg(tmp_path: Path) -> Path:
    """A real zipped egg built by setuptools' ``bdist_egg``."""
    src = tmp_path / "src"
    (src / "tinyegg").mkdir(parents=True)
    (src / "tinyegg/__init__.py").write_text("")
    (src / "setup.py").write_text(
        'from setuptools import setup\n'
        'setup(name="tiny_egg", version="0.3.1", packages=["tinyegg"], license="MIT", install_requires=["six"])\n'
    )
    proc = subprocess.run([sys.executable, "setup.py", "-q", "bdist_egg"], cwd=src, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"setuptools cannot build eggs here: {proc.stderr[-300:]}")
    (egg,) = (src / "dist").glob("*.egg")
    return egg


def test_zipped_egg(tmp_path: Path, analyzer: PythonAnalyzer) -> None:
    egg = _bdist_egg(tmp_path)
    path = f"/usr/lib/python3/site-packages/{egg.name}"
    result = analyze_bytes(analyzer, path, egg.read_bytes())
    (pkg,) = result.packages
    with zipfile.ZipFile(egg) as z:  # setuptools < 69 wrote the name as "tiny-egg", later ones as given
        (written,) = re.findall(r"^Name: (.+)$", z.read("EGG-INFO/PKG-INFO").decode(), re.M)
    assert written in ("tiny-egg", "tiny_egg")
    assert (pkg.name, pkg.version, pkg.purl, pkg.licenses, pkg.path) == (
        written, "0.3.1", "pkg:pypi/tiny-egg@0.3.1", ("MIT",), path)
    # truncated, not a zip, or a PKG-INFO member claiming to be huge: warnings, never an exception
    data = egg.read_bytes()
    assert_malformed(analyze_bytes(analyzer, path, data[: len(data) // 2]), path)
    assert_malformed(analyze_bytes(analyzer, path, b"PK\x03\x04 not really"), path)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("EGG-INFO/PKG-INFO", b"Name: x\nVersion: 1\n" + b" " * (4 * 1024 * 1024))
    result = analyze_bytes(analyzer, path, bomb.getvalue())
    assert_malformed(result, path)
    assert "limit" in result.warnings[0].message


def test_long_continuations_parse_in_linear_time(analyzer: PythonAnalyzer) -> None:
    """``\\`` continuations (requirements) and folded headers (METADATA) were joined with ``+=`` per line:
    quadratic, minutes for a few MB. A pin with many ``--hash`` continuation lines is what pip-compile writes."""
    import time

    requirements = "urllib3==1.26.5 \\\n" + "    --hash=sha256:0123456789abcdef \\\n" * 200_000 + "    --hash=sha256:f\n"
    metadata = "Metadata-Version: 2.1\nName: big\nVersion: 2.0\nLicense: first line\n" + "  more text\n" * 500_000
    start = time.monotonic()
    req = analyze_bytes(analyzer, "/app/requirements.txt", requirements.encode())
    meta = analyze_bytes(analyzer, "/usr/lib/python3/site-packages/big-2.0.dist-info/METADATA", metadata.encode())
    assert time.monotonic() - start < 15  # ~1 s now
    assert [(p.name, p.version) for p in req.packages] == [("urllib3", "1.26.5")]
    assert [(p.name, p.version) for p in meta.packages] == [("big", "2.0")]
