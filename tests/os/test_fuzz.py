"""Hostile input: damaged copies of the real fixtures never make an OS analyzer raise."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.os.apk import ApkAnalyzer
from hullscan.analyzers.os.dpkg import DpkgAnalyzer
from hullscan.analyzers.os.osrelease import OSReleaseAnalyzer
from hullscan.analyzers.os.rpm import RpmAnalyzer
from hullscan.model import AnalysisResult

DATA = Path(__file__).resolve().parents[1] / "data" / "os"
TARGETS = [
    (RpmAnalyzer(), "/var/lib/rpm/rpmdb.sqlite", (DATA / "rpm" / "rpmdb.sqlite").read_bytes()),
    (RpmAnalyzer(), "/var/lib/rpm/Packages", (DATA / "rpm" / "Packages").read_bytes()),
    (RpmAnalyzer(), "/var/lib/rpm/Packages", (DATA / "rpm" / "Packages.be512").read_bytes()),
    (RpmAnalyzer(), "/var/lib/rpm/Packages.db", (DATA / "rpm" / "Packages.db").read_bytes()),
    (ApkAnalyzer(), "/lib/apk/db/installed", (DATA / "apk" / "installed").read_bytes()),
    (DpkgAnalyzer(), "/var/lib/dpkg/status",
     b"Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2)\nDepends: c (>= 1) | d\n\n"),
    (OSReleaseAnalyzer(), "/etc/os-release", (DATA / "release" / "rhel-9" / "rootfs" / "etc" / "os-release").read_bytes()),
]


def damage(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for pos, value in edits:
        buf[pos % len(buf)] = value
    return bytes(buf[:cut] if cut is not None else buf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.integers(0, len(TARGETS) - 1),
       edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 1 << 16)))
def test_damaged_fixtures_never_raise(target: int, edits: list[tuple[int, int]], cut: int | None) -> None:
    analyzer, path, data = TARGETS[target]
    res = analyzer.analyze(FileInput.from_bytes(path, damage(data, edits, cut), layer="sha256:x"))
    assert isinstance(res, AnalysisResult)
    assert all(p.name and p.version for p in res.packages)
    assert all(w.path == path for w in res.warnings)
