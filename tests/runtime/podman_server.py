"""Debian's podman serving the Docker-compatible API (``podman system service``) on a private socket, with private
storage (``--root``/``--runroot``, vfs driver) so nothing of the machine's own podman is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass
class Podman:
    sock: str
    base: Path

    def http(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=self.sock), base_url="http://podman/v1.41", timeout=120)


def start_podman() -> Iterator[Podman]:
    if shutil.which("podman") is None:
        reason = "podman is not installed (apt-get install podman)"
    elif os.geteuid() != 0:
        reason = "the podman fixture runs rootful podman with private storage (needs root)"
    else:
        reason = ""
    if reason:
        print(f"SKIP podman tests: {reason}")
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="hs-pod-"))
    sock = str(base / "p.sock")
    log = open(base / "log", "wb")  # noqa: SIM115 - closed below
    cmd = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--storage-driver", "vfs",
           "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", str(base / "tmp"),
           "system", "service", "--time=0", f"unix://{sock}"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    server = Podman(sock, base)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                with server.http() as http:
                    if http.get("/_ping").status_code == 200:
                        break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                reason = f"podman system service did not start here: {(base / 'log').read_text()[-500:]}"
                print(f"SKIP podman tests: {reason}")
                pytest.skip(reason)
            time.sleep(0.2)
        yield server
    finally:
        try:
            with server.http() as http:
                for row in http.get("/containers/json", params={"all": "1"}).json():
                    http.delete(f"/containers/{row['Id']}", params={"force": "1"})
        except (httpx.HTTPError, ValueError, TypeError):
            pass
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(base / "run")], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
