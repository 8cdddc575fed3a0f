"""``hullscan fix`` on an Alpine image: apk repositories built and signed by the test (openssl RSA keys), served on
127.0.0.1; the patched ``installed`` database, files and whiteouts checked, the rescan clean; refusals for a bad
index signature, a tampered package and a soname change."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hullscan.fix.service import FixOptions, fix_image
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.fix import apkrepo as a
from tests.fix.debrepo import RepoServer
from tests.fix.oci import read_archive, unpack
from tests.helpers.imagebuild import ImageBuilder
from tests.vulndb.fixtures import build_db

SECDB = {"distroversion": "v3.18", "reponame": "main", "packages": [
    {"pkg": {"name": "hello", "secfixes": {"1.0-r1": ["CVE-2099-2222"]}}}]}
OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n'


def lib(version: str, soname: str = "1", old: bool = False) -> a.Apk:
    files = {f"/usr/lib/libhello.so.{soname}": f"libhello {version}\n".encode(),
             "/usr/share/hello/README": f"hello {version}\n".encode()}
    files["/usr/share/hello/old.txt" if old else "/usr/share/hello/new.txt"] = b"x\n"
    return a.Apk("libhello", version, files, origin="hello", provides=[f"so:libhello.so.{soname}=1.0.0"],
                 depends=["musl"], post_install="" if old else "#!/bin/sh\nexit 0\n")


@dataclass
class AlpineWorld:
    work: Path
    server: RepoServer
    key: a.Key
    image: Path
    db: Path


@pytest.fixture(scope="module")
def alpine_world() -> Iterator[AlpineWorld]:
    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    work = Path(tempfile.mkdtemp(prefix="hullscan-fix-apk-"))
    key, other = a.Key.make(work / "keys", "hullscan-test-5f1a"), a.Key.make(work / "keys2", "stranger-77aa")
    musl = a.Apk("musl", "1.2.4-r2", {"/lib/ld-musl-x86_64.so.1": b"musl\n"}, provides=["so:libc.musl-x86_64.so.1=1"])
    prog = a.Apk("hello-bin", "1.0-r0", {"/usr/bin/hello": b"#!/bin/sh\necho hello\n"}, origin="hello-bin",
                 depends=["so:libhello.so.1"])
    old = [musl, lib("1.0-r0", old=True), prog]
    repos = work / "repos"
    a.make_repo(repos / "good", [*old, lib("1.0-r1")], key)
    a.make_repo(repos / "badsig", [*old, lib("1.0-r1")], key, index_key=other)
    a.make_repo(repos / "tampered", [*old, lib("1.0-r1")], key, tamper="libhello")
    a.make_repo(repos / "soname", [*old, lib("1.0-r1", soname="2")], key)
    server = RepoServer(repos)
    files: dict[str, bytes | str] = {"etc/os-release": OS_RELEASE, "etc/apk/repositories": f"{server.url}/good\n",
                                     f"etc/apk/keys/{key.name}": key.public.read_bytes(),
                                     "lib/apk/db/installed": a.installed_db(old)}
    for pkg in old:
        for path, data in pkg.files.items():
            files[path.lstrip("/")] = data
    image = work / "alpine.tar"
    ImageBuilder().add_layer(files).write_oci_archive(image, tag="3.18")
    db = build_db(work / "db", {"alpine/v3.18/main.json": SECDB})
    yield AlpineWorld(work, server, key, image, db)
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


def _opts(world: AlpineWorld, tmp: Path, **kw: object) -> FixOptions:
    return FixOptions(scan=ScanOptions(db_path=world.db, cache_dir=tmp / "cache"), **kw)  # type: ignore[arg-type]


def test_fix_alpine_image(alpine_world: AlpineWorld, tmp_path: Path) -> None:
    world = alpine_world
    out = tmp_path / "patched.tar"
    result = fix_image(str(world.image), _opts(world, tmp_path, output=out))
    assert result.status == "patched", result.message
    assert [(u.name, u.old, u.new) for u in result.upgraded] == [("libhello", "1.0-r0", "1.0-r1")]
    assert result.skipped_scripts == ["libhello 1.0-r1: .post-install"]
    assert result.before["HIGH"] + result.before["MEDIUM"] + result.before["UNKNOWN"] + result.before["LOW"] >= 1
    assert list(result.fixed_vulnerabilities) == ["CVE-2099-2222"]
    manifest, _, blobs = read_archive(out)
    rootfs = unpack(manifest, blobs, tmp_path / "rootfs")
    installed = (rootfs / "lib/apk/db/installed").read_text()
    stanza = next(s for s in installed.split("\n\n") if s.startswith("C:") and "P:libhello\n" in s)
    assert "V:1.0-r1" in stanza and "R:new.txt" in stanza and "R:old.txt" not in stanza
    assert f"Z:{a.q1(b'libhello 1.0-r1' + bytes([10]))}" in stanza
    assert "P:hello-bin\nV:1.0-r0" in installed  # untouched
    assert (rootfs / "usr/lib/libhello.so.1").read_text() == "libhello 1.0-r1\n"
    assert not (rootfs / "usr/share/hello/old.txt").exists()
    report = scan(str(out), ScanOptions(db_path=world.db, cache_dir=tmp_path / "c2", scanners=frozenset({"vuln"})))
    assert {p.name: p.version for p in report.packages}["libhello"] == "1.0-r1"
    assert "CVE-2099-2222" not in {f.id for f in report.findings}


@pytest.mark.parametrize(("repo", "reason", "words"), [
    ("badsig", "bad-signature", "stranger-77aa.rsa.pub, which is not among the trusted apk keys"),
    ("tampered", "checksum-mismatch", "datahash"),
    ("soname", "new-major-version", "so:libhello.so.1"),
])
def test_alpine_refusals(alpine_world: AlpineWorld, tmp_path: Path, repo: str, reason: str, words: str) -> None:
    world = alpine_world
    out = tmp_path / "patched.tar"
    result = fix_image(str(world.image), _opts(world, tmp_path, output=out,
                                               apk_repositories=[f"{world.server.url}/{repo}"]))
    assert result.status == "refused" and result.reason == reason, (result.reason, result.message)
    assert words in result.message
    assert not out.exists()
