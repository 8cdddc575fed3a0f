"""``hullscan admin create``: errors are one line and exit 2; success prints a working token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_only  # the CLI / API schema, not the store's SQL


def hullscan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from hullscan.cli import main; main()", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_admin_create(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    ok = hullscan("admin", "create", "--data-dir", data, env={"HULLSCAN_ADMIN_PASSWORD": "first-admin-pw"})
    assert ok.returncode == 0, ok.stderr
    token = ok.stdout.strip().splitlines()[-1]
    assert token.startswith("hs_") and (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
    again = hullscan("admin", "create", "--data-dir", data, "--password", "first-admin-pw")
    assert again.returncode == 2 and again.stderr.strip() == "hullscan: error: user 'admin' already exists"
    short = hullscan("admin", "create", "--data-dir", data, "--username", "x", "--password", "short")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr and "Traceback" not in short.stderr
    from hullscan.server.auth import user_for_token
    from hullscan.server.runtime import ServerConfig, build_runtime

    rt = build_runtime(ServerConfig(data_dir=tmp_path / "data", scheduler=False))
    with rt.session() as s:
        user = user_for_token(s, token)
        assert user is not None and user.username == "admin" and user.role == "admin"


def test_a_malformed_secret_key_is_a_one_line_error(tmp_path: Path) -> None:
    bad = hullscan("admin", "create", "--data-dir", str(tmp_path / "data"), "--password", "first-admin-pw",
                   env={"HULLSCAN_SECRET_KEY": "not-a-key"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("hullscan: error: $HULLSCAN_SECRET_KEY is not a secret key")
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "secret.key").write_text("garbage\n")
    broken = hullscan("admin", "create", "--data-dir", str(tmp_path / "data"), "--password", "first-admin-pw")
    assert broken.returncode == 2 and "secret.key is not a secret key" in broken.stderr
