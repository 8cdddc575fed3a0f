"""Issue 16.2: no output repeats a planted secret in clear. The image of tests/checks/planted.py is scanned
by the real CLI in every report format (and answered once more from the report cache); the report, standard
output and standard error and the cached report are searched for every clear value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.checks.masking import redact
from tests.checks.planted import CHPASSWD, CLEAR, DBPASS, FLAG, GITHUB, MYSQL, NPM, USERADD, planted_image

FORMATS = ("table", "json", "sarif", "cyclonedx", "spdx-json")


def _hullscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HULLSCAN_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300, check=False)


def test_redact_masks_build_passwords() -> None:
    line = (f"RUN |1 NPM_TOKEN={NPM} /bin/sh -c echo root:{CHPASSWD} | chpasswd && useradd -p {USERADD} app && "
            f"./configure --admin-password={FLAG} && mysql -uroot -p{MYSQL} # buildkit")
    out = redact(line)
    assert all(v not in out for v in (NPM, CHPASSWD, USERADD, FLAG, MYSQL)), out
    assert out.startswith("RUN |1 NPM_TOKEN=npm_") and "| chpasswd && useradd -p " in out and "mysql -uroot -p" in out
    assert redact(f"/bin/sh -c #(nop)  ARG DB_PASSWORD={DBPASS}") == "/bin/sh -c #(nop)  ARG DB_PASSWORD=Hu" + "*" * 10 + "r2"
    plain = "/bin/sh -c apt-get install -y mysql-client && useradd -m app"
    assert redact(plain) == plain


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_output_format_repeats_a_planted_secret(tmp_path: Path, fmt: str) -> None:
    planted_image().write_oci_archive(tmp_path / "img.tar")
    out = tmp_path / f"report.{fmt}"
    args = ("image", "oci-archive:img.tar", "--scanners", "all", "-f", fmt, "--cache-dir", str(tmp_path / "cache"))
    first = _hullscan(*args, "-o", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = _hullscan(*args, cwd=tmp_path)  # json: answered from the report cache; others: scanned again
    assert again.returncode == 0, again.stderr
    texts = {"report": out.read_text(), "stdout": again.stdout, "stderr": first.stderr + again.stderr}
    texts.update({str(p): p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*.json")
                  if "rules" not in p.relative_to(tmp_path / "cache").parts})  # the compiled rule cache quotes rule examples
    for where, text in texts.items():
        for value in CLEAR:
            assert value not in text, f"{value} in clear in the {fmt} {where}"
    if fmt == "json":
        report = json.loads(out.read_text())
        # the planted secrets were found, and every copy of the metadata is still there, masked
        ids = {f["id"] for f in report["findings"]}
        assert {"history-password-chpasswd", "history-password-useradd", "history-password-flag",
                "history-password-mysql", "history-secret-in-arg", "history-secret-arg-default",
                "history-secret-value-in-arg", "secret-github-pat", "secret-aws-access-key-id"} <= ids, ids
        assert report["config"]["entrypoint"][0] == "/app/run" and GITHUB[:4] in report["config"]["entrypoint"][1]
        assert "| chpasswd" in report["layers"][0]["created_by"] and "mysql -uroot -p" in report["layers"][1]["created_by"]
        assert len(report["config"]["history"]) == 6
