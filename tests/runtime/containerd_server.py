"""A real containerd (Debian's) on a private socket, root and state directory, started by a test fixture.

The test image holds a real dynamically linked ``/bin/sleep`` (with its loader and libc from this machine) and a dpkg
database, so a container made from it can also be started where the sandbox lets runc run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.imagebuild import F, ImageBuilder

CONFIG = """version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
"""
STATUS = """Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: coreutils
Status: install ok installed
Priority: required
Essential: yes
Section: utils
Installed-Size: 18062
Maintainer: Michael Stone <mstone@debian.org>
Architecture: amd64
Version: 9.1-1
Description: GNU core utilities

"""


def runnable_image() -> ImageBuilder:
    """A small runnable Debian-like image: /bin/sleep with its libraries, os-release and a dpkg status."""
    b = ImageBuilder()
    files: dict[str, bytes | str | F] = {}
    for p in ("/bin/sleep", "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"):
        if Path(p).exists():
            files[p.lstrip("/")] = F(Path(p).resolve().read_bytes(), mode=0o755)
    b.add_layer(files, created_by="COPY sleep and libc")
    b.add_layer({"etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
                 "var/lib/dpkg/status": STATUS}, created_by="RUN dpkg")
    return b


@dataclass
class Containerd:
    sock: str
    root: Path

    def ctr(self, namespace: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", "-a", self.sock, "-n", namespace, *args], capture_output=True, text=True,
                              check=check, timeout=120)


def containerd_skip_reason() -> str:
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        return "containerd is not installed (apt-get install containerd)"
    if os.geteuid() != 0:
        return "containerd needs root"
    return ""


def start_containerd() -> Iterator[Containerd]:
    reason = containerd_skip_reason()
    if reason:
        print(f"SKIP containerd tests: {reason}")
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="hs-ctd-"))  # short: a unix socket path has at most 107 bytes
    sock = str(base / "c.sock")
    config = base / "config.toml"
    config.write_text(CONFIG.format(root=base / "root", state=base / "state", sock=sock))
    log = open(base / "log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["containerd", "--config", str(config), "--address", sock, "--root", str(base / "root"),
                             "--state", str(base / "state")], stdout=log, stderr=subprocess.STDOUT)
    server = Containerd(sock, base)
    try:
        end = time.monotonic() + 30
        while subprocess.run(["ctr", "-a", sock, "version"], capture_output=True, check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"containerd did not start: {(base / 'log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        # tasks first (their shims outlive containerd), then containerd itself
        for ns in subprocess.run(["ctr", "-a", sock, "namespaces", "ls", "-q"], capture_output=True, text=True,
                                 check=False).stdout.split():
            for task in server.ctr(ns, "tasks", "ls", "-q", check=False).stdout.split():
                server.ctr(ns, "tasks", "kill", "-s", "SIGKILL", task, check=False)
                for _ in range(50):
                    if server.ctr(ns, "tasks", "rm", "-f", task, check=False).returncode == 0:
                        break
                    time.sleep(0.1)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(base / "state")], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
