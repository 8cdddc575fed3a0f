"""Small holes closed: webhook URLs masked for non-admins, percent-encoded tokens redacted in the access log, NUL
in a path parameter refused, an open data folder and key file tightened."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from hullscan.server.jsonlog import JsonFormatter
from hullscan.server.runtime import Runtime, ServerConfig, build_runtime
from tests.server.conftest import admin_token


def test_webhook_urls_are_masked_for_viewers(api: Any, rt: Runtime) -> None:
    secret_urls = ["https://user:pa55@hooks.example.com/in", "https://hooks.example.com/services/T0/B0/s3cr3t",
                   "http://10.0.0.5:8080/hook?token=abc123"]
    version = api.get("/api/settings").json()["version"]
    assert api.put("/api/settings", json={"version": version, "settings": {"webhook_urls": secret_urls}}).status_code == 200
    assert api.get("/api/settings").json()["settings"]["webhook_urls"] == secret_urls  # the admin edits them
    for role in ("viewer", "operator"):
        shown = api.get("/api/settings", headers={"Authorization": f"Bearer {admin_token(rt, role, role)}"})
        text = shown.text
        assert "pa55" not in text and "s3cr3t" not in text and "abc123" not in text
        assert shown.json()["settings"]["webhook_urls"] == ["https://hooks.example.com/***", "https://hooks.example.com/***",
                                                            "http://10.0.0.5:8080/***"]


def test_percent_encoded_token_is_redacted_in_the_access_log() -> None:
    for path in ("/api/webhooks/quay?%74oken=hs_abc.DEF-1&x=1", "/api/webhooks/quay?x=1&t%6Fk%65n=hs_abc.DEF-1",
                 "/api/webhooks/quay?TOKEN=hs_abc.DEF-1"):
        record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/1.1" %d',
                                   ("127.0.0.1:5", "POST", path, 202), None)
        line = JsonFormatter().format(record)
        assert "hs_abc" not in line and "***" in line, line


def test_nul_in_a_path_parameter_is_4xx(api: Any) -> None:
    for path in ("/api/v1/scan/a%00b/report", "/api/tasks/1%00/logs", "/api/findings/%00"):
        resp = api.get(path)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)


def test_an_open_data_folder_and_key_file_are_tightened(tmp_path: Path, vulndb: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    key = data / "secret.key"
    from cryptography.fernet import Fernet

    key.write_bytes(Fernet.generate_key())
    os.chmod(key, 0o644)
    rt = build_runtime(ServerConfig(data_dir=data, vuln_db_path=vulndb, scheduler=False))
    rt.engine.dispose()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    store = data / "hullscan.db"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in data.glob("hullscan.db*"))
