"""REST API: authentication and roles, registries (verification errors as 400 {code, message}, secrets never
returned nor stored in clear), settings versioning, whitelist validation, metrics and health."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hullscan.server.runtime import Runtime
from tests.server.conftest import admin_token
from tests.server.recorded import serve_recording


def harbor_body(base: str, **kw: Any) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    return {"name": "harbor", "type": "harbor", "version": "v2", "protocol": "http", "domain": host, "port": int(port),
            "username": "admin", "password": "Harbor12345", **kw}


def test_every_endpoint_but_health_requires_auth(api: Any) -> None:
    anon = {"Authorization": ""}
    assert api.get("/healthz", headers=anon).json()["status"] == "ok"
    docs = api.get("/docs", headers=anon)
    assert docs.status_code == 401 and docs.headers["WWW-Authenticate"].startswith("Basic")
    assert api.get("/openapi.json", headers=anon).status_code == 401
    assert api.get("/docs").status_code == 200 and "/api/findings" in api.get("/openapi.json").json()["paths"]
    basic = "Basic " + base64.b64encode(b"admin:correct horse battery").decode()
    assert api.get("/openapi.json", headers={"Authorization": basic}).status_code == 200
    for path in ("/api/registries", "/api/images", "/api/findings", "/api/tasks", "/api/settings", "/metrics",
                 "/api/quota", "/api/v1/metadata"):
        resp = api.get(path, headers=anon)
        assert resp.status_code == 401, path
        assert resp.json()["code"] == "Unauthorized"
    assert api.get("/api/registries", headers={"Authorization": "Bearer hs_not-a-token"}).status_code == 401


def test_roles_and_password_login(api: Any, rt: Runtime) -> None:
    viewer = {"Authorization": f"Bearer {admin_token(rt, 'vera', 'viewer')}"}
    operator = {"Authorization": f"Bearer {admin_token(rt, 'otto', 'operator')}"}
    assert api.get("/api/findings", headers=viewer).status_code == 200
    denied = api.post("/api/tasks/sync", json={}, headers=viewer)
    assert denied.status_code == 403 and "operator" in denied.json()["message"]
    assert api.post("/api/tasks/sync", json={}, headers=operator).status_code == 202
    assert api.put("/api/quota", json={"purchased": 5}, headers=operator).status_code == 403
    basic = "Basic " + base64.b64encode(b"vera:correct horse battery").decode()
    assert api.get("/api/users/me", headers={"Authorization": basic}).json() == {"id": 2, "username": "vera", "role": "viewer"}
    wrong = "Basic " + base64.b64encode(b"vera:wrong").decode()
    assert api.get("/api/users/me", headers={"Authorization": wrong}).status_code == 401
    # users are created by admins, with bcrypt hashes
    created = api.post("/api/users", json={"username": "nina", "password": "longenough1", "role": "operator"})
    assert created.status_code == 201 and "password" not in created.text
    assert api.post("/api/users", json={"username": "nina", "password": "longenough1"}).status_code == 409
    with rt.session() as s:
        from hullscan.server.db.models import User

        assert s.query(User).filter_by(username="nina").one().password_hash.startswith("$2b$")
    token = api.post("/api/tokens", json={"name": "ci"}, headers={"Authorization": basic}).json()["token"]
    assert api.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "vera"


def test_registry_verification_errors_and_secrets(api: Any, rt: Runtime) -> None:
    with serve_recording("harbor_v2") as (base, _):
        for body, code in [
            (harbor_body(base, password="wrong"), "FailedToVerifyUsernameOrPwd"),
            (harbor_body(base, username="dev", password="devpass123"), "UserDoesNotHaveAdminRole"),
            (harbor_body(base, version="v1"), "RegistryVersionError"),
            (harbor_body(base, port=1), "NetworkConnectError"),
        ]:
            resp = api.post("/api/registries", json=body)
            assert resp.status_code == 400, resp.text
            assert resp.json()["code"] == code and resp.json()["message"]
            assert "Harbor12345" not in resp.text and "devpass123" not in resp.text
        ok = api.post("/api/registries", json=harbor_body(base))
        assert ok.status_code == 201, ok.text
        reg = ok.json()
        assert reg["rate_limit"] == 10 and reg["has_password"] and reg["version"] == "v2"
        assert "Harbor12345" not in ok.text
        listed = api.get("/api/registries")
        assert "Harbor12345" not in listed.text
        assert api.post("/api/registries", json=harbor_body(base)).status_code == 409
        # a sync through the Harbor API
        from tests.server.conftest import wait_task

        task = wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
        assert task["status"] == "succeeded" and task["progress"] == {"done": 3, "total": 3}
        repos = api.get("/api/repositories", params={"registry_id": reg["id"]}).json()
        assert [r["name"] for r in repos["items"]] == ["library/nginx", "library/tools/busybox", "team-a/api"]
        logs = api.get(f"/api/tasks/{task['id']}/logs").json()["items"]
        assert any("3 repositories" in line["message"] for line in logs)
        # update keeps the stored password when none is given; re-verified
        upd = api.put(f"/api/registries/{reg['id']}", json={"region": "eu-1", "rate_limit": "unlimited"})
        assert upd.status_code == 200 and upd.json()["region"] == "eu-1" and upd.json()["warnings"]
        assert api.put(f"/api/registries/{reg['id']}", json={"username": "dev", "password": "devpass123"}).json()["code"] == "UserDoesNotHaveAdminRole"
    # stored encrypted: the clear password is nowhere in the database file
    if rt.engine.dialect.name == "sqlite":
        raw = b"".join(p.read_bytes() for p in rt.config.data_dir.glob("hullscan.db*"))
        assert b"Harbor12345" not in raw
    else:  # PostgreSQL: no column of any table holds it
        from sqlalchemy import text

        with rt.engine.connect() as conn:
            for table in ("registries", "task_logs", "events"):
                dump = " ".join(str(r) for r in conn.execute(text(f"select * from {table}")))
                assert "Harbor12345" not in dump
    with rt.engine.connect() as conn:
        from sqlalchemy import text

        enc = conn.execute(text("select password_enc from registries where name='harbor'")).scalar_one()
    assert enc and rt.secrets.decrypt(enc) == "Harbor12345"


def test_builtin_registry_cannot_be_deleted(api: Any) -> None:
    builtin = next(r for r in api.get("/api/registries").json() if r["builtin"])
    resp = api.delete(f"/api/registries/{builtin['id']}")
    assert resp.status_code == 409 and resp.json()["code"] == "BuiltinRegistry"
    assert api.delete("/api/registries/9999").status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "x", "type": "registry"},  # no host
    {"name": "x", "type": "nexus", "domain": "h"},
    {"name": "x", "type": "registry", "domain": "h", "rate_limit": 0},
    {"name": "x", "type": "registry", "domain": "h/evil"},
    {"name": "x", "type": "registry", "domain": "h", "protocol": "ftp"},
    # control characters and non-hosts once reached httpx.Client(base_url=...) and answered 500
    {"name": "x", "type": "registry", "domain": "x\x00y"},
    {"name": "x", "type": "registry", "ip": "1.2.3.4\x01"},
    {"name": "x", "type": "registry", "ip": "999.1.1.1"},
    {"name": "x", "type": "registry", "domain": "exa\u00e9mple..com"},
    {"name": "x", "type": "registry", "domain": "host:5000"},
    {"name": "x", "type": "registry", "domain": "[::1"},
])
def test_invalid_registry_input_is_422(api: Any, body: dict[str, Any]) -> None:
    resp = api.post("/api/registries", json=body)
    assert resp.status_code == 422 and resp.json()["code"] == "InvalidRequest" and resp.json()["message"]


def test_settings_are_versioned(api: Any) -> None:
    cur = api.get("/api/settings").json()
    assert cur["version"] == 1 and cur["settings"]["auto_add_new_repositories"] is True
    assert cur["settings"]["sync_time"] == "03:00" and cur["settings"]["task_time_limit_seconds"] == 14400
    new = api.put("/api/settings", json={"version": 1, "settings": {"time_range_days": 30, "retention_days": 60,
                                                                   "checks": {"malware": False, "sensitive_types": ["aws-access-key"]}}})
    assert new.status_code == 200, new.text
    assert new.json()["version"] == 2 and new.json()["settings"]["checks"]["malware"] is False
    stale = api.put("/api/settings", json={"version": 1, "settings": {"retention_days": 10}})
    assert stale.status_code == 409 and stale.json()["code"] == "VersionConflict"
    bad = api.put("/api/settings", json={"version": 2, "settings": {"sync_time": "25:00"}})
    assert bad.status_code == 422 and "sync_time" in bad.json()["message"]
    unknown = api.put("/api/settings", json={"version": 2, "settings": {"nope": 1}})
    assert unknown.status_code == 422
    assert api.get("/api/settings").json()["version"] == 2


def test_whitelist_validation(api: Any) -> None:
    assert api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-1", "scope": "images"}).json()["code"] == "ScopeRequired"
    assert api.post("/api/whitelist", json={"kind": "sensitive", "value": "/etc/*.pem", "scope": "images",
                                            "scope_ids": [1]}).json()["code"] == "InvalidScope"
    ok = api.post("/api/whitelist", json={"kind": "history", "value": "history-curl-pipe-shell", "note": "build image",
                                          "expires_at": "2999-01-01T00:00:00Z"})
    assert ok.status_code == 201 and ok.json()["expires_at"] == "2999-01-01T00:00:00Z" and ok.json()["active"]
    assert api.delete("/api/whitelist/999").status_code == 404
    # an expiry that already passed was stored as a rule that never applies; now a clear 422
    past = api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-2", "expires_at": "2000-01-01T00:00:00"})
    assert past.status_code == 422 and past.json()["code"] == "ExpiryInPast" and "2000-01-01" in past.json()["message"]
    # a scope naming no image / repository was accepted and suppressed nothing
    nowhere = api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-3", "scope": "images", "scope_ids": [4242]})
    assert nowhere.status_code == 422 and nowhere.json() == {"code": "UnknownScope", "message": "no image with id 4242"}
    repos = api.post("/api/whitelist", json={"kind": "sensitive", "value": "*.pem", "scope": "repositories", "scope_ids": [7, 8]})
    assert repos.status_code == 422 and repos.json()["message"] == "no repository with id 7 (and 1 more)"
    assert [r["value"] for r in api.get("/api/whitelist").json()] == ["history-curl-pipe-shell"]


def test_sync_of_an_unknown_registry_is_404(api: Any) -> None:
    builtin = next(r for r in api.get("/api/registries").json() if r["builtin"])
    for ids in ([9999], [builtin["id"]]):
        resp = api.post("/api/tasks/sync", json={"registry_ids": ids})
        assert resp.status_code == 404 and resp.json()["message"] == f"no registry to sync with id {ids[0]}"
    assert api.get("/api/tasks").json()["total"] == 0


def test_metrics_and_task_errors(api: Any) -> None:
    text = api.get("/metrics").text
    assert "hullscan_scans_total" in text and "hullscan_queue_depth" in text and "hullscan_scan_duration_seconds" in text
    assert api.get("/api/tasks/12345").status_code == 404
    assert api.get("/api/findings", params={"page_size": 0}).status_code == 422
    assert api.get("/api/findings", params={"severity": "SEVERE"}).status_code == 422


def test_structured_logs_mask_credentials() -> None:
    import json
    import logging

    from hullscan.server.jsonlog import JsonFormatter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/1.1" %d', ("127.0.0.1:5", "POST", "/api/webhooks/quay?token=hs_abc.DEF-1&x=1", 202), None)
    record.auth = "Bearer hs_secret_value"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "uvicorn.access" and line["time"].endswith("Z")
    assert "hs_abc" not in line["message"] and "token=***&x=1" in line["message"]
    assert line["auth"] == "Bearer ***"


def test_stop_and_events_endpoints(api: Any) -> None:
    from tests.server.conftest import wait_task

    task = wait_task(api, api.post("/api/tasks/sync", json={}).json()["id"])
    assert task["status"] == "succeeded"  # no registries besides the built-in one: nothing to list
    again = api.post(f"/api/tasks/{task['id']}/stop")
    assert again.status_code == 409 and again.json()["code"] == "TaskFinished"
    assert api.get("/api/events").json() == {"items": [], "total": 0, "page": 1, "page_size": 50}
    listed = api.get("/api/tasks", params={"kind": "sync"}).json()
    assert listed["total"] == 1 and listed["items"][0]["progress"] == {"done": 0, "total": 0}


@pytest.mark.parametrize("url", ["http://ev\x01il/", "http://exa mple/", "https://", "http:///path", "ftp://x/"])
def test_invalid_webhook_urls_are_422(api: Any, url: str) -> None:
    version = api.get("/api/settings").json()["version"]
    resp = api.put("/api/settings", json={"version": version, "settings": {"webhook_urls": [url]}})
    assert resp.status_code == 422 and resp.json()["code"] == "InvalidSettings" and "webhook URL" in resp.json()["message"]


def test_failed_webhook_delivery_logs_no_credentials(rt: Any, caplog: Any) -> None:
    from hullscan.server.db.models import Event
    from hullscan.server.scansettings import get_settings, update_settings
    from hullscan.server.webhooks import emit
    from tests.server.recorded import free_port

    port = free_port()
    with rt.session() as s:
        _, version = get_settings(s)
        update_settings(s, {"webhook_urls": [f"http://bob:S3CRET-PW@127.0.0.1:{port}/hook?token=T0KEN-X"]}, version, "tests")
    with caplog.at_level("WARNING", logger="hullscan.server.webhooks"):
        event_id = emit(rt, "test", {"x": 1})
    assert f"webhook http://127.0.0.1:{port}/hook failed: ConnectError" in caplog.text
    assert "S3CRET-PW" not in caplog.text and "T0KEN-X" not in caplog.text
    with rt.session() as s:
        assert list(s.get(Event, event_id).delivered.values()) == ["ConnectError"]


def test_credentials_under_another_key_fail_verify_and_sync_with_a_reason(api: Any, rt: Any) -> None:
    from cryptography.fernet import Fernet

    from hullscan.server.crypto import SecretBox
    from hullscan.server.db.models import Registry
    from hullscan.server.registries import apply_fields
    from tests.server.conftest import wait_task
    from tests.server.recorded import free_port

    with rt.session() as s:
        row = Registry()
        apply_fields(row, {"name": "rekeyed", "type": "registry", "version": "v2", "protocol": "http", "ip": "127.0.0.1",
                           "port": free_port(), "username": "bob", "password": "old-key-secret", "rate_limit": 10}, rt.secrets)
        s.add(row)
        s.flush()
        rid = row.id
    rt.secrets = SecretBox(Fernet.generate_key())  # the operator replaced the key file / HULLSCAN_SECRET_KEY
    verify = api.post(f"/api/registries/{rid}/verify")
    assert verify.status_code == 400 and verify.json()["code"] == "FailedToVerifyUsernameOrPwd"
    assert "can't be decrypted with the current key" in verify.json()["message"]
    task = wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [rid]}).json()["id"])
    logs = [line["message"] for line in api.get(f"/api/tasks/{task['id']}/logs").json()["items"]]
    assert task["status"] == "failed" and any("enter the password or token again" in line for line in logs), logs


def test_repeated_sync_requests_share_the_pending_task(rt: Any) -> None:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app

    client = TestClient(create_app(rt))  # no queue: tasks stay pending
    client.headers["Authorization"] = f"Bearer {admin_token(rt, 'ops', 'operator')}"
    ids = {client.post("/api/tasks/sync", json={}).json()["id"] for _ in range(5)}
    assert len(ids) == 1 and client.get("/api/tasks").json()["total"] == 1
    again = client.post("/api/tasks/sync", json={})
    assert again.status_code == 202 and again.json() == {"id": ids.pop(), "already_pending": True}


def test_a_rematch_cannot_be_stopped(rt: Any) -> None:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app

    client = TestClient(create_app(rt))  # no queue: the task stays pending
    client.headers["Authorization"] = f"Bearer {admin_token(rt)}"
    task_id = client.post("/api/tasks/rematch").json()["id"]
    resp = client.post(f"/api/tasks/{task_id}/stop")
    assert resp.status_code == 409 and resp.json()["code"] == "NotStoppable"  # was accepted, then ignored


def test_oversized_bodies_are_413_before_they_are_read(api: Any) -> None:
    from hullscan.server.app import MAX_BODY

    big = b'{"name": "' + b"a" * MAX_BODY + b'"}'
    declared = api.post("/api/registries", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["code"] == "TooLarge"

    def chunks() -> Any:  # no Content-Length: counted while streamed
        yield b'{"name": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    streamed = api.post("/api/registries", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["code"] == "TooLarge"
    assert api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-1"}).status_code == 201  # normal bodies pass


def test_nul_characters_are_refused_before_they_reach_the_store(api: Any) -> None:
    # SQLite stores them (and hides what follows in logs); PostgreSQL refuses them with an error, a 500 here
    query = api.get("/api/findings", params={"package": "a\x00b"})
    assert query.status_code == 422 and query.json()["message"] == "the query string contains a NUL character"
    for path, body in (("/api/whitelist", {"kind": "vulnerability", "value": "CVE-1\x00", "note": "x"}),
                       ("/api/users", {"username": "a\x00b", "password": "abcdefghij", "role": "viewer"}),
                       ("/api/registries", {"name": "n\x00", "type": "registry", "ip": "127.0.0.1"})):
        resp = api.post(path, json=body)
        assert resp.status_code == 422 and resp.json()["message"] == "the request body contains a NUL character", resp.text
    assert api.get("/api/whitelist").json() == []
