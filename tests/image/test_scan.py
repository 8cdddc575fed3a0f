"""The scan pipeline over local sources: formats agree, the cache is used, corrupt and hostile input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from hullscan.errors import BlobError, DigestMismatchError, InputError, LimitExceededError, ManifestError
from hullscan.image.local import OCILayoutSource
from hullscan.model import Platform
from hullscan.options import Limits, ScanOptions
from hullscan.scan import scan
from tests.helpers.imagebuild import F, ImageBuilder, sha256

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n'


def options(tmp_path: Path, **kw) -> ScanOptions:
    kw.setdefault("scanners", frozenset())
    return ScanOptions(cache_dir=tmp_path / "cache", **kw)


def sample() -> ImageBuilder:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": OS_RELEASE, "etc/hostname": "a"}, created_by="ADD rootfs.tar /")
    b.add_layer({"etc/.wh.hostname": "", "opt/app/run.sh": F(b"#!/bin/sh\n", mode=0o755)}, compression="zstd",
                created_by="COPY run.sh /opt/app/")
    return b


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_every_local_format_gives_the_same_report(tmp_path):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    b.write_oci_archive(tmp_path / "oci.tar")
    b.write_docker_archive(tmp_path / "docker.tar")
    reports = [scan(str(tmp_path / p), options(tmp_path, use_cache=False)) for p in ("layout", "oci.tar", "docker.tar")]
    kinds = [r.artifact.kind for r in reports]
    assert kinds == ["oci-layout", "oci-archive", "docker-archive"]
    for r in reports:
        assert [layer.diff_id for layer in r.layers] == [layer.diff_id for layer in b.layers]
        assert [layer.created_by for layer in r.layers] == ["ADD rootfs.tar /", "COPY run.sh /opt/app/"]
        assert r.packages == reports[0].packages
    assert reports[0].artifact.digest == b.digest
    assert reports[2].artifact.config_digest == sha256(b.config_bytes())


def test_second_scan_reads_no_layer(tmp_path, monkeypatch):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    opened: list[str] = []
    original = OCILayoutSource.open_blob

    def observing(self, desc):
        opened.append(desc.digest)
        return original(self, desc)

    monkeypatch.setattr(OCILayoutSource, "open_blob", observing)
    first = scan(str(tmp_path / "layout"), options(tmp_path))
    assert sorted(opened) == sorted(layer.digest for layer in b.layers)
    opened.clear()
    second = scan(str(tmp_path / "layout"), options(tmp_path))
    assert opened == []
    assert second.packages == first.packages and second.os == first.os and second.warnings == first.warnings
    # a layer shared with another image is not read again either
    other = ImageBuilder(layers=[b.layers[0]], history=[b.history[0]])
    other.add_layer({"new": "x"})
    other.write_oci_layout(tmp_path / "other")
    scan(str(tmp_path / "other"), options(tmp_path))
    assert opened == [other.layers[1].digest]


@pytest.mark.parametrize("limits, message", [
    (Limits(max_layer_bytes=4096), "max_layer_bytes"),
    (Limits(max_total_bytes=8192), "max_total_bytes"),
    (Limits(max_entries=3), "max_entries"),
])
def test_limits_hold_for_a_layer_answered_from_the_cache(tmp_path, monkeypatch, limits, message):
    """A layer whose analysis is cached is held to the size limits as a fresh one is: a second scan with a lower
    limit fails as the first would have, though it reads no layer."""
    b = ImageBuilder()
    b.add_layer({"etc/os-release": OS_RELEASE, "opt/big": "x" * 20_000, "a": "1", "b": "2", "c": "3"})
    b.write_oci_layout(tmp_path / "layout")
    scan(str(tmp_path / "layout"), options(tmp_path))  # cached with the default limits
    with pytest.raises(LimitExceededError, match=message):
        scan(str(tmp_path / "layout"), options(tmp_path, limits=limits, use_cache=False))  # a fresh read fails
    opened: list[str] = []
    monkeypatch.setattr(OCILayoutSource, "open_blob", lambda self, desc: opened.append(desc.digest))
    with pytest.raises(LimitExceededError, match=message):
        scan(str(tmp_path / "layout"), options(tmp_path, limits=limits))
    assert opened == []  # answered from the cache, and still refused
    scan(str(tmp_path / "layout"), options(tmp_path))  # the default limits: the cached answer is used
    assert opened == []


def test_the_cli_size_limits_hold_for_a_cached_layer(tmp_path):
    b = ImageBuilder()
    b.add_layer({"etc/os-release": OS_RELEASE, "opt/big": "x" * 20_000})
    b.write_docker_archive(tmp_path / "img.tar")
    args = ["image", "--input", str(tmp_path / "img.tar"), "--scanners", "none", "-f", "json", "-q",
            "--cache-dir", str(tmp_path / "cache")]
    assert run_cli(*args).returncode == 0
    res = run_cli(*args, "--max-layer-size", "4KiB")
    assert res.returncode != 0 and "Traceback" not in res.stderr and res.stdout == ""
    assert "max_layer_bytes; raise it with --max-layer-size" in res.stderr and len(res.stderr.splitlines()) == 1


def test_cache_clean_command(tmp_path):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    scan(str(tmp_path / "layout"), options(tmp_path))
    res = run_cli("cache", "clean", "--cache-dir", str(tmp_path / "cache"))
    assert res.returncode == 0 and res.stdout.startswith("removed 2 cached layer result(s), ")
    assert not (tmp_path / "cache" / "layers").exists()


def test_platform_selection_from_an_index(tmp_path):
    amd, arm = ImageBuilder(architecture="amd64"), ImageBuilder(architecture="arm64")
    amd.add_layer({"arch": "amd64"})
    arm.add_layer({"arch": "arm64"})
    amd.write_oci_layout(tmp_path / "multi", index_of=[amd, arm])
    r = scan(str(tmp_path / "multi"), options(tmp_path, platform=Platform("linux", "arm64")))
    assert r.artifact.digest == arm.digest and r.artifact.platform.architecture == "arm64"
    with pytest.raises(ManifestError, match="no manifest for platform linux/s390x .*available: linux/amd64, linux/arm64"):
        scan(str(tmp_path / "multi"), options(tmp_path, platform=Platform("linux", "s390x")))


def test_tampered_blob_is_a_digest_mismatch(tmp_path):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    victim = b.layers[0]
    path = tmp_path / "layout" / "blobs" / "sha256" / victim.digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # flip a byte inside the gzip member: still the right size
    path.write_bytes(bytes(data))
    with pytest.raises((DigestMismatchError, BlobError), match=victim.digest.split(":")[1][:12]):
        scan(str(tmp_path / "layout"), options(tmp_path))
    res = run_cli("image", str(tmp_path / "layout"), "--scanners", "none", "--cache-dir", str(tmp_path / "c2"))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and res.stderr.startswith("hullscan: error: ")
    assert victim.digest.split(":")[1][:12] in res.stderr


def test_swapped_blob_content_is_detected_even_when_it_decompresses(tmp_path):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    victim, intruder = b.layers
    path = tmp_path / "layout" / "blobs" / "sha256" / victim.digest.split(":")[1]
    path.write_bytes(intruder.blob)
    with pytest.raises((DigestMismatchError, BlobError), match=victim.digest):
        scan(str(tmp_path / "layout"), options(tmp_path))


def test_truncated_blob(tmp_path):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    victim = b.layers[1]
    path = tmp_path / "layout" / "blobs" / "sha256" / victim.digest.split(":")[1]
    path.write_bytes(victim.blob[: len(victim.blob) // 2])
    with pytest.raises(BlobError, match="truncated"):
        scan(str(tmp_path / "layout"), options(tmp_path))


def _rewrite_manifest(layout: Path, manifest: bytes) -> None:
    (layout / "blobs" / "sha256" / sha256(manifest).split(":")[1]).write_bytes(manifest)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0].update(digest=sha256(manifest), size=len(manifest))
    (layout / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    "manifest, message",
    [
        (b"{not json", "not valid JSON"),
        (b'{"schemaVersion": 1, "name": "x"}', "unsupported schemaVersion 1"),
        (b'{"schemaVersion": 2, "config": {"digest": "sha256:abc", "size": 3}, "layers": []}', "invalid digest"),
        (b'{"schemaVersion": 2, "layers": "nope"}', "descriptor is not an object|'layers' missing"),
    ],
)
def test_malformed_manifest(tmp_path, manifest, message):
    b = sample()
    b.write_oci_layout(tmp_path / "layout")
    _rewrite_manifest(tmp_path / "layout", manifest)
    with pytest.raises(ManifestError, match=message):
        scan(str(tmp_path / "layout"), options(tmp_path))
    res = run_cli("image", str(tmp_path / "layout"), "--scanners", "none", "-q")
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def _gzip_zeros(n: int) -> bytes:
    """A gzip member of a tar holding one file of n zero bytes, built in chunks (a few MB compressed)."""
    import io
    import tarfile

    header = tarfile.TarInfo("var/lib/dpkg/status")
    header.size = n
    co = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [co.compress(header.tobuf(format=tarfile.PAX_FORMAT))]
    chunk = b"\0" * (1 << 22)
    left = n
    while left:
        step = min(left, len(chunk))
        out.append(co.compress(chunk[:step]))
        left -= step
    out.append(co.compress(b"\0" * (-n % 512 + 1024)))
    out.append(co.flush())
    del io
    return b"".join(out)


def _hostile(tmp_path: Path) -> Path:
    b = ImageBuilder()
    b.add_layer({
        "../../../tmp/hullscan-escape": "pwned",
        "/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
        "etc/os-release": OS_RELEASE,
        "link": F(kind="symlink", linkname="../../../../etc/shadow"),
        "hard": F(kind="hardlink", linkname="../../../etc/shadow"),
        "dev/kmem": F(kind="char"),
    })
    import gzip
    import hashlib
    import tarfile

    from tests.helpers.imagebuild import BuiltLayer

    bomb = _gzip_zeros(1 << 30)
    h = hashlib.sha256()
    with gzip.open(__import__("io").BytesIO(bomb)) as fh:  # diff_id = digest of the uncompressed tar
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    b.layers.append(BuiltLayer(bomb, "sha256:" + h.hexdigest(), "application/vnd.oci.image.layer.v1.tar+gzip"))
    b.history.append({"created_by": "bomb"})
    del tarfile
    b.write_oci_layout(tmp_path / "hostile")
    return tmp_path / "hostile"


@pytest.mark.slow
def test_hostile_image_is_scanned_with_entries_neutralised(tmp_path):
    layout = _hostile(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    work = tmp_path / "work"
    work.mkdir()
    res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(layout), "--scanners", "none", "-f", "json",
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, cwd=work, timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    codes = sorted(w["code"] for w in report["warnings"])
    assert codes.count("path-traversal") == 1 and codes.count("link-escape") == 2
    assert "absolute-path" in codes and "device-file" in codes
    # the 1 GiB dpkg status (zeros, a few MB compressed) is walked past, never read into memory
    assert any(w["code"] == "size-limit" and w["path"] == "/var/lib/dpkg/status" for w in report["warnings"])
    assert report["packages"] == []
    assert report["os"] and report["os"]["id"] == "debian"
    # nothing was written outside the cache: not beside the image, not in the cwd, not where ../ pointed
    after = sorted(str(p) for p in tmp_path.rglob("*") if not str(p).startswith(str(tmp_path / "cache")))
    assert after == before + [str(work)] or after == sorted(before + [str(work)])
    assert not Path("/tmp/hullscan-escape").exists()
    # a limit on total bytes holds and ends the scan with a clear error
    with pytest.raises(LimitExceededError, match="max_layer_bytes"):
        scan(str(layout), options(tmp_path, limits=Limits(max_layer_bytes=256 << 20), use_cache=False))


def test_rootfs_directory(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(OS_RELEASE)
    os.symlink("../../../../etc/shadow", root / "escape")
    r = scan(str(root), options(tmp_path))
    assert r.artifact.kind == "rootfs"
    assert [w.code for w in r.warnings] == ["link-escape"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["image", "/nonexistent/image.tar"], "/nonexistent/image.tar: no such file or directory"),
        (["image", "x", "--format", "pdf"], "unknown format 'pdf'"),
        (["image", "x", "--scanners", "vuln,typo"], "unknown scanner(s) typo"),
        (["image", "x", "--platform", "arm64"], "invalid platform 'arm64'"),
        (["image"], "give an image reference or --input PATH"),
        (["image", "--input", ""], "--input is empty"),
        (["image", "--input", " ", "x"], "--input is empty"),
        (["sbom", "--input", ""], "--input is empty"),
    ],
)
def test_cli_errors_are_one_line(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert message in res.stderr and len(res.stderr.splitlines()) == 1 and res.stdout == ""


def test_not_an_archive(tmp_path):
    (tmp_path / "x.tar").write_bytes(b"hello")
    with pytest.raises((InputError, BlobError), match="x.tar"):
        scan(str(tmp_path / "x.tar"), options(tmp_path))


def test_real_dpkg_database_end_to_end(tmp_path):
    """The machine's own dpkg database in a two-layer image: every package, with the layer that installed it."""
    status = Path("/var/lib/dpkg/status").read_bytes()
    stanzas = status.split(b"\n\n")
    base = b"\n\n".join(stanzas[: len(stanzas) // 2]) + b"\n"
    b = ImageBuilder()
    b.add_layer({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": base})
    b.add_layer({"var/lib/dpkg/status": status})
    b.write_docker_archive(tmp_path / "img.tar")
    r = scan(str(tmp_path / "img.tar"), options(tmp_path))
    want = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Package}|${Version}\n"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    installed = {(n, v) for line in want for st, n, v in [line.split("|")] if st.startswith("ii")}
    got = {(p.name, p.version) for p in r.packages if p.ecosystem == "deb"}
    assert got == installed
    in_base = {line.split(b"\n")[0].split(b": ", 1)[1].decode() for line in stanzas[: len(stanzas) // 2] if line.startswith(b"Package: ")}
    for p in r.packages:
        assert p.layer == (b.layers[0].diff_id if p.name in in_base else b.layers[1].diff_id), p.name
    assert r.os is not None and r.os.id == "debian" and r.os.version_id == "12"
    from packageurl import PackageURL

    for p in r.packages:
        purl = PackageURL.from_string(p.purl)
        assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", "debian", p.name, p.version)
        assert purl.qualifiers["distro"] == "debian-12"
