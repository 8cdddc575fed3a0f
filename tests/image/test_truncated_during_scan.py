"""A local archive cut short by another program while it is being scanned: the scan ends with the usual truncation
error (BlobError, exit code of a bad input), never a crash of the process (a bus error from a memory map)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hullscan
from tests.helpers.imagebuild import ImageBuilder, make_tar

_CHILD = r"""
import os, sys
from hullscan.analyzers.files import secrets
from hullscan.errors import BlobError
from hullscan.options import ScanOptions
from hullscan.scan import scan

archive, cut, at = sys.argv[1], int(sys.argv[2]), sys.argv[3]
analyze = secrets.SecretAnalyzer.analyze

def cutting(self, file):  # another program cuts the archive while the scan is inside the big layer
    if file.path == at and os.path.getsize(archive) > cut:
        os.truncate(archive, cut)
    return analyze(self, file)

secrets.SecretAnalyzer.analyze = cutting
try:
    scan(archive, ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
except BlobError as exc:
    print(f"BlobError: {exc}")
    sys.exit(3)
print("no error")
"""


@pytest.mark.parametrize("where", [0.3, 0.7])
def test_archive_truncated_during_the_scan_is_a_truncation_error(tmp_path: Path, where: float) -> None:
    b = ImageBuilder()
    b.add_layer(make_tar({"etc/a.conf": b"a = 1\n"}), compression="none", created_by="first")
    big = {f"srv/data/f{i:05d}.txt": (f"line {i}\n" * 400).encode() for i in range(2000)}  # ~7 MB, last in the file
    b.add_layer(make_tar(big), compression="none", created_by="second")
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/cut:1")
    data = archive.read_bytes()
    second = data.index(b"srv/data/f00000.txt")  # where the second layer's entries begin
    end = data.index(b"srv/data/f01999.txt")
    cut = int(second + (end - second) * where)
    src = str(Path(hullscan.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    at = "/srv/data/f00100.txt"  # early in the big layer: the cut lands ahead of the walk
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(archive), str(cut), at], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 3, f"exit {proc.returncode} (a negative code is a signal: -7 is SIGBUS)\n{proc.stderr[-2000:]}"
    assert "truncated" in proc.stdout, proc.stdout
    assert os.path.getsize(archive) == cut  # the archive really was cut during the scan
