"""OS detection on real release files of every supported distribution (tests/data/os/release/<case>/)."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.os import detect, resolve_distro
from hullscan.analyzers.os.osrelease import ALL_FILES, OSReleaseAnalyzer, parse_file
from hullscan.model import Distro, FileInfo

DATA = Path(__file__).resolve().parents[1] / "data" / "os" / "release"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def rootfs_files(case: str) -> dict[str, bytes]:
    """``{absolute path: content}`` of a case's root filesystem."""
    root = DATA / case / "rootfs"
    return {"/" + str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def want(case: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((DATA / case / "want.json").read_text())
    data["id_like"] = tuple(data["id_like"])  # type: ignore[arg-type]
    return data


def test_every_distribution_has_a_case() -> None:
    ids = {want(c)["id"] for c in CASES}
    assert ids >= {"debian", "ubuntu", "alpine", "rhel", "almalinux", "rocky", "centos", "fedora", "amzn", "sles",
                   "opensuse-leap", "opensuse-tumbleweed", "wolfi", "chainguard"}
    assert any(want(c)["name"] == "Distroless" for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_detect(case: str) -> None:
    assert asdict(detect(rootfs_files(case))) == want(case)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES)
def test_analyzer_per_file_then_resolve_is_order_independent(case: str) -> None:
    analyzer = OSReleaseAnalyzer()
    candidates = []
    for path, content in rootfs_files(case).items():
        assert analyzer.wants(path, FileInfo(path=path))
        res = analyzer.analyze(FileInput.from_bytes(path, content, layer="sha256:l1"))
        assert res.distro is not None and not res.warnings
        assert res.facts == {"os-file": [path]}
        candidates.append((path, res.distro))
    results = {resolve_distro(list(order)) for order in itertools.permutations(candidates)}
    assert len(results) == 1
    assert asdict(results.pop()) == want(case)  # type: ignore[arg-type]


def test_os_release_wins_over_distro_files_of_another_id() -> None:
    # Ubuntu ships /etc/debian_version too; it must not turn the image into Debian
    files = rootfs_files("ubuntu-22.04")
    assert parse_file("/etc/debian_version", files["/etc/debian_version"]) == Distro(
        id="debian", version_id="bookworm/sid", name="Debian GNU/Linux", codename="bookworm")
    assert detect(files).id == "ubuntu"  # type: ignore[union-attr]


def test_wants_only_release_files_as_regular_files() -> None:
    analyzer = OSReleaseAnalyzer()
    assert all(analyzer.wants(p, FileInfo(path=p)) for p in ALL_FILES)
    assert not analyzer.wants("/etc/os-release", FileInfo(path="/etc/os-release", kind="symlink"))
    assert not analyzer.wants("/etc/os-release.bak", FileInfo(path="/etc/os-release.bak"))
    assert not analyzer.wants("/usr/share/etc/os-release", FileInfo(path="/usr/share/etc/os-release"))


@pytest.mark.parametrize(("path", "content"), [
    ("/etc/os-release", b"NAME=nothing\n"),
    ("/etc/os-release", b"\x00\xff\xfe garbage \x89PNG"),
    ("/etc/redhat-release", b"Welcome to my box\n"),
    ("/etc/alpine-release", b""),
    ("/etc/debian_version", b"\x00" * 100),
    ("/etc/SuSE-release", b"Something Else 11\nVERSION = 11\n"),
    ("/etc/lsb-release", b"FOO=bar\n"),
    ("/etc/os-release", b'ID="unterminated\nVERSION_ID=1\n'),
])
def test_malformed_release_file_gives_warning(path: str, content: bytes) -> None:
    res = OSReleaseAnalyzer().analyze(FileInput.from_bytes(path, content, layer="sha256:l1"))
    if res.distro is None:
        assert [w.code for w in res.warnings] == ["malformed-file"]
        assert res.warnings[0].path == path and path in res.warnings[0].message
    else:  # shell-quoting error: still parsed leniently, never raises
        assert res.distro.id == "unterminated"


def test_no_candidates() -> None:
    assert resolve_distro([]) is None
    assert detect({"/etc/hostname": b"box\n"}) is None
