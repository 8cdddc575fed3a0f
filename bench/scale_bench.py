"""Scale benchmarks, hullscan vs Trivy side by side in one run (issue 11, "Must still hold"):

* ``source300k``: secret scanning of an image whose layer holds 300,000 real source and text files of this
  machine (Python, Perl, C headers, /usr/share: every file under 64 KiB with no NUL byte in its first 8 KiB,
  from the trees in :data:`SOURCE_TREES`, copied under /src/copy-N/ until there are 300,000). Goal: hullscan at
  least 3x faster than Trivy.
* ``files1m``: an image with 1,000,000 small generated files, scanned for secrets. Goal: hullscan under 300 MB of
  anonymous memory.

For each tool: wall seconds, CPU seconds, peak RSS (the kernel's VmHWM: ``ru_maxrss`` of the child) and peak
anonymous RSS (``RssAnon`` of /proc/<pid>/status, sampled every 20 ms: mapped file pages, such as a layer walked
through a memory map, are not anonymous memory). Images are docker-save archives built once under
bench/.cache. Both tools run offline, without caches::

    hullscan image --input X --scanners secret --format json --no-cache -q
    trivy image --input X --scanners secret --format json --cache-backend memory --offline-scan --skip-db-update --quiet

Usage: ``python bench/scale_bench.py [--only source300k|files1m] [--runs N]``.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import CACHE, trivy  # type: ignore[import-not-found]
from common import hullscan as hullscan_command  # type: ignore[import-not-found]

from tests.helpers.imagebuild import ImageBuilder

SOURCE_TREES = ("/usr/lib/python3", "/usr/lib/python3.11", "/usr/share", "/usr/include", sys.prefix + "/lib")
SOURCE_FILES = 300_000
SMALL_FILES = 1_000_000


def _text_files() -> list[Path]:
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for tree in SOURCE_TREES:
        for dirpath, _dirs, names in os.walk(tree):
            for name in names:
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                if not (path.is_file() and not path.is_symlink() and 0 < st.st_size < 64 * 1024):
                    continue
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                try:
                    with open(path, "rb") as fh:
                        if b"\0" in fh.read(8192):
                            continue
                except OSError:
                    continue
                out.append(path)
    return sorted(out)


def _layer_from(files: list[tuple[str, bytes | Path]], out: Path) -> None:
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = 0o644
            if isinstance(data, Path):
                payload = data.read_bytes()
            else:
                payload = data
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def source_image() -> Path:
    out = CACHE / "source300k.docker.tar"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    files = _text_files()
    print(f"building {out.name}: {len(files)} distinct text files on this machine, copied until {SOURCE_FILES}", flush=True)
    entries: list[tuple[str, bytes | Path]] = []
    copy = 0
    while len(entries) < SOURCE_FILES:
        copy += 1
        for f in files:
            entries.append((f"src/copy-{copy}{f}", f))
            if len(entries) == SOURCE_FILES:
                break
    layer = CACHE / "source300k.layer.tar"
    _layer_from(entries, layer)
    _archive(layer, out, "bench/source300k:1")
    layer.unlink()
    return out


def small_image() -> Path:
    out = CACHE / "files1m.docker.tar"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"building {out.name}: {SMALL_FILES} small generated files", flush=True)
    layer = CACHE / "files1m.layer.tar"
    entries: list[tuple[str, bytes | Path]] = [
        (f"data/d{i // 1000:04d}/f{i % 1000:03d}.txt", f"item {i}\nvalue = {i * 7919 % 100003}\n".encode())
        for i in range(SMALL_FILES)]
    _layer_from(entries, layer)
    _archive(layer, out, "bench/files1m:1")
    layer.unlink()
    return out


def _archive(layer: Path, out: Path, tag: str) -> None:
    b = ImageBuilder()
    b.add_layer(layer.read_bytes(), compression="none", created_by="/bin/sh -c #(nop) COPY dir:bench in / ")
    b.write_docker_archive(out, tag)


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])  # kB
    except OSError:
        pass
    return out


def run(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run one tool; wall and CPU seconds, peak RSS and peak anonymous RSS (MB)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak_anon = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            st = _status(proc.pid)
            peak_anon[0] = max(peak_anon[0], st.get("RssAnon", 0))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    err = proc.stderr.read()  # type: ignore[union-attr]
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    reader.join()
    if proc.returncode != 0:
        print(f"{Path(cmd[0]).name} failed ({proc.returncode}) after {elapsed:.0f} s: {err[-600:].decode(errors='replace')}")
        return {"wall": float("nan"), "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
                "anon": peak_anon[0] / 1024, "out": 0}
    return {"wall": elapsed, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "anon": peak_anon[0] / 1024, "out": len(out_chunks[0]) if out_chunks else 0}


def bench(name: str, archive: Path, runs: int, only: tuple[str, ...] = ("hullscan", "trivy")) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HULLSCAN_CACHE_DIR=str(Path(tmp) / "hcache"), TRIVY_CACHE_DIR=str(Path(tmp) / "tcache"),
                   TRIVY_NO_PROGRESS="true")
        tools = {
            "hullscan": [*hullscan_command(), "image", "--input", str(archive), "--scanners", "secret", "--format", "json",
                         "--no-cache", "-q"],
            "trivy": [trivy(), "image", "--input", str(archive), "--scanners", "secret", "--format", "json",
                      "--cache-backend", "memory", "--offline-scan", "--skip-db-update", "--quiet", "--timeout", "60m"],
        }
        rows: dict[str, dict[str, float]] = {}
        print(f"\n[{name}] {archive.stat().st_size / 1e6:.0f} MB docker archive "
              f"(best of {runs}; memory of that run)")
        print(f"{'tool':10} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} {'peak anon MB':>13}", flush=True)
        for tool, cmd in tools.items():
            if tool not in only:
                continue
            results = [run(cmd, env) for _ in range(runs)]
            r = rows[tool] = min(results, key=lambda r: r["wall"])
            print(f"{tool:10} {r['wall']:8.2f} {r['cpu']:8.2f} {r['rss']:12.0f} {r['anon']:13.0f}", flush=True)
        if "hullscan" in rows and "trivy" in rows:
            print(f"trivy / hullscan wall time: {rows['trivy']['wall'] / rows['hullscan']['wall']:.1f}x")
        return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("source300k", "files1m"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tools", default="hullscan,trivy", help="comma-separated: hullscan, trivy")
    args = ap.parse_args()
    tools = tuple(args.tools.split(","))
    if args.only in (None, "source300k"):
        rows = bench("source300k: 300,000 real source files, secret scanning", source_image(), args.runs, tools)
        if "hullscan" in rows and "trivy" in rows:
            met = rows["trivy"]["wall"] >= 3 * rows["hullscan"]["wall"]
            print(f"goal hullscan >= 3x faster than trivy: {'met' if met else 'NOT met'}")
    if args.only in (None, "files1m"):
        rows = bench("files1m: 1,000,000 files, secret scanning", small_image(), args.runs, tools)
        if "hullscan" in rows:
            print(f"goal hullscan < 300 MB anonymous memory: {'met' if rows['hullscan']['anon'] < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
