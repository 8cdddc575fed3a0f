"""Fixtures of the fix tests: real apt repositories served on 127.0.0.1 and a dpkg-installed Debian image."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fix import debrepo as d
from tests.helpers.imagebuild import ImageBuilder, tar_dir
from tests.vulndb.fixtures import build_db

TRACKER = {"hello-lib": {"CVE-2099-1111": {
    "description": "hello-lib: buffer overflow in hello_version()", "scope": "remote",
    "releases": {"bookworm": {"status": "resolved", "repositories": {"bookworm": "1.0-2"},
                              "fixed_version": "1.0-2", "urgency": "high"}}}}}
OS_RELEASE = ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
              'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n')

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dpkg-deb", "dpkg-scanpackages", "apt-ftparchive", "gpg", "gpgv", "gcc")),
    reason="needs dpkg-dev, apt-utils, gnupg, gpgv and gcc (scripts/setup installs them)")


@dataclass
class DebianWorld:
    """Everything the Debian fix tests share."""

    work: Path
    server: d.RepoServer
    signer: d.Signer
    other: d.Signer
    root: Path  # the old root filesystem, as dpkg left it
    image: Path  # OCI archive of it
    builder: ImageBuilder
    db: Path
    new_debs: list[Path]  # libhello1 and libhello-common 1.0-2

    def source(self, repo: str) -> str:
        """``--apt-source`` for one of the repositories."""
        return f"deb {self.server.url}/{repo} stable main"


@pytest.fixture(scope="session")
def debian_world() -> Iterator[DebianWorld]:
    if not all(shutil.which(t) for t in ("dpkg-deb", "dpkg-scanpackages", "apt-ftparchive", "gpg", "gpgv", "gcc")):
        pytest.skip("needs dpkg-dev, apt-utils, gnupg, gpgv and gcc")
    work = Path(tempfile.mkdtemp(prefix="hullscan-fix-tests-"))
    signer = d.Signer.make(work / "gpg-repo", "repo@hullscan.invalid")
    other = d.Signer.make(work / "gpg-other", "other@hullscan.invalid")
    build = work / "build"
    libc = d.build_deb(d.libc_package(), work / "debs-base", build)
    old = [d.build_deb(p, work / "debs-base", build) for p in d.packages(work, "1.0-1", only_in_old=True)]
    new = [d.build_deb(p, work / "debs-new", build) for p in d.packages(work, "1.0-2", postinst=True)]
    newer = [d.build_deb(p, work / "debs-newer", build) for p in d.packages(work, "1.0-3", postinst=True)]
    unsat = [d.build_deb(p, work / "debs-unsat", build)
             for p in d.packages(work, "1.0-2", lib_depends="libmissing (>= 1)")]
    breaking = [d.build_deb(p, work / "debs-breaks", build)
                for p in d.packages(work, "1.0-2", extra="Breaks: hello-bin (<< 1.0-2)")]
    soname = [d.build_deb(d.Pkg("libhello2", "1.0-2", {f"{d.LIBDIR}/libhello.so.2": b"v2"}, "libc6", "hello-lib",
                                multi_arch="same"), work / "debs-soname", build)]
    repos = work / "repos"
    d.make_repo(repos / "breaks", [libc, *old, *breaking], signer)
    d.make_repo(repos / "soname", [libc, *old, *soname], signer)
    d.make_repo(repos / "good", [libc, *old, *new], signer)
    d.make_repo(repos / "newer", [libc, *old, *new, *newer], signer)
    d.make_repo(repos / "absent", [libc, *old], signer)
    d.make_repo(repos / "unsat", [libc, *old, *unsat], signer)
    d.make_repo(repos / "badsig", [libc, *old, *new], other)
    d.make_repo(repos / "tampered", [libc, *old, *new], signer)
    deb = repos / "tampered" / "pool" / "main" / new[0].name
    data = bytearray(deb.read_bytes())
    data[-100] ^= 0xFF  # same size, other bytes: the signed index's SHA256 no longer matches
    deb.write_bytes(bytes(data))
    server = d.RepoServer(repos)
    root = work / "root"
    d.merged_usr(root)
    d.dpkg_install(root, [libc, *old])
    (root / "etc" / "apt" / "trusted.gpg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "apt" / "trusted.gpg.d" / "hullscan-test.gpg").write_bytes(signer.public_key())
    (root / "etc" / "apt" / "sources.list").write_text(f"# the test repository\ndeb {server.url}/good stable main\n")
    (root / "usr" / "lib" / "os-release").write_text(OS_RELEASE)
    (root / "etc" / "os-release").symlink_to("../usr/lib/os-release")
    builder = ImageBuilder().add_layer(tar_dir(root), created_by="debootstrap-like base with libhello 1.0-1")
    builder.add_history("CMD [\"/usr/bin/hello\"]")
    image = work / "image.tar"
    builder.write_oci_archive(image, tag="v1")
    db = build_db(work / "db", {"tracker/json": TRACKER})
    world = DebianWorld(work, server, signer, other, root, image, builder, db, new[:2])
    yield world
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
