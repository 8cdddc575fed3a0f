"""The containerd source and ``hullscan runtime containerd`` against a real containerd (Debian's), through its gRPC API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.errors import ContainerRuntimeError, DigestMismatchError, InputError
from hullscan.image.targets import open_source
from hullscan.options import ScanOptions
from hullscan.runtime.containerd import ContainerdClient, ContainerdSource
from hullscan.scan import scan
from tests.runtime.containerd_server import Containerd, runnable_image

NS = "hstest"
IMAGE = "docker.io/test/runtime:1"
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def imported(containerd: Containerd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The test image imported into containerd (``ctr images import`` of a docker-save archive), two containers
    created from it, the first one started where the sandbox allows."""
    work = tmp_path_factory.mktemp("ctd")
    builder = runnable_image()
    builder.write_docker_archive(work / "image.tar", IMAGE)
    builder.write_oci_archive(work / "image-oci.tar", "1")
    containerd.ctr(NS, "images", "import", "--snapshotter", "native", str(work / "image.tar"))
    for cid in ("web-1", "web-2"):
        containerd.ctr(NS, "containers", "create", "--snapshotter", "native", IMAGE, cid, "/bin/sleep", "600")
    started = containerd.ctr(NS, "tasks", "start", "-d", "web-1", check=False)
    if started.returncode != 0:
        print(f"note: the container could not be started here (scanned while created only): {started.stderr.strip()}")
    return {"work": work, "started": started.returncode == 0, "builder": builder}


def _options(tmp_path: Path) -> ScanOptions:
    return ScanOptions(scanners=frozenset(), cache_dir=tmp_path / "cache", use_cache=False, quiet=True)


def _packages(report: object) -> list[tuple[str, str, str]]:
    return sorted((p.name, p.version, p.ecosystem) for p in report.packages)  # type: ignore[attr-defined]


def test_containerd_source_gives_the_packages_of_the_oci_archive(containerd: Containerd, imported: dict[str, object],
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINERD_ADDRESS", containerd.sock)
    target = f"containerd://{NS}/{IMAGE}"
    source = open_source(target, _options(tmp_path))
    assert isinstance(source, ContainerdSource)
    from_containerd = scan(target, _options(tmp_path), source=source)
    archive = str(imported["work"] / "image-oci.tar")  # type: ignore[operator]
    from_archive = scan(archive, _options(tmp_path))
    assert from_containerd.artifact.kind == "containerd"
    assert from_containerd.artifact.repository == "docker.io/test/runtime" and from_containerd.artifact.tag == "1"
    with ContainerdClient(containerd.sock, NS) as client:
        assert from_containerd.artifact.digest == client.image_target(IMAGE)[1].digest
    assert _packages(from_containerd) == _packages(from_archive) == [
        ("coreutils", "9.1-1", "deb"), ("libc6", "2.36-9+deb12u4", "deb")]
    assert from_containerd.os is not None and from_containerd.os.id == "debian"
    assert [layer.diff_id for layer in from_containerd.layers] == [layer.diff_id for layer in from_archive.layers]
    # a short name is found the way CRI stores it (docker.io/...:tag)
    short = scan("containerd://hstest/test/runtime:1", _options(tmp_path))
    assert _packages(short) == _packages(from_archive)


def test_containerd_client_lists_containers_with_their_images(containerd: Containerd, imported: dict[str, object]) -> None:
    with ContainerdClient(containerd.sock, NS) as client:
        containers = client.containers()
        assert [(c.id, c.image) for c in containers] == [("web-1", IMAGE), ("web-2", IMAGE)]
        assert containers[1].status == ""  # created, never started: no task
        if imported["started"]:
            assert containers[0].status == "running"
        # another namespace sees none of them (the containerd-namespace header scopes every call)
    with ContainerdClient(containerd.sock, "elsewhere") as other:
        assert other.containers() == []
        with pytest.raises(ContainerRuntimeError, match="not found in containerd namespace 'elsewhere'"):
            other.image_target(IMAGE)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, env=environ,
                          timeout=300, check=False)


def test_runtime_containerd_command_scans_each_image_once(containerd: Containerd, imported: dict[str, object],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "node.json"
    run = _cli("runtime", "containerd", "--namespace", NS, "--scanners", "none", "--format", "json", "--output",
               str(out), "--cache-dir", str(tmp_path / "cache"), env={"CONTAINERD_ADDRESS": containerd.sock})
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert doc["runtime"] == {"kind": "containerd", "address": containerd.sock, "namespace": NS}
    assert [(c["id"], c["image"]) for c in doc["containers"]] == [("web-1", IMAGE), ("web-2", IMAGE)]
    assert len(doc["images"]) == 1  # two containers, one image: scanned once
    image = doc["images"][0]
    assert image["containers"] == ["web-1", "web-2"]
    assert image["digest"] == doc["containers"][0]["image_digest"]
    assert sorted(p["name"] for p in image["report"]["packages"]) == ["coreutils", "libc6"]
    # the table names each container and its image
    table = _cli("runtime", "containerd", "--address", containerd.sock, "--namespace", NS, "--scanners", "none",
                 "--no-cache")
    assert table.returncode == 0, table.stderr
    assert "web-1" in table.stdout and "web-2" in table.stdout and f"=== image {IMAGE}" in table.stdout
    # SARIF: one run per image, naming its containers
    sarif = _cli("runtime", "containerd", "--address", containerd.sock, "--namespace", NS, "--scanners", "none",
                 "--no-cache", "-f", "sarif", "-q")
    assert json.loads(sarif.stdout)["runs"][0]["properties"]["containers"] == ["web-1", "web-2"]


def test_containerd_errors_are_one_clear_line(containerd: Containerd, imported: dict[str, object], tmp_path: Path) -> None:
    env = {"CONTAINERD_ADDRESS": containerd.sock}
    missing = _cli("image", f"containerd://{NS}/docker.io/test/absent:9", "--scanners", "none", "--no-cache", env=env)
    assert missing.returncode == 2
    assert "not found in containerd namespace 'hstest'" in missing.stderr and "Traceback" not in missing.stderr
    down = _cli("image", f"containerd://{NS}/{IMAGE}", "--scanners", "none", "--no-cache",
                env={"CONTAINERD_ADDRESS": str(tmp_path / "none.sock")})
    assert down.returncode == 2 and "cannot reach containerd at" in down.stderr
    with pytest.raises(InputError, match="expected containerd://NAMESPACE/IMAGE"):
        open_source("containerd://just-a-namespace", _options(tmp_path))
    node_down = _cli("runtime", "containerd", "--address", str(tmp_path / "none.sock"))
    assert node_down.returncode == 2 and "cannot reach containerd" in node_down.stderr


def test_a_corrupt_blob_in_the_content_store_is_caught(containerd: Containerd, tmp_path: Path) -> None:
    builder = runnable_image()
    builder.add_layer({"etc/marker": "corrupt me\n"}, compression="none")
    builder.write_docker_archive(tmp_path / "bad.tar", "docker.io/test/bad:1")
    containerd.ctr("hsbad", "images", "import", "--no-unpack", str(tmp_path / "bad.tar"))
    with ContainerdSource("docker.io/test/bad:1", "hsbad", containerd.sock) as source:
        resolved = source.resolve()
        last = resolved.layers[-1]
        blob = containerd.root / "root" / "io.containerd.content.v1.content" / "blobs" / "sha256" / last.digest[7:]
        data = bytearray(blob.read_bytes())
        data[600] ^= 0xFF
        blob.write_bytes(bytes(data))
        fh = source.open_blob(last)
        with pytest.raises(DigestMismatchError, match="digest mismatch"):
            while fh.read(65536):
                pass


def test_an_index_in_the_content_store_is_narrowed_to_one_platform(containerd: Containerd, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import tarfile

    from hullscan.model import Platform
    from tests.helpers.imagebuild import OCI_INDEX, OCI_MANIFEST, ImageBuilder

    amd = runnable_image()
    arm = ImageBuilder(architecture="arm64").add_layer({"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n",
                                                        "lib/apk/db/installed": "P:musl\nV:1.2.4_git20230717-r4\nA:aarch64\n\n"})
    layout = tmp_path / "multi"
    entries = []
    for builder in (amd, arm):
        builder.write_oci_layout(layout)
        manifest = builder.manifest_bytes()
        entries.append({"mediaType": OCI_MANIFEST, "digest": builder.digest, "size": len(manifest),
                        "platform": {"os": "linux", "architecture": builder.architecture}})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}))
    with tarfile.open(tmp_path / "multi.tar", "w") as tar:
        for p in sorted(layout.rglob("*")):
            tar.add(str(p), arcname=str(p.relative_to(layout)), recursive=False)
    containerd.ctr("hsmulti", "images", "import", "--no-unpack", "--all-platforms", "--index-name",
                   "docker.io/test/multi:1", str(tmp_path / "multi.tar"))
    options = _options(tmp_path)
    with ContainerdSource("docker.io/test/multi:1", "hsmulti", containerd.sock) as source:
        default = scan("containerd://hsmulti/docker.io/test/multi:1", options, source=source)
        assert source.index_digest != "" and default.artifact.digest == amd.digest
    assert [p.name for p in default.packages] == ["coreutils", "libc6"]
    from dataclasses import replace

    monkeypatch.setenv("CONTAINERD_ADDRESS", containerd.sock)
    arm_report = scan("containerd://hsmulti/docker.io/test/multi:1", replace(options, platform=Platform("linux", "arm64")))
    assert arm_report.artifact.digest == arm.digest and [p.name for p in arm_report.packages] == ["musl"]
