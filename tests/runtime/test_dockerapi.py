"""``podman://`` / ``docker://`` sources and ``hullscan runtime podman`` against Debian's podman serving the
Docker-compatible API on a private socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.errors import ContainerRuntimeError, InputError
from hullscan.image.targets import open_source
from hullscan.options import ScanOptions
from hullscan.runtime.dockerapi import DockerAPIClient, DockerAPISource, default_socket
from hullscan.scan import scan
from tests.runtime.containerd_server import runnable_image
from tests.runtime.podman_server import Podman

IMAGE = "docker.io/test/runtime:1"
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def loaded(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The test image loaded through the API (``POST /images/load``), one container created from it and started
    where the sandbox allows."""
    work = tmp_path_factory.mktemp("podman")
    builder = runnable_image()
    builder.write_docker_archive(work / "image.tar", IMAGE)
    builder.write_oci_archive(work / "image-oci.tar", "1")
    with podman.http() as http:
        r = http.post("/images/load", content=(work / "image.tar").read_bytes(), headers={"Content-Type": "application/x-tar"})
        assert r.status_code == 200, r.text
        r = http.post("/containers/create", params={"name": "api-1"},
                      json={"Image": IMAGE, "Cmd": ["/bin/sleep", "600"], "HostConfig": {"NetworkMode": "none"}})
        assert r.status_code == 201, r.text
        started = http.post("/containers/api-1/start")
    if started.status_code >= 300:
        print(f"note: podman could not start the container here: {started.text[:300]}")
    return {"work": work, "started": started.status_code < 300}


def _options(tmp_path: Path) -> ScanOptions:
    return ScanOptions(scanners=frozenset(), cache_dir=tmp_path / "cache", use_cache=False, quiet=True)


def test_podman_source_gives_the_packages_of_the_oci_archive(podman: Podman, loaded: dict[str, object], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{podman.sock}")
    assert default_socket("podman") == f"unix://{podman.sock}"
    source = open_source(f"podman://{IMAGE}", _options(tmp_path))
    assert isinstance(source, DockerAPISource)
    report = scan(f"podman://{IMAGE}", _options(tmp_path), source=source)
    archive = scan(str(loaded["work"] / "image-oci.tar"), _options(tmp_path))  # type: ignore[operator]
    assert sorted((p.name, p.version) for p in report.packages) == sorted((p.name, p.version) for p in archive.packages)
    assert [p.name for p in report.packages] == ["coreutils", "libc6"]
    assert [layer.diff_id for layer in report.layers] == [layer.diff_id for layer in archive.layers]
    assert report.artifact.kind == "podman" and report.artifact.repository == "docker.io/test/runtime"
    with DockerAPIClient(podman.sock, "podman") as client:
        assert report.artifact.config_digest == client.inspect_image(IMAGE)["Id"]
    assert source._tmp is None  # the exported tar is deleted when the scan closes the source


def test_runtime_podman_lists_containers_and_scans_their_image(podman: Podman, loaded: dict[str, object],
                                                               tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "hullscan", "runtime", "podman", "--host", f"unix://{podman.sock}",
                          "--scanners", "none", "--no-cache", "-f", "json", "-q"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert [(c["id"], c["image"]) for c in doc["containers"]] == [("api-1", IMAGE)]
    if loaded["started"]:
        assert doc["containers"][0]["status"] == "running"
    assert doc["images"][0]["containers"] == ["api-1"]
    assert [p["name"] for p in doc["images"][0]["report"]["packages"]] == ["coreutils", "libc6"]


def test_docker_api_errors_are_clear(podman: Podman, loaded: dict[str, object], tmp_path: Path) -> None:
    with DockerAPIClient(podman.sock, "podman") as client, \
            pytest.raises(ContainerRuntimeError, match="image docker.io/test/absent:1: not found in podman"):
        client.inspect_image("docker.io/test/absent:1")
    with DockerAPIClient(str(tmp_path / "none.sock"), "docker") as client, \
            pytest.raises(ContainerRuntimeError, match="cannot reach the docker API at"):
        client.containers()
    with pytest.raises(ContainerRuntimeError, match="expected unix:///PATH"):
        DockerAPIClient("ftp://x", "docker")
    with pytest.raises(InputError, match="name an image"):
        open_source("docker://", _options(tmp_path))
    run = subprocess.run([sys.executable, "-m", "hullscan", "image", "podman://docker.io/test/absent:1", "--scanners",
                          "none", "--no-cache"], capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PYTHONPATH": SRC, "CONTAINER_HOST": f"unix://{podman.sock}"})
    assert run.returncode == 2 and "not found in podman" in run.stderr and "Traceback" not in run.stderr
