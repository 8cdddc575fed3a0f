"""ClamAV through a real ``clamd`` (Debian clamav-daemon), end to end through ``hullscan image --clamd-socket``.

clamd runs on a unix socket in the test's temp folder with a one-entry hash database (``.hdb``: md5, size,
name) for a payload no YARA rule of ours matches, so the detection can only come from clamd."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.imagebuild import ImageBuilder

PAYLOAD = b"hullscan clamd end-to-end payload: not malware, named by our own .hdb signature\n"
SIGNATURE = "Hullscan.Test.Payload"

pytestmark = pytest.mark.skipif(shutil.which("clamd") is None, reason="clamd (clamav-daemon) not installed")


@pytest.fixture(scope="module")
def clamd_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("clamd")
    (root / "db").mkdir()
    (root / "db" / "test.hdb").write_text(f"{hashlib.md5(PAYLOAD).hexdigest()}:{len(PAYLOAD)}:{SIGNATURE}\n")
    sock = root / "clamd.sock"
    (root / "clamd.conf").write_text(f"LocalSocket {sock}\nDatabaseDirectory {root / 'db'}\nForeground yes\nLogFile {root / 'clamd.log'}\n")
    proc = subprocess.Popen([shutil.which("clamd") or "clamd", "-c", str(root / "clamd.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"clamd did not start: {(root / 'clamd.log').read_text(errors='replace')[-500:]}")
            time.sleep(0.1)
        yield str(sock)
    finally:
        proc.terminate()
        proc.wait(10)


def test_hullscan_image_with_real_clamd(clamd_socket: str, tmp_path: Path) -> None:
    b = ImageBuilder()
    b.add_layer({"opt/tool/payload.dat": PAYLOAD, "opt/tool/readme.txt": "hello\n"})
    b.write_oci_layout(tmp_path / "img")
    proc = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", "--input", str(tmp_path / "img"), "--scanners", "malware",
                           "--clamd-socket", clamd_socket, "--no-cache", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    hits = [f for f in report["findings"] if f["id"] == "malware-clamav"]
    assert [f["location"]["path"] for f in hits] == ["/opt/tool/payload.dat"]
    assert SIGNATURE in hits[0]["title"] and hits[0]["category"] == "malicious"
    assert not report.get("warnings")
    # without clamd the payload is clean: the finding above came from clamd
    plain = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", "--input", str(tmp_path / "img"), "--scanners", "malware",
                            "--no-cache", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert not [f for f in json.loads(plain.stdout)["findings"] if f["category"] == "malicious"]
