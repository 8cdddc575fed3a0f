"""``hullscan fix`` on a Debian image: real repositories (dpkg-deb, dpkg-scanpackages, apt-ftparchive, gpg),
served on 127.0.0.1; the patched image checked with the real dpkg, run in a chroot, rescanned, pushed to the real
``docker-registry`` and pulled back by digest; and the named refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.fix.output import ANN_BASE_DIGEST, ANN_FIXED, HISTORY_COMMENT
from hullscan.fix.service import FixOptions, fix_image
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.fix import debrepo as d
from tests.fix.conftest import DebianWorld
from tests.fix.oci import read_archive, unpack

ROOT = Path(__file__).resolve().parents[2]


def options(world: DebianWorld, tmp: Path, **kw: object) -> FixOptions:
    scan_opts = ScanOptions(db_path=world.db, cache_dir=tmp / "cache")
    return FixOptions(scan=scan_opts, **kw)  # type: ignore[arg-type]


def cli(*args: str, env_db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HULLSCAN_DB": str(env_db)}
    return subprocess.run([sys.executable, "-m", "hullscan", "fix", *args], check=False, capture_output=True, text=True,
                          env=env, timeout=300)


def status_stanzas(admin: Path) -> dict[str, str]:
    text = (admin / "status").read_text()
    return {chunk.split("\n", 1)[0].split(": ", 1)[1]: chunk for chunk in text.strip().split("\n\n")}


def test_fix_debian_image_end_to_end(debian_world: DebianWorld, tmp_path: Path) -> None:
    world = debian_world
    out = tmp_path / "patched.tar"
    log, vex = tmp_path / "fix.json", tmp_path / "vex.json"
    proc = cli(str(world.image), "--output", str(out), "--log", str(log), "--vex", str(vex),
               "--cache-dir", str(tmp_path / "cache"), env_db=world.db)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(log.read_text())
    assert doc["status"] == "patched"
    # the vulnerable library and the upgrade its new version needs
    assert {(u["name"], u["old"], u["new"]) for u in doc["upgraded"]} == {
        ("libhello1", "1.0-1", "1.0-2"), ("libhello-common", "1.0-1", "1.0-2")}
    assert {u["name"]: u["why"] for u in doc["upgraded"]}["libhello-common"] == "libhello1"
    assert doc["before"]["HIGH"] == 1 and doc["after"]["HIGH"] == 0
    assert doc["fixed_vulnerabilities"] == {"CVE-2099-1111": ["pkg:deb/debian/libhello1@1.0-2?arch=amd64&distro=debian-12"]} \
        or list(doc["fixed_vulnerabilities"]) == ["CVE-2099-1111"]
    assert doc["skipped_scripts"] == ["libhello1 1.0-2: postinst"]  # never run: recorded
    assert doc["whiteouts"] >= 1
    statement = json.loads(vex.read_text())["statements"][0]
    assert statement["vulnerability"]["name"] == "CVE-2099-1111" and statement["status"] == "fixed"
    assert doc["patched_digest"] in statement["products"][0]["@id"].replace("%3A", ":")

    manifest, config, blobs = read_archive(out)
    base_manifest = json.loads(world.builder.manifest_bytes())
    assert [lyr["digest"] for lyr in manifest["layers"][:-1]] == [lyr["digest"] for lyr in base_manifest["layers"]]
    assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == 2
    assert config["history"][-1]["comment"] == HISTORY_COMMENT
    assert manifest["annotations"][ANN_BASE_DIGEST] == world.builder.digest
    assert manifest["annotations"][ANN_FIXED] == "CVE-2099-1111"

    rootfs = unpack(manifest, blobs, tmp_path / "rootfs")
    admin = rootfs / "var" / "lib" / "dpkg"
    audit = subprocess.run(["dpkg", "--admindir", str(admin), "--audit"], check=False, capture_output=True, text=True)
    assert audit.returncode == 0 and audit.stdout == "", audit.stdout + audit.stderr
    query = subprocess.run(["dpkg-query", "--admindir", str(admin), "-W", "-f", "${Package} ${Version} ${Status}\n"],
                           capture_output=True, text=True, check=True).stdout
    assert "libhello1 1.0-2 install ok installed" in query
    assert "libhello-common 1.0-2 install ok installed" in query
    assert "hello-bin 1.0-1 install ok installed" in query
    # the old version's file is whited out, the new one's is there
    assert not (rootfs / "usr/share/libhello1/removed-later.txt").exists()
    assert (rootfs / "usr/share/libhello1/added-later.txt").read_text() == "new in 1.0-2\n"
    assert (rootfs / "lib").is_symlink() and os.readlink(rootfs / "lib") == "usr/lib"

    # exactly what the real dpkg leaves after installing the same packages over the old root
    reference = tmp_path / "reference"
    shutil.copytree(world.root, reference, symlinks=True)
    d.dpkg_install(reference, world.new_debs)
    ref_admin = reference / "var" / "lib" / "dpkg"
    ours, theirs = status_stanzas(admin), status_stanzas(ref_admin)
    assert ours == theirs
    for name in sorted(os.listdir(ref_admin / "info")):
        if name.startswith(("libhello1", "libhello-common")):
            assert (admin / "info" / name).read_bytes() == (ref_admin / "info" / name).read_bytes(), name
    ours_info = {n for n in os.listdir(admin / "info") if n.startswith(("libhello1", "libhello-common"))}
    assert ours_info == {n for n in os.listdir(ref_admin / "info") if n.startswith(("libhello1", "libhello-common"))}
    def tree(r: Path) -> list[str]:
        return sorted(str(p.relative_to(r)) for p in r.rglob("*") if "var/lib/dpkg" not in str(p))

    assert tree(rootfs) == tree(reference)

    # the program of the patched image runs and links the new library
    ran = subprocess.run(["chroot", str(rootfs), "/usr/bin/hello"], check=False, capture_output=True, text=True)
    if ran.returncode != 0 and "Operation not permitted" in ran.stderr:  # no CAP_SYS_CHROOT: the image's own loader
        loader = rootfs / "usr/lib64/ld-linux-x86-64.so.2"
        ran = subprocess.run([str(loader), "--library-path", str(rootfs / d.LIBDIR), str(rootfs / "usr/bin/hello")],
                             check=False, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hello from libhello 1.0-2\n"

    # the rescan of the written archive no longer reports the vulnerability
    report = scan(str(out), ScanOptions(db_path=world.db, cache_dir=tmp_path / "cache2", scanners=frozenset({"vuln"})))
    assert "CVE-2099-1111" not in {f.id for f in report.findings}
    before = scan(str(world.image), ScanOptions(db_path=world.db, cache_dir=tmp_path / "cache2",
                                                 scanners=frozenset({"vuln"})))
    assert "CVE-2099-1111" in {f.id for f in before.findings}


def test_patching_a_patched_image_replaces_its_patch_layer(debian_world: DebianWorld, tmp_path: Path) -> None:
    world = debian_world
    first = tmp_path / "first.tar"
    r1 = fix_image(str(world.image), options(world, tmp_path, output=first))
    assert r1.status == "patched", r1.message
    second = tmp_path / "second.tar"
    r2 = fix_image(str(first), options(world, tmp_path, output=second, apt_sources=[world.source("newer")]))
    assert r2.status == "patched", r2.message
    assert r2.replaced_patch_layer and r2.base_digest == world.builder.digest
    # every update since the original base, in one layer: from the base's 1.0-1 straight to 1.0-3
    assert {(u.name, u.old, u.new) for u in r2.upgraded} == {("libhello1", "1.0-1", "1.0-3"),
                                                             ("libhello-common", "1.0-1", "1.0-3")}
    manifest, config, blobs = read_archive(second)
    assert len(manifest["layers"]) == 2 and len(config["rootfs"]["diff_ids"]) == 2
    assert [h.get("comment") for h in config["history"]].count(HISTORY_COMMENT) == 1
    rootfs = unpack(manifest, blobs, tmp_path / "rootfs")
    query = subprocess.run(["dpkg-query", "--admindir", str(rootfs / "var/lib/dpkg"), "-W", "libhello1"],
                           capture_output=True, text=True, check=True).stdout
    assert query.split() == ["libhello1:amd64", "1.0-3"] or query.split()[-1] == "1.0-3"


def test_push_to_registry_and_pull_back_by_digest(debian_world: DebianWorld, registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.options import RegistryOptions
    from hullscan.registry.client import RegistryClient
    from tests.helpers.registry_server import push_image

    world = debian_world
    ref = push_image(registry, world.builder, "fix/hello", "v1")
    opts = options(world, tmp_path, push=f"{registry.host}/fix/hello")
    opts.scan = type(opts.scan)(db_path=world.db, cache_dir=tmp_path / "cache",
                                registry=RegistryOptions(insecure=True))
    result = fix_image(ref, opts)
    assert result.status == "patched", result.message
    assert result.pushed_to == f"{registry.host}/fix/hello@{result.patched_digest}"
    with RegistryClient(registry.host, RegistryOptions(insecure=True)) as client:
        assert "v1-patched" in client.tags("fix/hello")
        assert client.head_manifest("fix/hello", "v1") == world.builder.digest  # the original tag is untouched
        _, _, digest = client.get_manifest("fix/hello", result.patched_digest)
        assert digest == result.patched_digest
    pulled = scan(f"{registry.host}/fix/hello@{result.patched_digest}",
                  ScanOptions(db_path=world.db, cache_dir=tmp_path / "c2", scanners=frozenset({"vuln"}),
                              registry=RegistryOptions(insecure=True)))
    versions = {p.name: p.version for p in pulled.packages}
    assert versions["libhello1"] == "1.0-2" and versions["libhello-common"] == "1.0-2"
    assert "CVE-2099-1111" not in {f.id for f in pulled.findings}
    # the original tag is refused as a target unless asked
    proc = cli(ref, "--push", ref, "--insecure", "--cache-dir", str(tmp_path / "cache"), env_db=world.db)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr


def test_more_named_refusals(debian_world: DebianWorld, tmp_path: Path) -> None:
    """A new major version (the fixed source builds libhello2, not libhello1), an upgrade that breaks an installed
    package no newer version of which exists (would need its removal), and a release whose repositories are gone."""
    world = debian_world
    cases = {"soname": ("new-major-version", "builds libhello2 instead of libhello1"),
             "breaks": ("needs-removal", "breaks hello-bin 1.0-1"),
             "gone": ("release-end-of-life", "repositories of bookworm are gone")}
    for repo, (reason, words) in cases.items():
        source = world.source(repo) if repo != "gone" else f"deb {world.server.url}/good bookworm main"
        out = tmp_path / f"{repo}.tar"
        result = fix_image(str(world.image), options(world, tmp_path, output=out, apt_sources=[source]))
        assert (result.status, result.reason) == ("refused", reason), result.message
        assert words in result.message
        assert not out.exists()


@pytest.mark.parametrize(("repo", "reason"), [
    ("absent", "fixed-version-absent"),
    ("unsat", "unsatisfiable-dependency"),
    ("tampered", "checksum-mismatch"),
    ("badsig", "bad-signature"),
])
def test_refusals_write_and_push_nothing(debian_world: DebianWorld, registry, tmp_path: Path, repo: str,  # type: ignore[no-untyped-def]
                                         reason: str) -> None:
    from hullscan.options import RegistryOptions
    from hullscan.registry.client import RegistryClient
    from tests.helpers.registry_server import push_image

    world = debian_world
    out = tmp_path / "patched.tar"
    log = tmp_path / "fix.json"
    proc = cli(str(world.image), "--apt-source", world.source(repo), "--output", str(out), "--log", str(log),
               "--cache-dir", str(tmp_path / "cache"), env_db=world.db)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"fix refused: {reason}" in proc.stderr
    doc = json.loads(log.read_text())
    assert doc["status"] == "refused" and doc["reason"] == reason
    if reason in ("fixed-version-absent", "unsatisfiable-dependency"):
        assert [(u["package"], u["reason"]) for u in doc["unfixed"]] == [("libhello1", reason)]
    if reason == "bad-signature":
        assert "which is not in the trusted keyrings" in doc["message"]
    if reason == "checksum-mismatch":
        assert "libhello1_1.0-2" in doc["message"] and "SHA256" in doc["message"]
    assert not out.exists() and not list(tmp_path.glob("patched.tar*"))
    # and nothing is pushed
    ref = push_image(registry, world.builder, f"refuse/{repo}", "v1")
    pushed = cli(ref, "--apt-source", world.source(repo), "--push", f"{registry.host}/refuse/{repo}", "--insecure",
                 "--cache-dir", str(tmp_path / "cache"), env_db=world.db)
    assert pushed.returncode == 3
    with RegistryClient(registry.host, RegistryOptions(insecure=True)) as client:
        assert client.tags(f"refuse/{repo}") == ["v1"]


def test_keyring_option_trusts_another_key_and_deb822_sources(debian_world: DebianWorld, tmp_path: Path) -> None:
    """A repository signed by a key the image does not hold is accepted with --keyring (armored here), and a
    deb822 .sources file of the image is read."""
    world = debian_world
    armored = subprocess.run(["gpg", "--batch", "--homedir", str(world.other.home), "--armor", "--export",
                              world.other.email], capture_output=True, check=True).stdout
    key = tmp_path / "other.asc"
    key.write_bytes(armored)
    result = fix_image(str(world.image), options(world, tmp_path, output=tmp_path / "o.tar", keyrings=[key],
                                                 apt_sources=[world.source("badsig")]))
    assert result.status == "patched", result.message

    from tests.helpers.imagebuild import ImageBuilder, tar_dir

    root = tmp_path / "root"
    shutil.copytree(world.root, root, symlinks=True)
    (root / "etc/apt/sources.list").unlink()
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/hello.sources").write_text(
        f"Types: deb\nURIs: {world.server.url}/good\nSuites: stable\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/hello-archive-keyring.gpg\n")
    (root / "etc/apt/trusted.gpg.d/hullscan-test.gpg").unlink()
    (root / "usr/share/keyrings").mkdir(parents=True, exist_ok=True)
    (root / "usr/share/keyrings/hello-archive-keyring.gpg").write_bytes(world.signer.public_key())
    image = tmp_path / "deb822.tar"
    ImageBuilder().add_layer(tar_dir(root)).write_oci_archive(image)
    result = fix_image(str(image), options(world, tmp_path, output=tmp_path / "p.tar"))
    assert result.status == "patched", result.message
    assert result.repositories == [f"{world.server.url}/good stable: 12 package(s) for amd64"] or \
        result.repositories[0].startswith(f"{world.server.url}/good stable:")


def test_distroless_status_d_entries_are_updated(debian_world: DebianWorld, tmp_path: Path) -> None:
    """An image whose dpkg database is status.d/ (distroless): the package's entry and md5sums are replaced."""
    from tests.helpers.imagebuild import ImageBuilder, tar_dir

    world = debian_world
    root = tmp_path / "root"
    shutil.copytree(world.root, root, symlinks=True)
    admin = root / "var/lib/dpkg"
    stanzas = status_stanzas(admin)
    (admin / "status.d").mkdir()
    for name, chunk in stanzas.items():
        (admin / "status.d" / name).write_text("\n".join(ln for ln in chunk.splitlines()
                                                          if not ln.startswith("Status:")) + "\n")
        info = admin / "info" / (f"{name}:amd64.md5sums" if (admin / "info" / f"{name}:amd64.md5sums").exists()
                                 else f"{name}.md5sums")
        if info.exists():
            shutil.copy(info, admin / "status.d" / f"{name}.md5sums")
    shutil.rmtree(admin / "info")
    (admin / "status").unlink()
    image = tmp_path / "distroless.tar"
    ImageBuilder().add_layer(tar_dir(root)).write_oci_archive(image)
    out = tmp_path / "patched.tar"
    result = fix_image(str(image), options(world, tmp_path, output=out))
    assert result.status == "patched", result.message
    manifest, _, blobs = read_archive(out)
    rootfs = unpack(manifest, blobs, tmp_path / "rootfs")
    entry = (rootfs / "var/lib/dpkg/status.d/libhello1").read_text()
    assert "Version: 1.0-2" in entry and "Status:" not in entry
    sums = (rootfs / "var/lib/dpkg/status.d/libhello1.md5sums").read_text()
    assert "usr/share/libhello1/added-later.txt" in sums and "removed-later" not in sums
    assert not (rootfs / "usr/share/libhello1/removed-later.txt").exists()
    assert not (rootfs / "var/lib/dpkg/status").exists()
    report = scan(str(out), ScanOptions(db_path=world.db, cache_dir=tmp_path / "c", scanners=frozenset({"vuln"})))
    assert {p.name: p.version for p in report.packages}["libhello1"] == "1.0-2"
    assert "CVE-2099-1111" not in {f.id for f in report.findings}
