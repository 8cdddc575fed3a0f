"""dpkg analyzer on real databases: the test machine's own ``/var/lib/dpkg`` (compared with
``dpkg-query``), distroless ``status.d`` built from its real stanzas, and broken input."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.os import attach_distro
from hullscan.analyzers.os.dpkg import DpkgAnalyzer, parse_stanzas
from hullscan.model import Distro, FileInfo, Package
from hullscan.owners import join_owners

STATUS = Path("/var/lib/dpkg/status")
INFO = Path("/var/lib/dpkg/info")
needs_dpkg = pytest.mark.skipif(not (STATUS.is_file() and shutil.which("dpkg-query")), reason="needs a dpkg system")


def analyze(path: str, data: bytes) -> tuple[list[Package], list[str], dict[str, list[str]]]:
    analyzer = DpkgAnalyzer()
    assert analyzer.wants(path, FileInfo(path=path))
    res = analyzer.analyze(FileInput.from_bytes(path, data, layer="sha256:layer1"))
    return res.packages, [w.message for w in res.warnings], res.owners


def dpkg_query(fmt: str, *names: str) -> list[str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt, *names], capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if line)


def host_stanzas() -> dict[str, str]:
    """Raw stanzas of the host's status file, by package name."""
    out = {}
    for chunk in STATUS.read_text().split("\n\n"):
        for line in chunk.splitlines():
            if line.startswith("Package: "):
                out[line.split(": ", 1)[1]] = chunk.strip() + "\n"
    return out


@needs_dpkg
def test_host_status_matches_dpkg_query() -> None:
    packages, warnings, _ = analyze("/var/lib/dpkg/status", STATUS.read_bytes())
    assert warnings == []
    got = sorted(f"{p.name} {p.version} {p.source_name} {p.source_version} {p.arch}" for p in packages)
    want = dpkg_query("${db:Status-Status} ${Package} ${Version} ${source:Package} ${source:Version} ${Architecture}\\n")
    assert got == [w.split(" ", 1)[1] for w in want if w.startswith("installed ")]
    assert len(got) > 100
    by_name = {p.name: p for p in packages}
    libc = by_name["libc6"]
    assert libc.source_name == "glibc" and libc.found_by == "os/dpkg" and libc.layer == "sha256:layer1"
    assert libc.path == "/var/lib/dpkg/status" and libc.purl == f"pkg:deb/libc6@{libc.version.replace('+', '%2B')}?arch={libc.arch}&upstream=glibc"
    assert "libgcc-s1" in libc.depends
    assert ("maintainer", "GNU Libc Maintainers <debian-glibc@lists.debian.org>") in libc.extra


@needs_dpkg
@pytest.mark.parametrize("listfile", ["base-files.list", "libc6:amd64.list", "dpkg.list"])
def test_info_list_gives_owned_files_without_directories(listfile: str) -> None:
    path = INFO / listfile
    if not path.exists():
        pytest.skip(f"{listfile} not on this machine")
    _, warnings, owners = analyze(f"/var/lib/dpkg/info/{listfile}", path.read_bytes())
    name = listfile.removesuffix(".list").split(":")[0]
    assert warnings == [] and list(owners) == [f"deb:{name}"]
    files = owners[f"deb:{name}"]
    listed = [ln for ln in path.read_text().splitlines() if ln and ln != "/."]
    real_files = {p for p in listed if os.path.lexists(p) and not os.path.isdir(p)}
    assert set(files) >= real_files  # every file dpkg lists that is a file on disk
    # directories with listed content are dropped; a .list cannot tell an empty directory from a file
    dirs = [f for f in files if os.path.isdir(f) and not os.path.islink(f)]
    assert not [d for d in dirs if any(x.startswith(d + "/") for x in listed)]
    assert len(dirs) < len(files) / 2


@needs_dpkg
def test_distroless_status_d_from_real_stanzas(tmp_path: Path) -> None:
    stanzas = host_stanzas()
    names = [n for n in ("base-files", "libc6", "libssl3", "netbase", "tzdata", "zlib1g") if n in stanzas]
    assert len(names) >= 3
    packages: list[Package] = []
    owners: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        text = stanzas[name]
        if i % 2:  # distroless control files carry no Status line; keep it on half of them
            text = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("Status:"))
        got, warnings, _ = analyze(f"/var/lib/dpkg/status.d/{name}", text.encode())
        assert warnings == [] and [p.name for p in got] == [name]
        packages += got
        md5 = next((p for p in (INFO / f"{name}.md5sums", INFO / f"{name}:amd64.md5sums") if p.exists()), None)
        if md5 is not None:
            _, warnings, own = analyze(f"/var/lib/dpkg/status.d/{name}.md5sums", md5.read_bytes())
            assert warnings == [] and list(own) == [f"deb:{name}"]
            assert all(f.startswith("/") and not f.startswith("//") for f in own[f"deb:{name}"])
            owners.update(own)
    want = dpkg_query("${Package} ${Version} ${source:Package} ${source:Version}\\n", *names)
    assert sorted(f"{p.name} {p.version} {p.source_name} {p.source_version}" for p in packages) == want
    distro = Distro(id="debian", version_id="12", name="Distroless", pretty_name="Distroless", codename="bookworm")
    final = {p.name: p for p in attach_distro(join_owners(packages, owners), distro)}
    assert "/usr/lib/os-release" in final["base-files"].files
    assert final["libc6"].purl.startswith("pkg:deb/debian/libc6@") and "distro=debian-12" in final["libc6"].purl
    assert "upstream=glibc" in final["libc6"].purl


def test_status_states_and_broken_stanzas() -> None:
    text = (
        "Package: good\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\n"
        "Source: goodsrc (1:2.0-0.1)\nDepends: libc6 (>= 2.34), libfoo | libbar:any, dpkg:any\n"
        "Pre-Depends: init-system-helpers (>= 1.54~)\nDescription: fine\n multi-line\n .\n text\n\n"
        "Package: half\nStatus: install reinstreq half-installed\nVersion: 3\nArchitecture: all\n\n"
        "Package: removed\nStatus: deinstall ok config-files\nVersion: 4\nArchitecture: all\n\n"
        "Package: gone\nStatus: purge ok not-installed\nArchitecture: all\n\n"
        "Package: held\nStatus: hold ok installed\nVersion: 5\nArchitecture: amd64\nSource: heldsrc\n\n"
        "this line is not a field\nPackage: broken\nVersion: 9\n\n"
        "Package: noversion\nStatus: install ok installed\n\n"
    )
    packages, warnings, _ = analyze("/var/lib/dpkg/status", text.encode())
    assert [p.name for p in packages] == ["good", "half", "held"]
    good, half, held = packages
    assert (good.version, good.source_name, good.source_version) == ("1:2.0-1", "goodsrc", "1:2.0-0.1")
    assert good.depends == ("init-system-helpers", "libc6", "libfoo", "libbar", "dpkg")
    assert half.extra == (("dpkg-status", "half-installed"),)
    assert (held.source_name, held.source_version) == ("heldsrc", "5")
    assert len(warnings) == 1 and "/var/lib/dpkg/status" in warnings[0] and "2 malformed" in warnings[0]


@pytest.mark.parametrize("data", [b"\x00\x01\x02garbage\xff" * 50, b"Package\n", b"   leading continuation\n"])
def test_garbage_status_warns_and_never_raises(data: bytes) -> None:
    packages, warnings, _ = analyze("/var/lib/dpkg/status", data)
    assert packages == [] and len(warnings) == 1 and "/var/lib/dpkg/status" in warnings[0]


def test_wants() -> None:
    a = DpkgAnalyzer()
    yes = ["/var/lib/dpkg/status", "/var/lib/dpkg/status.d/libc6", "/var/lib/dpkg/status.d/libc6.md5sums",
           "/var/lib/dpkg/info/libc6:amd64.list"]
    no = ["/var/lib/dpkg/status-old", "/var/lib/dpkg/info/libc6:amd64.md5sums", "/var/lib/dpkg/status.d/x/y",
          "/var/lib/dpkg/available", "/usr/var/lib/dpkg/status"]
    assert all(a.wants(p, FileInfo(path=p)) for p in yes)
    assert not any(a.wants(p, FileInfo(path=p)) for p in no)
    assert not a.wants("/var/lib/dpkg/status", FileInfo(path="/var/lib/dpkg/status", kind="dir"))


def test_parse_stanzas_counts_continuations() -> None:
    stanzas, broken = parse_stanzas("A: 1\nB: x\n y\n\n\n\nA: 2\n")
    assert stanzas == [{"A": "1", "B": "x\ny"}, {"A": "2"}] and broken == 0


def test_a_field_of_a_million_continuation_lines_parses_in_linear_time() -> None:
    """Each continuation line was appended with ``+=`` to the field: quadratic, hours for a 64 MB status file."""
    import time

    lines = 1_000_000
    status = "Package: big\nStatus: install ok installed\nVersion: 1.0-1\nConffiles:\n" + " /etc/x 0123\n" * lines
    start = time.monotonic()
    res = DpkgAnalyzer().analyze(FileInput.from_bytes("/var/lib/dpkg/status", status.encode(), layer="sha256:l"))
    assert time.monotonic() - start < 15  # ~1 s now; the quadratic join took minutes at this size
    assert [(p.name, p.version) for p in res.packages] == [("big", "1.0-1")]
    stanzas, broken = parse_stanzas(status)
    assert broken == 0 and stanzas[0]["Conffiles"].count("\n") == lines
