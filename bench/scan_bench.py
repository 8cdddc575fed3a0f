"""Issue 2 benchmark: package inventory of a real Debian bookworm image + an application layer,
hullscan (cold and warm cache) vs Trivy 0.59.1, side by side in one run.

    python bench/scan_bench.py [--runs N]

Builds (cached under bench/.cache): a mmdebstrap --variant=minbase bookworm root filesystem as the base layer,
a Python application layer (pip install --target), written as a `docker save` archive. Then times
  hullscan image --input X --format json --scanners none     (cold: empty cache dir; warm: second run, the layer
                                                              analyses come from the layer cache)
  trivy image --input X --format cyclonedx --cache-backend memory --skip-db-update --skip-java-db-update --offline-scan
and prints the times, the ratios, the start-up floor of a Typer CLI here (`python -c pass`, `python -c "import typer"`),
the package counts and every package one tool lists that the other does not.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import (  # type: ignore[import-not-found]
    CACHE,
    debian_rootfs,
    hullscan,
    hullscan_packages,
    normalise_pypi,
    pip_layer,
    print_table,
    timed,
    trivy,
    trivy_packages,
)

APP_PACKAGES = ["requests==2.31.0", "urllib3==1.26.18", "flask==2.3.3", "jinja2==3.1.2", "werkzeug==2.3.7",
                "idna==3.4", "certifi==2023.7.22", "charset-normalizer==3.3.0", "click==8.1.7", "itsdangerous==2.1.2",
                "markupsafe==2.1.3", "pyyaml==6.0.1"]


def strip_times(report_json: str) -> dict:
    """A JSON report without its per-run fields (scanned_at, duration_seconds)."""
    import json

    data = json.loads(report_json)
    data.pop("scanned_at", None)
    data.pop("duration_seconds", None)
    return data


def build_image() -> Path:
    from tests.helpers.imagebuild import ImageBuilder

    out = CACHE / "bookworm-app.docker.tar"
    if out.exists():
        return out
    b = ImageBuilder()
    b.add_layer(debian_rootfs().read_bytes(), compression="none", created_by="mmdebstrap --variant=minbase bookworm")
    b.add_layer(pip_layer(APP_PACKAGES), compression="none", created_by="pip install --target ... " + " ".join(APP_PACKAGES))
    b.config_extra = {"Cmd": ["python3"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]}
    b.write_docker_archive(out, "bench/bookworm-app:latest")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (median reported)")
    args = ap.parse_args()
    image = build_image()
    size_mb = image.stat().st_size / 1e6
    cold, warm, trv, bare, typer_only = [], [], [], [], []
    out_h = out_t = ""
    for _ in range(args.runs):
        # the floor under any Python CLI built with Typer on this machine: the interpreter, then Typer's import
        bare.append(timed([sys.executable, "-c", "pass"])[0])
        typer_only.append(timed([sys.executable, "-c", "import typer"])[0])
        cache = Path(tempfile.mkdtemp(prefix="hullscan-bench-"))
        try:
            cmd = [*hullscan(), "image", "--input", str(image), "--format", "json", "--scanners", "none", "-q",
                   "--cache-dir", str(cache)]
            t, out_h = timed(cmd)
            cold.append(t)
            t, out_w = timed(cmd)
            warm.append(t)
            if strip_times(out_w) != strip_times(out_h):
                raise SystemExit("the warm report differs from the cold one")
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        t, out_t = timed([trivy(), "image", "--input", str(image), "--format", "cyclonedx", "--cache-backend", "memory",
                          "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--quiet"],
                         env={"TRIVY_CACHE_DIR": tempfile.mkdtemp(prefix="trivy-bench-")})
        trv.append(t)
    c, w, tr = statistics.median(cold), statistics.median(warm), statistics.median(trv)
    print(f"image: {image.name} ({size_mb:.0f} MB docker-save archive, 2 layers), median of {args.runs} runs")
    print_table("times (s)", [
        ("hullscan cold (empty cache)", f"{c:.2f}"),
        ("hullscan warm (cached layers)", f"{w:.2f}"),
        ("trivy 0.59.1 (memory cache)", f"{tr:.2f}"),
        ("ratio trivy / hullscan cold", f"{tr / c:.2f}x"),
        ("ratio hullscan cold / warm", f"{c / w:.2f}x"),
        ("floor: python -c pass", f"{statistics.median(bare):.2f}"),
        ("floor: python -c 'import typer'", f"{statistics.median(typer_only):.2f}"),
    ], ("measure", "value"))
    h = normalise_pypi(hullscan_packages(out_h))
    t = normalise_pypi(trivy_packages(out_t))
    by_type = sorted({x[0] for x in h | t})
    print_table("packages by type", [(k, str(len([p for p in h if p[0] == k])), str(len([p for p in t if p[0] == k])))
                                     for k in by_type] + [("total", str(len(h)), str(len(t)))], ("type", "hullscan", "trivy"))
    only_t = sorted(t - h)
    only_h = sorted(h - t)
    print(f"\nonly trivy lists ({len(only_t)}):", *[f"  {x[0]} {x[1]}@{x[2]}" for x in only_t], sep="\n")
    print(f"only hullscan lists ({len(only_h)}):", *[f"  {x[0]} {x[1]}@{x[2]}" for x in only_h], sep="\n")
    print(f"\ntargets: cold no slower than trivy: {'met' if c <= tr else 'NOT met'}; "
          f"every trivy package found: {'met' if not only_t else 'NOT met'}")


if __name__ == "__main__":
    main()
