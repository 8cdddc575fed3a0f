"""``hullscan image <registry reference>`` end to end, in a real subprocess, against real registries.

Success gives the expected digest, layers and packages; every fault ends with exit code 2 and one line
on stderr naming the cause (never a traceback).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import (
    MALFORMED_MANIFEST,
    TEST_PASSWORD,
    TEST_USER,
    FaultProxy,
    RegistryServer,
    push_image,
    push_index,
)

ROOT = Path(__file__).resolve().parents[2]
APK_DB = ("P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nL:MIT\n\n"
          "P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nL:GPL-2.0-only\n\n")


def hullscan(*args: str, tmp: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess with its own cache dir and no ambient credentials."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HULLSCAN_", "DOCKER_CONFIG"))}
    full_env.update({"HULLSCAN_CACHE_DIR": str(tmp / "cache"), "HOME": str(tmp / "home"),
                     "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "hullscan.cli", "image", *args, "--scanners", "none", "--format",
                           "json", "--quiet"], capture_output=True, text=True, env=full_env, timeout=120)


def alpine_like(marker: str = "", arch: str = "amd64") -> ImageBuilder:
    b = ImageBuilder(architecture=arch)
    b.add_layer({"etc/os-release": 'ID=alpine\nVERSION_ID=3.19.1\nNAME="Alpine Linux"\n',
                 "lib/apk/db/installed": APK_DB}, created_by="ADD rootfs")
    b.add_layer({"app/marker": marker or uuid.uuid4().hex}, created_by="COPY app")
    return b


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_cli_scans_a_registry_image(registry: RegistryServer, tmp_path: Path) -> None:
    builder = alpine_like()
    name = f"cli/{uuid.uuid4().hex[:8]}"
    ref = push_image(registry, builder, name, "1.0")
    proc = hullscan(ref, "--insecure", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    art = report["artifact"]
    assert (art["name"], art["kind"], art["digest"], art["repository"], art["tag"]) == (
        ref, "registry", builder.digest, f"{registry.host}/{name}", "1.0")
    assert [(lyr["digest"], lyr["diff_id"], lyr["size"]) for lyr in report["layers"]] == [
        (lyr.digest, lyr.diff_id, len(lyr.blob)) for lyr in builder.layers]
    assert report["os"]["id"] == "alpine"
    assert sorted((p["name"], p["version"]) for p in report["packages"]) == [
        ("busybox", "1.36.1-r15"), ("musl", "1.2.4-r2")]
    assert {p["layer"] for p in report["packages"]} == {builder.layers[0].diff_id}


def test_cli_with_auth(token_registry: RegistryServer, basic_registry: RegistryServer, tmp_path: Path) -> None:
    t_ref = push_image(token_registry, alpine_like(), f"cli/{uuid.uuid4().hex[:8]}")
    assert_one_line_error(hullscan(t_ref, tmp=tmp_path), "does not speak TLS on this port", "--insecure")
    proc = hullscan(t_ref, "--insecure", "--username", TEST_USER, "--password", TEST_PASSWORD, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = hullscan(t_ref, "--insecure", tmp=tmp_path,
                    env={"HULLSCAN_USERNAME": TEST_USER, "HULLSCAN_PASSWORD": TEST_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(hullscan(t_ref, "--insecure", "--username", TEST_USER, "--password", "bad-pw", tmp=tmp_path),
                          "refused user 'hulltester'")
    b_ref = push_image(basic_registry, alpine_like(), f"cli/{uuid.uuid4().hex[:8]}")
    config = tmp_path / "docker.json"
    config.write_text(json.dumps({"auths": {basic_registry.host: {
        "auth": base64.b64encode(f"{TEST_USER}:{TEST_PASSWORD}".encode()).decode()}}}))
    assert basic_registry.ca_bundle
    proc = hullscan(b_ref, "--docker-config", str(config), "--ca-bundle", basic_registry.ca_bundle, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["artifact"]["name"] == b_ref
    assert_one_line_error(hullscan(b_ref, tmp=tmp_path), "TLS verification failed")
    error = assert_one_line_error(hullscan(b_ref, "--ca-bundle", basic_registry.ca_bundle, tmp=tmp_path), "401")
    assert TEST_PASSWORD not in error


def test_cli_platform(registry: RegistryServer, tmp_path: Path) -> None:
    amd, arm = alpine_like("amd", "amd64"), alpine_like("arm", "arm64")
    ref, _ = push_index(registry, [amd, arm], f"cli/{uuid.uuid4().hex[:8]}", "multi")
    proc = hullscan(ref, "--insecure", "--platform", "linux/arm64", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["artifact"]["digest"] == arm.digest
    assert report["artifact"]["platform"]["architecture"] == "arm64"
    assert_one_line_error(hullscan(ref, "--insecure", "--platform", "linux/mips64le", tmp=tmp_path),
                          "no manifest for platform linux/mips64le", "available: linux/amd64, linux/arm64")


FAST = ("--insecure", "--no-cache", "--retries", "2", "--max-retry-seconds", "0.3")


@pytest.mark.parametrize("fault,kw,match,needles", [
    ("status", {"status": 500}, "/manifests/", ("answered 500 Internal Server Error 3 times for GET /v2/",)),
    ("status", {"status": 503}, "/blobs/", ("answered 503 Service Unavailable 3 times for GET /v2/",)),
    ("status", {"status": 429, "retry_after": "0"}, "/manifests/", ("answered 429 Too Many Requests 3 times",)),
    ("hang", {"seconds": 3}, "/manifests/", ("timed out (read timeout 0.3s) 3 times",)),
    ("replace", {"body": MALFORMED_MANIFEST}, "/manifests/", ("manifest: not valid JSON",)),
    ("corrupt", {}, "LAYER", ("digest mismatch: expected",)),
    ("truncate", {}, "LAYER", ("truncated",)),
])
def test_cli_registry_faults(faulty_registry: FaultProxy, tmp_path: Path, fault: str, kw: dict, match: str,
                             needles: tuple[str, ...]) -> None:
    builder = alpine_like()
    name = f"cli/{uuid.uuid4().hex[:8]}"
    push_image(faulty_registry.upstream, builder, name)
    layer = builder.layers[0].digest
    faulty_registry.inject(fault, times=100, match=layer if match == "LAYER" else match, **kw)
    proc = hullscan(faulty_registry.ref(name), *FAST, "--request-timeout", "0.3", tmp=tmp_path)
    line = assert_one_line_error(proc, *needles)
    if match == "LAYER":
        assert layer in line


def test_cli_transient_faults_recover(faulty_registry: FaultProxy, tmp_path: Path) -> None:
    builder = alpine_like()
    name = f"cli/{uuid.uuid4().hex[:8]}"
    push_image(faulty_registry.upstream, builder, name)
    faulty_registry.inject("status", times=1, match="/manifests/", status=503)
    faulty_registry.inject("truncate", times=1, match=builder.layers[0].digest)
    faulty_registry.inject("status", times=1, match=builder.layers[1].digest, status=429, retry_after="0")
    proc = hullscan(faulty_registry.ref(name), *FAST, tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["artifact"]["digest"] == builder.digest
    assert len(report["packages"]) == 2
    assert faulty_registry.count("/manifests/") == 2
    assert faulty_registry.count(builder.layers[0].digest) == 2  # resumed once


def test_cli_bad_references(tmp_path: Path) -> None:
    assert_one_line_error(hullscan("Bad/Repo:tag", tmp=tmp_path), "invalid image reference 'Bad/Repo:tag'")
    assert_one_line_error(hullscan("https://127.0.0.1:1/x", tmp=tmp_path), "no scheme")
