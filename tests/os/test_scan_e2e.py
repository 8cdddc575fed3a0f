"""End to end through :func:`hullscan.scan.scan`: OCI images built with ImageBuilder from real
release files and package databases; distro resolution, purls, layer attribution, file owners,
whiteouts and damaged databases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hullscan.model import Distro, ScanReport
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.helpers.imagebuild import F, ImageBuilder

DATA = Path(__file__).resolve().parents[1] / "data" / "os"
OS_ANALYZERS = ("os/release", "os/dpkg", "os/apk", "os/rpm")
STATUS, INFO = Path("/var/lib/dpkg/status"), Path("/var/lib/dpkg/info")


def release_files(case: str) -> dict[str, bytes | str | F]:
    root = DATA / "release" / case / "rootfs"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def run(tmp_path: Path, image: ImageBuilder, use_cache: bool = True) -> ScanReport:
    layout = tmp_path / "image"
    if layout.exists():
        shutil.rmtree(layout)
    image.write_oci_layout(layout)
    options = ScanOptions(scanners=frozenset(), cache_dir=tmp_path / "cache", use_cache=use_cache,
                          analyzers=OS_ANALYZERS)
    return scan(str(layout), options)


def host_stanza(name: str) -> str:
    for chunk in STATUS.read_text().split("\n\n"):
        if chunk.startswith(f"Package: {name}\n") or f"\nPackage: {name}\n" in chunk:
            return chunk.strip() + "\n\n"
    raise LookupError(name)


def info_list(name: str) -> bytes:
    for candidate in (INFO / f"{name}.list", INFO / f"{name}:amd64.list"):
        if candidate.exists():
            return candidate.read_bytes()
    raise LookupError(name)


needs_dpkg = pytest.mark.skipif(not STATUS.is_file(), reason="needs a dpkg system")


@needs_dpkg
def test_debian_image_two_layers(tmp_path: Path) -> None:
    base = host_stanza("base-files") + host_stanza("libc6")
    image = ImageBuilder()
    image.add_layer({
        **release_files("debian-12"),
        "etc/os-release": F(kind="symlink", linkname="../usr/lib/os-release"),
        "var/lib/dpkg/status": base,
        "var/lib/dpkg/info/base-files.list": info_list("base-files"),
        "var/lib/dpkg/info/libc6:amd64.list": info_list("libc6"),
    })
    image.add_layer({
        "var/lib/dpkg/status": base + host_stanza("zlib1g"),
        "var/lib/dpkg/info/zlib1g:amd64.list": info_list("zlib1g"),
    })
    report = run(tmp_path, image)
    assert report.os == Distro(id="debian", version_id="12", name="Debian GNU/Linux",
                               pretty_name="Debian GNU/Linux 12 (bookworm)", codename="bookworm")
    pkgs = {p.name: p for p in report.packages}
    assert sorted(pkgs) == ["base-files", "libc6", "zlib1g"]
    first, second = (layer.diff_id for layer in report.layers)
    assert (pkgs["libc6"].layer, pkgs["base-files"].layer, pkgs["zlib1g"].layer) == (first, first, second)
    assert pkgs["libc6"].purl.startswith("pkg:deb/debian/libc6@") and pkgs["libc6"].purl.endswith(
        "?arch=amd64&distro=debian-12&upstream=glibc")
    assert any(f.endswith("/libc.so.6") for f in pkgs["libc6"].files)
    assert "/usr/lib/os-release" in pkgs["base-files"].files
    assert pkgs["zlib1g"].files and all(not f.endswith("/") for f in pkgs["zlib1g"].files)
    assert not [w for w in report.warnings if w.code == "malformed-file"]
    assert {p.name: p.status for p in report.plugins} == dict.fromkeys(OS_ANALYZERS, "ok")


@needs_dpkg
def test_distroless_image(tmp_path: Path) -> None:
    image = ImageBuilder().add_layer({
        **release_files("distroless-debian-12"),
        "var/lib/dpkg/status.d/base-files": host_stanza("base-files"),
        "var/lib/dpkg/status.d/base-files.md5sums": (INFO / "base-files.md5sums").read_bytes(),
        "var/lib/dpkg/status.d/netbase": host_stanza("netbase") if (INFO / "netbase.list").exists()
        else host_stanza("tzdata"),
    })
    report = run(tmp_path, image)
    assert report.os is not None and (report.os.id, report.os.name, report.os.version_id) == ("debian", "Distroless", "12")
    pkgs = {p.name: p for p in report.packages}
    assert len(pkgs) == 2 and "/usr/lib/os-release" in pkgs["base-files"].files
    assert all("distro=debian-12" in p.purl and p.purl.startswith("pkg:deb/debian/") for p in report.packages)
    assert pkgs["base-files"].path == "/var/lib/dpkg/status.d/base-files"


def test_alpine_image(tmp_path: Path) -> None:
    image = ImageBuilder().add_layer({
        **release_files("alpine-3.19"),
        "lib/apk/db/installed": (DATA / "apk" / "installed").read_bytes(),
    }, compression="zstd")
    report = run(tmp_path, image)
    assert report.os is not None and (report.os.id, report.os.version_id) == ("alpine", "3.19.1")
    zlib = next(p for p in report.packages if p.name == "zlib")
    assert zlib.purl == "pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19"
    assert len(report.packages) == 8 and {p.ecosystem for p in report.packages} == {"apk"}


@pytest.mark.parametrize(("case", "fixture", "db_path", "namespace"), [
    ("almalinux-9", "rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", "almalinux"),
    ("fedora-39", "rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite", "fedora"),
    ("centos-7", "Packages", "var/lib/rpm/Packages", "centos"),
    ("amazon-2", "Packages.be512", "var/lib/rpm/Packages", "amzn"),
    ("opensuse-leap-15.5", "Packages.db", "usr/lib/sysimage/rpm/Packages.db", "opensuse-leap"),
])
def test_rpm_images(tmp_path: Path, case: str, fixture: str, db_path: str, namespace: str) -> None:
    image = ImageBuilder().add_layer({**release_files(case), db_path: (DATA / "rpm" / fixture).read_bytes()})
    report = run(tmp_path, image)
    assert report.os is not None and report.os.id == namespace
    want = sorted(line.split("|")[0] for line in (DATA / "rpm" / "want.txt").read_text().splitlines())
    assert sorted(p.name for p in report.packages) == want
    lib = next(p for p in report.packages if p.name == "libhello")
    assert lib.purl == (f"pkg:rpm/{namespace}/libhello@2.0.1-7.el9?arch=x86_64"
                        f"&distro={namespace}-{report.os.version_id}&epoch=1")
    assert lib.path == "/" + db_path and lib.layer == report.layers[0].diff_id


def test_wolfi_usr_merged_image(tmp_path: Path) -> None:
    image = ImageBuilder().add_layer({
        **release_files("wolfi"),
        "lib": F(kind="symlink", linkname="usr/lib"),
        "usr/lib/apk/db/installed": (DATA / "apk" / "installed").read_bytes(),
    })
    report = run(tmp_path, image)
    assert report.os is not None and report.os.id == "wolfi"
    assert len(report.packages) == 8
    assert all(p.purl.startswith("pkg:apk/wolfi/") and "distro=wolfi-20230201" in p.purl for p in report.packages)
    assert {p.path for p in report.packages} == {"/usr/lib/apk/db/installed"}


def test_whiteout_removes_database_and_distro_file_precedence(tmp_path: Path) -> None:
    image = ImageBuilder()
    image.add_layer({**release_files("alpine-3.19"), "lib/apk/db/installed": (DATA / "apk" / "installed").read_bytes()})
    image.add_layer({"lib/apk/db/.wh.installed": b"", "etc/.wh.os-release": b""})
    report = run(tmp_path, image)
    assert report.packages == []
    assert report.os is not None and (report.os.id, report.os.version_id, report.os.pretty_name) == ("alpine", "3.19.1", "")


def test_damaged_databases_are_warnings_not_errors(tmp_path: Path) -> None:
    image = ImageBuilder().add_layer({
        **release_files("rocky-9"),
        "var/lib/rpm/rpmdb.sqlite": (DATA / "rpm" / "rpmdb.sqlite").read_bytes()[:5000],
        "var/lib/dpkg/status": b"\x00\x01garbage without fields\n",
        "lib/apk/db/installed": b"P:onlyname\n\n",
        "etc/alpine-release": b"\xff\xfe",
    })
    report = run(tmp_path, image)
    assert report.os is not None and report.os.id == "rocky"
    bad = sorted(w.path for w in report.warnings if w.code == "malformed-file")
    assert bad == ["/etc/alpine-release", "/lib/apk/db/installed", "/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite"]
    assert report.packages == []
    assert all(p.status == "ok" for p in report.plugins)


def test_second_scan_comes_from_cache(tmp_path: Path) -> None:
    image = ImageBuilder().add_layer({**release_files("alpine-3.19"),
                                      "lib/apk/db/installed": (DATA / "apk" / "installed").read_bytes()})
    cold = run(tmp_path, image)
    warm = run(tmp_path, image)
    assert warm.packages == cold.packages and warm.os == cold.os
