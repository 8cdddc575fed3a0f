"""``hullscan fix`` benchmark: seconds per patched image and the patch layer's size, for an image with N vulnerable
packages (N = 1, 10, 50 by default).

The bench builds everything with Debian's tools, as the tests do (tests/fix/debrepo.py): N small library packages
``libbenchK`` (two versions each, compiled with gcc, packed with ``dpkg-deb``), a signed apt repository
(``dpkg-scanpackages``, ``apt-ftparchive``, ``gpg --clearsign``) served on 127.0.0.1, an image whose root filesystem
the real ``dpkg`` installed with the old versions, and a vulnerability database with one advisory per package. Each
figure is the best of ``--repeat`` runs of :func:`hullscan.fix.service.fix_image` writing an OCI archive (scan
before, index fetch and verification, package fetch, layer, rescan, archive), plus the time of a plain
``hullscan image`` scan of the same image for scale. No other tool patches images without BuildKit, so there is no
side-by-side anchor: the scan column is the yardstick.

    python3 bench/fix_bench.py [--sizes 1,10,50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fix import debrepo as d
from tests.helpers.imagebuild import ImageBuilder, tar_dir
from tests.vulndb.fixtures import build_db

OS_RELEASE = 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n'


def packages(work: Path, n: int, version: str) -> list[d.Pkg]:
    """N library packages at ``version`` (each a real shared object plus a few documentation files)."""
    lib, _ = d.compiled(work, version)
    out = []
    for k in range(n):
        files: dict[str, bytes | tuple[str, str]] = {
            f"{d.LIBDIR}/libbench{k}.so.1.0.0": lib,
            f"{d.LIBDIR}/libbench{k}.so.1": ("symlink", f"libbench{k}.so.1.0.0"),
            f"/usr/share/doc/libbench{k}/changelog": f"bench {k} {version}\n".encode() * 50,
            f"/usr/share/libbench{k}/data-{version}.txt": b"x" * 4096,
        }
        out.append(d.Pkg(f"libbench{k}", version, files, source=f"bench{k}", multi_arch="same"))
    return out


def setup(work: Path, n: int, signer: d.Signer) -> tuple[Path, Path, d.RepoServer]:
    build = work / "build"
    old = [d.build_deb(p, work / f"old-{n}", build) for p in packages(work, n, "1.0-1")]
    new = [d.build_deb(p, work / f"new-{n}", build) for p in packages(work, n, "1.0-2")]
    repo = work / f"repo-{n}"
    d.make_repo(repo / "debian", [*old, *new], signer)
    server = d.RepoServer(repo)
    root = work / f"root-{n}"
    d.merged_usr(root)
    d.dpkg_install(root, old)
    (root / "etc/apt/trusted.gpg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/trusted.gpg.d/bench.gpg").write_bytes(signer.public_key())
    (root / "etc/apt/sources.list").write_text(f"deb {server.url}/debian stable main\n")
    (root / "etc/os-release").write_text(OS_RELEASE)
    image = work / f"image-{n}.tar"
    ImageBuilder().add_layer(tar_dir(root)).write_oci_archive(image)
    tracker = {f"bench{k}": {f"CVE-2099-{10000 + k}": {"description": "bench", "releases": {"bookworm": {
        "status": "resolved", "fixed_version": "1.0-2", "urgency": "high"}}}} for k in range(n)}
    db = build_db(work / f"db-{n}", {"tracker/json": tracker})
    return image, db, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from hullscan.fix.service import FixOptions, fix_image
    from hullscan.options import ScanOptions
    from hullscan.scan import scan

    work = Path(tempfile.mkdtemp(prefix="hullscan-fix-bench-"))
    rows = []
    try:
        signer = d.Signer.make(work / "gpg", "bench@hullscan.invalid")
        for n in (int(x) for x in args.sizes.split(",")):
            image, db, server = setup(work, n, signer)
            try:
                fix_times, scan_times, size, upgraded = [], [], 0, 0
                warm = ScanOptions(db_path=db, cache_dir=work / f"cache-{n}-warm", scanners=frozenset({"vuln"}))
                fix_image(str(image), FixOptions(scan=warm, output=work / f"warm-{n}.tar"))  # imports, page cache
                for i in range(args.repeat):
                    opts = ScanOptions(db_path=db, cache_dir=work / f"cache-{n}-{i}", scanners=frozenset({"vuln"}))
                    t0 = time.perf_counter()
                    scan(str(image), opts)
                    scan_times.append(time.perf_counter() - t0)
                    out = work / f"patched-{n}-{i}.tar"
                    t0 = time.perf_counter()
                    result = fix_image(str(image), FixOptions(scan=opts, output=out))
                    fix_times.append(time.perf_counter() - t0)
                    if result.status != "patched":
                        raise SystemExit(f"N={n}: {result.reason}: {result.message}")
                    size, upgraded = result.layer_size, len(result.upgraded)
                rows.append((n, upgraded, min(fix_times), min(scan_times), size))
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'N vulnerable':>12} {'upgraded':>9} {'fix s/image':>12} {'scan s (same image)':>20} "
          f"{'patch layer (gzip)':>19}")
    for n, upgraded, fix_s, scan_s, size in rows:
        print(f"{n:>12} {upgraded:>9} {fix_s:>12.3f} {scan_s:>20.3f} {size / 1024:>15.1f} KiB")


if __name__ == "__main__":
    main()
