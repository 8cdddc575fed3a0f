"""``pip install hullscan`` with no extras, in a fresh virtual environment: every dependency the base scan imports
is declared (a Python + npm image still lists its language packages), and a feature of a missing extra is refused
with a message naming the extra, never a silent partial report.

Offline: the base dependencies' wheels come from ``build/base-wheels``, which ``scripts/setup`` downloads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lang import test_apps_image

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "build" / "base-wheels"


@pytest.mark.slow
def test_the_base_package_alone_lists_language_packages(tmp_path: Path) -> None:
    if not any(WHEELS.glob("*.whl")):
        pytest.fail(f"{WHEELS} holds no wheels: run scripts/setup (it downloads the base dependencies)")
    project = tmp_path / "project"  # a copy: the build writes its egg-info beside the sources
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # this machine's index mirrors and constraints play no part
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
                              "--find-links", str(WHEELS), str(project)],
                             capture_output=True, text=True, env=env, timeout=600)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import cyclonedx"], capture_output=True, env=env)
    assert check.returncode != 0  # no extra came along: what follows is the base package alone

    _, archive = test_apps_image.build(tmp_path)
    hullscan = str(venv / "bin" / "hullscan")
    res = subprocess.run([hullscan, "image", "--input", str(archive), "--scanners", "none", "-f", "json", "-q",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    ecosystems = {p["ecosystem"] for p in report["packages"]}
    assert {"PyPI", "npm"} <= ecosystems
    assert all(p["purl"].startswith(("pkg:pypi/", "pkg:npm/")) for p in report["packages"])
    assert all(s["status"] == "ok" for s in report["plugins"]), report["plugins"]

    # a feature of a missing extra says which extra, in one line
    res = subprocess.run([hullscan, "image", "--input", str(archive), "--scanners", "malware", "-f", "json", "-q",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 2 and res.stdout == ""  # an error: never 1, the usual --exit-code of findings
    assert res.stderr == ("hullscan: error: --scanners malware: yara_x is not installed: it comes with the 'checks' "
                          "extra (pip install 'hullscan[checks]')\n")
    res = subprocess.run([hullscan, "image", "--input", str(archive), "--scanners", "none", "-f", "cyclonedx", "-q",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 2 and res.stdout == ""  # an error: never 1, the usual --exit-code of findings
    assert res.stderr == ("hullscan: error: cyclonedx is not installed: it comes with the 'sbom' extra "
                          "(pip install 'hullscan[sbom]')\n")
