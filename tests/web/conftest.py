"""Console test fixtures: a real ``hullscan server`` process on a free 127.0.0.1 port (first start: empty store,
the ``dbupdate`` task importing the small offline OSV set), Debian's Chromium driven by Playwright, and the
images every Image Security tab needs pushed to the basic-auth ``docker-registry`` fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.checks.test_malware import EICAR
from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import RegistryServer, free_port, push_image

ROOT = Path(__file__).resolve().parents[2]
OSV_DIR = ROOT / "tests" / "data" / "server" / "osv"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ADMIN, ADMIN_PW = "admin", "correct horse battery"
KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
       "-----END OPENSSH PRIVATE KEY-----\n")
URLLIB3_VULN = "CVE-2021-33503"  # the GHSA record's CVE alias is the finding's id (CVE-first identity)


@dataclass
class Console:
    """A running server process."""

    url: str
    log: Path
    data_dir: Path
    proc: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def setup_token(self) -> str:
        found = re.search(r"one-time setup token (\S+)\)", self.log_text())
        assert found, self.log_text()[-2000:]
        return found.group(1)


def start_console(tmp: Path, env: dict[str, str] | None = None, vulndata: Path | None = OSV_DIR) -> Console:
    """``python -m hullscan server`` on a free port with a fresh data dir; returns once /healthz answers."""
    port = free_port()
    log = tmp / "server.log"
    args = [sys.executable, "-m", "hullscan", "server", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(tmp / "data"), "--vuln-db", str(tmp / "data" / "vuln.db"), "--workers", "2"]
    if vulndata is not None:
        args += ["--vulndata", str(vulndata)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    full_env.pop("HULLSCAN_SECRET_KEY", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=str(tmp))
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return Console(url, log, tmp / "data", proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise AssertionError(f"server did not start: {log.read_text()[-3000:]}")


def stop_console(console: Console) -> None:
    console.proc.terminate()
    try:
        console.proc.wait(15)
    except subprocess.TimeoutExpired:
        console.proc.kill()
        console.proc.wait(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def all_tabs_image() -> ImageBuilder:
    """One image with a finding in every Image Security tab: a vulnerable Python package, root user and no
    HEALTHCHECK (baseline), EICAR (malicious), an SSH key (sensitive) and ``curl | sh`` (build command)."""
    base = "/usr/local/lib/python3.11/site-packages/urllib3-1.26.4.dist-info"
    image = ImageBuilder().add_layer({
        f"{base}/METADATA": "Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\nSummary: urllib3\n",
        f"{base}/INSTALLER": "pip\n", f"{base}/RECORD": "urllib3/__init__.py,,\n",
        "/usr/local/lib/python3.11/site-packages/urllib3/__init__.py": "__version__ = '1.26.4'\n",
        "/root/.ssh/id_rsa": KEY,
        "/opt/samples/eicar.com": EICAR,
    }, created_by="COPY . /")
    image.add_history("RUN curl -sSL https://example.com/install.sh | sh")
    return image


@pytest.fixture(scope="module")
def pushed(basic_registry: RegistryServer) -> dict[str, str]:
    """The test images in the basic-auth registry (repository -> reference)."""
    return {"console/app": push_image(basic_registry, all_tabs_image(), "console/app", "1.0")}
