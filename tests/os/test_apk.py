"""apk analyzer on an ``installed`` database in apk-tools' real format (tests/data/os/apk/installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.os import attach_distro
from hullscan.analyzers.os.apk import ApkAnalyzer
from hullscan.model import Distro, FileInfo

INSTALLED = Path(__file__).resolve().parents[1] / "data" / "os" / "apk" / "installed"
PATH = "/lib/apk/db/installed"


def run(data: bytes):  # type: ignore[no-untyped-def]
    analyzer = ApkAnalyzer()
    assert analyzer.wants(PATH, FileInfo(path=PATH))
    return analyzer.analyze(FileInput.from_bytes(PATH, data, layer="sha256:base"))


def test_real_format_database() -> None:
    res = run(INSTALLED.read_bytes())
    assert res.warnings == []
    pkgs = {p.name: p for p in res.packages}
    assert sorted(pkgs) == ["apk-tools", "busybox", "busybox-binsh", "libcrypto3", "libssl3", "musl", "ssl_client", "zlib"]
    ssl = pkgs["libssl3"]
    assert (ssl.version, ssl.arch, ssl.source_name, ssl.source_version) == ("3.1.4-r5", "x86_64", "openssl", "3.1.4-r5")
    assert ssl.licenses == ("Apache-2.0",) and ssl.files == ("/lib/libssl.so.3", "/usr/lib/libssl.so.3")
    assert ssl.depends == ("libcrypto3", "musl")  # so: names resolved through p: provides
    assert ssl.purl == "pkg:apk/libssl3@3.1.4-r5?arch=x86_64"
    assert (ssl.layer, ssl.path, ssl.found_by, ssl.ecosystem) == ("sha256:base", PATH, "os/apk", "apk")
    assert ("commit", "c9b4d9e1a3f2b8e7d6c5b4a3928171605f4e3d2c") in ssl.extra
    assert ("build-time", "1706019113") in ssl.extra
    # versioned and unresolvable plain dependencies; self-provides never listed
    assert pkgs["apk-tools"].depends == ("ca-certificates-bundle", "libcrypto3", "libssl3", "musl", "zlib")
    assert pkgs["busybox-binsh"].depends == ("busybox",) and pkgs["busybox-binsh"].source_name == "busybox"
    assert pkgs["busybox"].files == ("/bin/busybox", "/etc/securetty", "/etc/udhcpd.conf")
    assert pkgs["musl"].files == ("/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1")


@pytest.mark.parametrize(("distro", "purl"), [
    (Distro(id="alpine", version_id="3.19.1"), "pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19"),
    (Distro(id="wolfi", version_id="20230201"), "pkg:apk/wolfi/zlib@1.3.1-r0?arch=x86_64&distro=wolfi-20230201"),
    (Distro(id="chainguard", version_id="20230214"),
     "pkg:apk/chainguard/zlib@1.3.1-r0?arch=x86_64&distro=chainguard-20230214"),
])
def test_purl_with_distro(distro: Distro, purl: str) -> None:
    zlib = next(p for p in run(INSTALLED.read_bytes()).packages if p.name == "zlib")
    assert attach_distro([zlib], distro)[0].purl == purl


def test_broken_stanzas_are_skipped_with_one_warning() -> None:
    good = INSTALLED.read_text().split("\n\n")[0]
    text = good + "\n\nP:noversion\nA:x86_64\n\nthis is not apk\nP:x\nV:1\n\n" + good.replace("P:musl", "P:musl2") + "\n"
    res = run(text.encode())
    assert [p.name for p in res.packages] == ["musl", "musl2"]
    assert len(res.warnings) == 1 and PATH in res.warnings[0].message and "2 malformed" in res.warnings[0].message


@pytest.mark.parametrize("data", [b"", b"\n\n\n", b"\xff\xfe\x00garbage" * 100, INSTALLED.read_bytes()[:1000]])
def test_truncated_or_garbage_never_raises(data: bytes) -> None:
    res = run(data)
    assert all(p.name and p.version for p in res.packages)
    if data.startswith(b"\xff"):
        assert res.packages == [] and res.warnings


def test_wants_only_the_database() -> None:
    a = ApkAnalyzer()
    assert not a.wants("/lib/apk/db/triggers", FileInfo(path="/lib/apk/db/triggers"))
    assert not a.wants(PATH, FileInfo(path=PATH, kind="symlink"))
