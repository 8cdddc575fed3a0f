"""Hostile inputs found by hand against the CLI: each ends in a report with warnings or one error line, exit 2."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from hullscan.errors import DigestMismatchError
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.helpers.imagebuild import ImageBuilder, make_tar

OS_RELEASE = 'ID=debian\nVERSION_ID="12"\n'


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HULLSCAN_DEBUG"}
    return subprocess.run([sys.executable, "-m", "hullscan.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd, check=False)


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def docker_archive(path: Path, layer_blobs: list[bytes], diff_ids: list[str]) -> None:
    """A ``docker save`` archive whose layer members are stored as given (compressed or not)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    members = {"config.json": config}
    names = []
    for i, blob in enumerate(layer_blobs):
        names.append(f"l{i}/layer.tar")
        members[names[-1]] = blob
    members["manifest.json"] = json.dumps([{"Config": "config.json", "RepoTags": ["t:1"], "Layers": names}]).encode()
    write_tar(path, members)


DPKG_STATUS = (
    b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\nSource: glibc\n\n"
    b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\nSource: zlib\n"
)


def dpkg_layer() -> bytes:
    return make_tar({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS})


def test_compressed_docker_layer_claiming_a_known_diff_id_cannot_poison_the_cache(tmp_path):
    """A gzip layer in a docker archive is verified against its diff_id, so a hostile archive claiming a
    real layer's diff_id neither scans nor leaves a cached (empty) result that the real image would reuse."""
    opts = ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset())
    legit = ImageBuilder().add_layer(dpkg_layer(), compression="none")
    legit.write_docker_archive(tmp_path / "legit.tar")
    diff_id = legit.layers[0].diff_id
    docker_archive(tmp_path / "evil.tar", [gzip.compress(make_tar({"etc/os-release": OS_RELEASE}))], [diff_id])
    with pytest.raises(DigestMismatchError, match="l0/layer.tar: digest mismatch"):
        scan(str(tmp_path / "evil.tar"), opts)
    report = scan(str(tmp_path / "legit.tar"), opts)
    assert sorted(p.name for p in report.packages) == ["libc6", "zlib1g"]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_docker_layers_with_true_diff_ids_scan(tmp_path, compression):
    tar = dpkg_layer()
    blob = gzip.compress(tar) if compression == "gzip" else zstandard.ZstdCompressor().compress(tar)
    legit = ImageBuilder().add_layer(tar, compression="none")
    docker_archive(tmp_path / "img.tar", [blob], [legit.layers[0].diff_id])
    report = scan(str(tmp_path / "img.tar"), ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset()))
    assert sorted((p.name, p.version) for p in report.packages) == [("libc6", "2.36-9"), ("zlib1g", "1:1.2.13.dfsg-1")]
    assert report.os is not None and report.os.id == "debian"


def test_corrupt_compressed_docker_layer_is_one_error_line(tmp_path):
    tar = dpkg_layer()
    blob = gzip.compress(tar)
    legit = ImageBuilder().add_layer(tar, compression="none")
    docker_archive(tmp_path / "img.tar", [blob[: len(blob) // 2]], [legit.layers[0].diff_id])
    res = run_cli("image", str(tmp_path / "img.tar"), "--scanners", "none", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "l0/layer.tar" in res.stderr


@pytest.mark.parametrize("content", [os.urandom(4096), b"", b"just text\n"], ids=["random", "empty", "text"])
def test_a_file_that_is_no_archive_is_one_error_line(tmp_path, content):
    """tarfile's ReadError lists each method it tried over several lines: the user sees one line."""
    path = tmp_path / "image.tar"
    path.write_bytes(content)
    res = run_cli("image", str(path), "--scanners", "none", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2
    assert res.stderr == f"hullscan: error: {path}: not a readable tar archive (plain, gzip, bzip2 or xz)\n"


def test_a_tar_of_a_tar_is_named_as_neither_format(tmp_path):
    write_tar(tmp_path / "inner.tar", {"hello": b"x"})
    write_tar(tmp_path / "outer.tar", {"inner.tar": (tmp_path / "inner.tar").read_bytes()})
    res = run_cli("image", str(tmp_path / "outer.tar"), "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "neither a docker-save archive (manifest.json) nor an OCI archive (index.json)" in res.stderr


def test_a_pax_uid_of_5000_digits_is_walked_past(tmp_path):
    """int() refuses numbers of more than 4,300 digits: such a PAX uid must not end the scan."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(OS_RELEASE)
        info.pax_headers = {"uid": "9" * 5000, "gid": "7"}
        tar.addfile(info, io.BytesIO(OS_RELEASE.encode()))
    ImageBuilder().add_layer(buf.getvalue(), compression="none").write_oci_layout(tmp_path / "img")
    report = scan(str(tmp_path / "img"), ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset()))
    assert report.os is not None and report.os.id == "debian" and report.os.version_id == "12"


def test_an_index_pointing_at_a_missing_blob_is_one_error_line(tmp_path):
    b = ImageBuilder().add_layer({"etc/os-release": OS_RELEASE})
    b.write_oci_layout(tmp_path / "img")
    (tmp_path / "img" / "blobs" / "sha256" / b.digest.split(":")[1]).unlink()
    res = run_cli("image", str(tmp_path / "img"), "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2
    assert res.stderr == f"hullscan: error: blob {b.digest} missing from {tmp_path / 'img'}\n"


def test_an_archive_with_too_many_members_is_refused_before_it_fills_memory(tmp_path, monkeypatch):
    from hullscan.errors import ManifestError
    from hullscan.image import local

    legit = ImageBuilder().add_layer(dpkg_layer(), compression="none")
    legit.write_docker_archive(tmp_path / "img.tar")
    with tarfile.open(tmp_path / "img.tar", "a") as tar:
        for i in range(60):
            tar.addfile(tarfile.TarInfo(f"junk/{i}"))
    opts = ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset())
    assert len(scan(str(tmp_path / "img.tar"), opts).packages) == 2
    monkeypatch.setattr(local, "MAX_ARCHIVE_MEMBERS", 50)
    with pytest.raises(ManifestError, match=r"img.tar: more than 50 members: not an image archive"):
        scan(str(tmp_path / "img.tar"), opts)


@pytest.mark.parametrize("args", [["image", "x", "--no-such-flag"], ["image", "--scanners"], ["cache", "clean", "extra"]])
def test_usage_errors_exit_2_without_internal_error(args):
    """typer >= 0.26 raises its vendored click's exceptions: they were reported as 'internal error', exit 70."""
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    assert "Error:" in res.stderr


def test_limits_from_the_command_line(tmp_path):
    """Each limit can be set on the CLI; exceeding one is one error line naming the flag that raises it."""
    files = {f"data/f{i}": b"\0" * 40_000 for i in range(50)}
    ImageBuilder().add_layer({**files, "var/lib/dpkg/status": DPKG_STATUS, "etc/os-release": OS_RELEASE}).write_oci_layout(
        tmp_path / "img")
    base = ["image", str(tmp_path / "img"), "--scanners", "none", "-f", "json", "--no-cache",
            "--cache-dir", str(tmp_path / "c")]
    for flag, value, message in [
        ("--max-layer-size", "1MiB", "layer decompresses to more than 1048576 bytes (max_layer_bytes; raise it with --max-layer-size)"),
        ("--max-image-size", "1.5MB", "more than 1500000 uncompressed bytes in the image (max_total_bytes; raise it with --max-image-size)"),
        ("--max-entries", "10", "more than 10 tar entries (max_entries; raise it with --max-entries)"),
        ("--max-file-size", "lots", "--max-file-size 'lots': give a size such as 512MiB, 2GB or 1000000 (bytes)"),
    ]:
        res = run_cli(*base, flag, value)
        assert res.returncode == 2, (flag, res.stderr)
        assert res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    small = run_cli(*base, "--max-file-size", "100B")
    assert small.returncode == 0, small.stderr
    report = json.loads(small.stdout)
    assert report["packages"] == []
    assert [w["path"] for w in report["warnings"] if w["code"] == "size-limit"] == ["/var/lib/dpkg/status"]
    roomy = json.loads(run_cli(*base, "--max-layer-size", "3MiB", "--max-entries", "60", "--max-file-size", "1k").stdout)
    assert [p["name"] for p in roomy["packages"]] == ["libc6", "zlib1g"]


def test_contents_kept_for_hard_links_are_bounded(tmp_path, monkeypatch):
    """Files read by analyzers were all kept in memory until the end of their layer, in case a hard link
    pointed at them (775 MB for a scan of /root); now only up to a budget per layer."""
    import hullscan.scan as scan_module
    from tests.helpers.imagebuild import F

    stanza = b"Package: tool\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n"
    files: dict[str, bytes | F] = {"etc/os-release": OS_RELEASE}
    for i in range(5):  # wanted (and read) by the Python analyzer before the dpkg entries
        files[f"usr/lib/python3/dist-packages/p{i}-1.0.dist-info/METADATA"] = (
            f"Metadata-Version: 2.1\nName: p{i}\nVersion: 1.0\n\n".encode() + b"x" * 100_000)
    files["var/lib/dpkg/status.d/tool"] = stanza
    files["var/lib/dpkg/status.d/tool-copy"] = F(kind="hardlink", linkname="var/lib/dpkg/status.d/tool")
    ImageBuilder().add_layer(files).write_oci_layout(tmp_path / "img")
    opts = ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset(), use_cache=False)

    def dpkg_paths() -> list[str]:
        return sorted(p.path for p in scan(str(tmp_path / "img"), opts).packages if p.ecosystem == "deb")

    assert dpkg_paths() == ["/var/lib/dpkg/status.d/tool", "/var/lib/dpkg/status.d/tool-copy"]
    monkeypatch.setattr(scan_module, "_HARDLINK_KEEP_TOTAL", 100_100)  # filled by the first METADATA file
    assert dpkg_paths() == ["/var/lib/dpkg/status.d/tool"]


PEM = (b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MaZVYkH0FQ4IDYD\n"
       b"-----END RSA PRIVATE KEY-----\n")


@pytest.mark.parametrize("source", ["layer", "rootfs"])
def test_non_utf8_names_are_shown_escaped_in_every_format(tmp_path, source):
    """A name with bytes that are not UTF-8 came through as lone surrogates, which the SARIF writer could
    not encode (internal error, exit 70); now such bytes are shown as \\xff in every report."""
    raw_name = b"app/\xff\xfekey.pem"
    if source == "layer":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8",
                          errors="surrogateescape") as tar:
            for name, data in [("etc/os-release", OS_RELEASE.encode()), (os.fsdecode(raw_name), PEM)]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        ImageBuilder().add_layer(buf.getvalue()).write_oci_layout(tmp_path / "img")
    else:
        root = tmp_path / "img"
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "os-release").write_text(OS_RELEASE)
        (root / "app").mkdir()
        with open(os.path.join(os.fsencode(root), raw_name), "wb") as fh:
            fh.write(PEM)
    for fmt in ("json", "sarif", "table"):
        res = run_cli("image", str(tmp_path / "img"), "--scanners", "secret", "-f", fmt, "--no-cache",
                      "--cache-dir", str(tmp_path / "c"))
        assert res.returncode == 0, (fmt, res.stderr)
        assert "\\xff\\xfekey.pem" in res.stdout or "\\\\xff\\\\xfekey.pem" in res.stdout, fmt
    report = json.loads(run_cli("image", str(tmp_path / "img"), "--scanners", "secret", "-f", "json", "--no-cache",
                                "--cache-dir", str(tmp_path / "c")).stdout)
    paths = {f["location"]["path"] for f in report["findings"]}
    assert "/app/\\xff\\xfekey.pem" in paths
    json.dumps(report, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere


@pytest.mark.parametrize("kind", ["symlink-loop", "directory", "fifo"])
def test_a_layout_blob_that_is_no_regular_file_is_one_error_line(tmp_path, kind):
    """A symlink loop or a directory in blobs/ was an internal error (exit 70); a FIFO hung the scan."""
    b = ImageBuilder().add_layer({"etc/os-release": OS_RELEASE})
    b.write_oci_layout(tmp_path / "img")
    blob = tmp_path / "img" / "blobs" / "sha256" / b.layers[0].digest.split(":")[1]
    blob.unlink()
    {"symlink-loop": lambda: blob.symlink_to(blob), "directory": blob.mkdir, "fifo": lambda: os.mkfifo(blob)}[kind]()
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "--no-cache", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2, res.stderr
    reason = "Too many levels of symbolic links" if kind == "symlink-loop" else "not a regular file"
    assert res.stderr == f"hullscan: error: blob {b.layers[0].digest} in {tmp_path / 'img'}: {reason}\n"


def test_index_json_and_archives_that_are_pipes_are_refused_not_waited_on(tmp_path):
    b = ImageBuilder().add_layer({"etc/os-release": OS_RELEASE})
    b.write_oci_layout(tmp_path / "img")
    (tmp_path / "img" / "index.json").unlink()
    os.mkfifo(tmp_path / "img" / "index.json")
    os.mkfifo(tmp_path / "image.tar")
    for target, message in [(tmp_path / "img", f"{tmp_path / 'img'}/index.json: not a regular file"),
                            (tmp_path / "image.tar", f"{tmp_path / 'image.tar'}: not a regular file (a pipe or a device?)")]:
        res = run_cli("image", str(target), "--scanners", "none", "--cache-dir", str(tmp_path / "c"))
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr


def test_output_to_a_directory_is_refused_without_leaving_a_temporary_file(tmp_path):
    ImageBuilder().add_layer({"etc/os-release": OS_RELEASE}).write_oci_layout(tmp_path / "img")
    target = tmp_path / "reports"
    target.mkdir()
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "-o", str(target), "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2 and res.stderr == f"hullscan: error: cannot write {target}: it is a directory\n"
    assert not (tmp_path / "reports.tmp").exists() and list(target.iterdir()) == []
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "-o", str(tmp_path / "no" / "r.json"),
                  "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2 and "cannot write" in res.stderr and not (tmp_path / "no").exists()


def test_output_to_a_fifo_or_a_symlink_is_written_through_never_replaced(tmp_path):
    """``-o /dev/null`` as root replaced the device with a regular file (a temporary file renamed over it). A FIFO
    stands in for the device here: it stays a FIFO and its reader gets the report; a symlink stays a symlink."""
    import stat
    import threading

    ImageBuilder().add_layer({"etc/os-release": OS_RELEASE}).write_oci_layout(tmp_path / "img")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "-f", "json", "-o", str(fifo), "--cache-dir", str(tmp_path / "c"))
    reader.join(60)
    assert res.returncode == 0, res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and json.loads(got[0])["os"]["id"] == "debian"
    assert not (tmp_path / "pipe.tmp").exists()
    target = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "-f", "json", "-o", str(link), "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and json.loads(target.read_text())["os"]["id"] == "debian"


@pytest.mark.parametrize("prefix", ["", "./", "oci:", "dir:", "docker-archive:"])
def test_a_target_name_of_10000_characters_is_one_error_line(tmp_path, prefix):
    """Path.exists()/is_dir() raise OSError (ENAMETOOLONG) for such a name: it was an internal error, exit 70."""
    res = run_cli("image", prefix + "a" * 10_000, "--scanners", "none", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("hullscan: error: ") and res.stderr.count("\n") == 1
    assert "internal error" not in res.stderr


def test_an_unwritable_cache_folder_is_one_error_line(tmp_path):
    """A cache folder that is a file (or under /proc) was an internal error, exit 70."""
    ImageBuilder().add_layer({"etc/os-release": OS_RELEASE}).write_oci_layout(tmp_path / "img")
    (tmp_path / "file").write_text("not a folder")
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "--cache-dir", str(tmp_path / "file"))
    assert res.returncode == 2
    assert res.stderr == (f"hullscan: error: cache folder {tmp_path / 'file'}: cannot write (Not a directory): "
                          "pass --cache-dir DIR or --no-cache\n")
    res = run_cli("image", str(tmp_path / "img"), "--scanners", "none", "--cache-dir", str(tmp_path / "file"), "--no-cache")
    assert res.returncode == 0, res.stderr


def test_plain_docker_layer_claiming_a_known_diff_id_cannot_poison_the_cache(tmp_path):
    """An uncompressed layer is walked with seeks while a helper thread hashes it: a layer whose bytes are not its
    diff_id still fails the scan, and leaves no cached result for the real layer."""
    opts = ScanOptions(cache_dir=tmp_path / "cache", scanners=frozenset())
    legit = ImageBuilder().add_layer(dpkg_layer(), compression="none")
    legit.write_docker_archive(tmp_path / "legit.tar")
    diff_id = legit.layers[0].diff_id
    docker_archive(tmp_path / "evil.tar", [make_tar({"etc/os-release": OS_RELEASE})], [diff_id])
    with pytest.raises(DigestMismatchError, match="l0/layer.tar: digest mismatch"):
        scan(str(tmp_path / "evil.tar"), opts)
    report = scan(str(tmp_path / "legit.tar"), opts)
    assert sorted(p.name for p in report.packages) == ["libc6", "zlib1g"]


def test_plain_docker_layer_cut_inside_a_member_is_one_error_line(tmp_path):
    """The inner tar ends in the middle of a member's data: with seeks the walk cannot read past the stored
    member, and the error names the layer (no report from half a layer)."""
    tar = make_tar({"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS, "big.bin": os.urandom(200_000)})
    cut = tar[:tar.index(b"big.bin") + 512 + 50_000]
    diff_id = ImageBuilder().add_layer(tar, compression="none").layers[0].diff_id
    docker_archive(tmp_path / "img.tar", [cut], [diff_id])
    res = run_cli("image", str(tmp_path / "img.tar"), "--scanners", "none", "--cache-dir", str(tmp_path / "c"))
    assert res.returncode == 2, res.stdout
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert f"layer {diff_id}: truncated tar stream" in res.stderr
