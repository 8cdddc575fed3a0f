"""The console at the HTTP level (httpx through Starlette's TestClient): first-run setup rules, the session
cookie's flags and lifetime, CSRF on every change, roles enforced by the server, /docs with the session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hullscan.server.runtime import Runtime
from tests.server.conftest import make_runtime

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path / "data")
    yield runtime
    runtime.engine.dispose()


def client(rt: Runtime, peer: tuple[str, int] = LOOPBACK, base_url: str = "http://testserver") -> Any:
    from fastapi.testclient import TestClient

    from hullscan.server.app import create_app

    return TestClient(create_app(rt), client=peer, base_url=base_url, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def make_user(rt: Runtime, name: str, role: str, password: str = "long password") -> None:
    from hullscan.server.auth import create_user

    with rt.session() as s:
        create_user(s, name, password, role)


def login(c: Any, name: str, password: str = "long password") -> str:
    """Log in; returns the CSRF token of the new session."""
    page = c.get("/ui/login")
    r = c.post("/ui/login", data={"csrf": csrf_of(page.text), "username": name, "password": password})
    assert r.status_code == 303, r.text[:500]
    return csrf_of(c.get("/ui/tokens").text)


def test_first_run_from_loopback_and_from_elsewhere(rt: Runtime) -> None:
    from hullscan.server.web.setup import announce_setup

    token = announce_setup(rt, "0.0.0.0", 8080)
    assert token
    remote = client(rt, REMOTE)
    assert remote.get("/").headers["location"] == "/ui/"
    assert remote.get("/ui/").headers["location"] == "/ui/setup"
    assert remote.get("/ui/dashboard").headers["location"].startswith("/ui/login")
    page = remote.get("/ui/setup")
    assert 'name="setup_token"' in page.text  # not loopback: the token is asked for
    form = {"csrf": csrf_of(page.text), "username": "root", "password": "long password", "password2": "long password"}
    refused = remote.post("/ui/setup", data=form)
    assert refused.status_code == 422 and "setup token" in refused.text and "set-cookie" not in refused.headers
    assert remote.post("/ui/setup", data={**form, "setup_token": "guess"}).status_code == 422
    ok = remote.post("/ui/setup", data={**form, "setup_token": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/dashboard"
    cookie = ok.headers["set-cookie"]
    assert "hs_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http
    assert remote.get("/ui/dashboard").status_code == 200
    # once an administrator exists, setup is closed (the token is void too)
    other = client(rt, LOOPBACK)
    assert other.get("/ui/setup").headers["location"] == "/ui/login"
    again = other.post("/ui/setup", data={**form, "csrf": csrf_of(other.get("/ui/login").text), "username": "evil",
                                          "setup_token": token})
    assert again.status_code == 303 and again.headers["location"] == "/ui/login"
    from sqlalchemy import select

    from hullscan.server.db.models import User

    with rt.session() as s:
        assert list(s.scalars(select(User.username))) == ["root"]


def test_session_cookie_secure_under_https(rt: Runtime) -> None:
    make_user(rt, "alice", "admin")
    c = client(rt, base_url="https://testserver")
    page = c.get("/ui/login")
    r = c.post("/ui/login", data={"csrf": csrf_of(page.text), "username": "alice", "password": "long password"})
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_login_rejects_wrong_password_and_foreign_next(rt: Runtime) -> None:
    make_user(rt, "alice", "admin")
    c = client(rt)
    token = csrf_of(c.get("/ui/login").text)
    bad = c.post("/ui/login", data={"csrf": token, "username": "alice", "password": "nope"})
    assert bad.status_code == 401 and "Wrong user name or password." in bad.text
    ok = c.post("/ui/login", data={"csrf": token, "username": "alice", "password": "long password",
                                   "next": "https://evil.example/steal"})
    assert ok.headers["location"] == "/ui/dashboard"


def test_csrf_required_on_every_change(rt: Runtime) -> None:
    from sqlalchemy import func, select

    from hullscan.server.db.models import ApiToken

    make_user(rt, "alice", "admin")
    c = client(rt)
    # before login: the login form itself needs the token its cookie vouches for
    c.get("/ui/login")
    assert c.post("/ui/login", data={"username": "alice", "password": "long password"}).status_code == 403
    assert c.post("/ui/login", data={"csrf": "forged", "username": "alice", "password": "long password"}).status_code == 403
    token = login(c, "alice")

    def tokens() -> int:
        with rt.session() as s:
            return int(s.scalar(select(func.count()).select_from(ApiToken)) or 0)

    assert c.post("/ui/tokens", data={"name": "x"}).status_code == 403
    assert c.post("/ui/tokens", data={"name": "x", "csrf": "0" * 64}).status_code == 403
    assert c.post("/ui/tokens", data={"name": "x"}, headers={"X-CSRF-Token": "nope"}).status_code == 403
    # another session's token does not work here (tokens are bound to the session)
    other = client(rt)
    other_token = login(other, "alice")
    assert other_token != token
    assert c.post("/ui/tokens", data={"name": "x", "csrf": other_token}).status_code == 403
    assert tokens() == 0
    assert c.post("/ui/tokens", data={"name": "x", "csrf": token}).status_code == 200
    assert c.post("/ui/tokens", data={"name": "y"}, headers={"X-CSRF-Token": token}).status_code == 200
    assert tokens() == 2
    for path in ("/ui/settings", "/ui/settings/whitelist", "/ui/registries", "/ui/scan", "/ui/users", "/ui/logout",
                 "/ui/tasks/1/stop", "/ui/registries/1/delete", "/ui/security/findings/1/state"):
        assert c.post(path, data={"x": "1"}).status_code == 403, path


def test_session_tampering_expiry_password_change_and_logout(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from hullscan.server.auth import hash_password
    from hullscan.server.db.models import User
    from hullscan.server.web import core

    make_user(rt, "alice", "admin")
    c = client(rt)
    login(c, "alice")
    assert c.get("/ui/dashboard").status_code == 200
    good = c.cookies["hs_session"]
    c.cookies.set("hs_session", good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert c.get("/ui/dashboard").headers["location"].startswith("/ui/login")
    c.cookies.set("hs_session", good)
    monkeypatch.setattr(core, "SESSION_MAX_AGE", -1)
    assert c.get("/ui/dashboard").headers["location"].startswith("/ui/login")
    monkeypatch.undo()
    assert c.get("/ui/dashboard").status_code == 200
    with rt.session() as s:  # a password change ends the user's sessions
        user = s.query(User).filter_by(username="alice").one()
        old_hash = user.password_hash
        user.password_hash = hash_password("another password")
    assert c.get("/ui/dashboard").headers["location"].startswith("/ui/login")
    with rt.session() as s:
        s.query(User).filter_by(username="alice").one().password_hash = old_hash
    assert c.get("/ui/dashboard").status_code == 200
    fresh = client(rt)  # (this client's jar holds the cookie set by hand above, which no server answer removes)
    token = login(fresh, "alice")
    out = fresh.post("/ui/logout", data={"csrf": token})
    assert out.status_code == 303 and 'hs_session=""' in out.headers["set-cookie"]
    assert fresh.get("/ui/dashboard").headers["location"].startswith("/ui/login")
    # htmx requests get an HX-Redirect instead of a page
    assert fresh.get("/ui/tasks", headers={"HX-Request": "true"}).headers["hx-redirect"].startswith("/ui/login")


def test_roles_enforced_by_the_server(rt: Runtime) -> None:
    from sqlalchemy import select

    from hullscan.server.db.models import Registry, SettingsRow

    make_user(rt, "vera", "viewer")
    make_user(rt, "otto", "operator")
    viewer = client(rt)
    token = login(viewer, "vera")
    with rt.session() as s:
        builtin = s.scalar(select(Registry.id))
        version = s.get(SettingsRow, 1).version
    for path, data in [("/ui/registries", {"name": "x", "type": "registry", "ip": "127.0.0.1"}),
                       (f"/ui/registries/{builtin}/delete", {}), ("/ui/settings", {"section": "config", "version": "1"}),
                       ("/ui/settings/whitelist", {"kind": "history", "value": "x"}), ("/ui/scan", {"registry_types": "registry"}),
                       ("/ui/users", {"username": "mallory", "password": "long password", "role": "admin"}),
                       ("/ui/security/findings/1/state", {"state": "ignored", "reason": "x"})]:
        r = viewer.post(path, data={**data, "csrf": token})
        assert r.status_code == 403 and "needs the" in r.text, (path, r.status_code)
    assert viewer.get("/ui/users").status_code == 403
    assert viewer.get("/ui/registries/new").status_code == 403
    with rt.session() as s:
        assert s.get(SettingsRow, 1).version == version
    operator = client(rt)
    op_token = login(operator, "otto")
    assert operator.post("/ui/settings", data={"section": "config", "version": str(version), "csrf": op_token}).status_code == 403
    assert operator.get("/ui/scan").status_code == 200


def test_docs_from_the_session_with_local_assets(rt: Runtime) -> None:
    make_user(rt, "alice", "viewer")
    c = client(rt)
    assert c.get("/docs").headers["location"].startswith("/ui/login?next=/docs")
    assert c.get("/openapi.json").status_code == 401
    login(c, "alice")
    docs = c.get("/docs")
    assert docs.status_code == 200
    assert "/ui/static/vendor/swagger-ui-bundle.js" in docs.text and "/ui/static/vendor/swagger-ui.css" in docs.text
    assert "cdn." not in docs.text and "https://" not in docs.text.replace("https://fastapi.tiangolo.com", "")
    assert c.get("/openapi.json").json()["info"]["title"] == "hullscan security center"
    assert c.get("/ui/static/vendor/swagger-ui-bundle.js").status_code == 200


def test_language_from_accept_language_then_cookie(rt: Runtime) -> None:
    make_user(rt, "alice", "viewer")
    c = client(rt)
    page = c.get("/ui/login", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
    assert '<html lang="ja">' in page.text and "ログイン" in page.text
    assert '<html lang="en">' in c.get("/ui/login", headers={"Accept-Language": "fr, en;q=0.3"}).text
    switched = c.get("/ui/lang/en?next=/ui/login")
    assert switched.status_code == 303 and "hs_lang=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in c.get("/ui/login", headers={"Accept-Language": "ja"}).text


def test_scan_without_vulnerability_database_says_so(rt: Runtime) -> None:
    from sqlalchemy import func, select

    from hullscan.server.db.models import Task

    assert not rt.vuln_db_path.exists()
    make_user(rt, "alice", "admin")
    c = client(rt)
    token = login(c, "alice")
    assert "No vulnerability database yet" in c.get("/ui/dashboard").text
    pre = c.post("/ui/scan/precheck", data={"registry_types": "registry", "csrf": token})
    assert pre.status_code == 200 and "There is no vulnerability database yet" in pre.text and 'name="without_db"' in pre.text
    refused = c.post("/ui/scan", data={"registry_types": "registry", "csrf": token})
    assert refused.status_code == 422 and "a scan now would find no vulnerabilities" in refused.text
    with rt.session() as s:
        assert not s.scalar(select(func.count()).select_from(Task).where(Task.kind == "scan"))
    started = c.post("/ui/scan", data={"registry_types": "registry", "without_db": "1", "csrf": token})
    assert started.status_code == 303 and re.fullmatch(r"/ui/tasks/\d+", started.headers["location"])


def test_registry_edit_verify_delete_and_builtin(rt: Runtime, registry: Any) -> None:
    from sqlalchemy import select

    from hullscan.server.db.models import Registry

    make_user(rt, "alice", "admin")
    c = client(rt)
    token = login(c, "alice")
    host, port = registry.host.split(":")
    form = {"csrf": token, "name": "plain", "type": "registry", "protocol": "http", "network_type": "private",
            "region": "lab", "ip": host, "port": port, "rate_limit": "100"}
    added = c.post("/ui/registries", data=form)
    assert added.status_code == 303 and added.headers["location"].startswith("/ui/registries?done=added")
    with rt.session() as s:
        row = s.scalar(select(Registry).where(Registry.name == "plain"))
        assert row is not None and (row.network_type, row.region, row.rate_limit) == ("private", "lab", 100)
        reg_id, builtin = row.id, s.scalar(select(Registry.id).where(Registry.builtin.is_(True)))
    assert "Registry added and verified." in c.get("/ui/registries?done=added").text
    edit = c.get(f"/ui/registries/{reg_id}/edit")
    assert edit.status_code == 200 and 'value="lab"' in edit.text
    saved = c.post(f"/ui/registries/{reg_id}", data={**form, "unlimited": "1", "region": "lab-2"})
    assert saved.headers["location"] == "/ui/registries?done=saved"
    with rt.session() as s:
        row = s.get(Registry, reg_id)
        assert row is not None and row.rate_limit == 0 and row.region == "lab-2"
    assert c.post(f"/ui/registries/{reg_id}/verify", data={"csrf": token}).headers["location"] == "/ui/registries?done=verified"
    # a registry that went away: verification names the error code on the page
    with rt.session() as s:
        row = s.get(Registry, reg_id)
        assert row is not None
        row.port = 1
    failed = c.post(f"/ui/registries/{reg_id}/verify", data={"csrf": token})
    assert failed.headers["location"] == "/ui/registries?done=verify_failed&code=NetworkConnectError"
    assert "NetworkConnectError: the registry can&#39;t be reached" in c.get(failed.headers["location"]).text
    # the built-in registry can't be edited or deleted
    assert c.get(f"/ui/registries/{builtin}/edit").status_code == 409
    assert c.post(f"/ui/registries/{builtin}/delete", data={"csrf": token}).status_code == 409
    assert c.post(f"/ui/registries/{reg_id}/delete", data={"csrf": token}).headers["location"] == "/ui/registries?done=deleted"
    with rt.session() as s:
        assert s.get(Registry, reg_id) is None and s.get(Registry, builtin) is not None


def test_task_page_names_failed_images_and_stop(rt: Runtime) -> None:
    from hullscan.server.db.models import Image, TaskItem
    from hullscan.server.tasks import add_log, create_task

    make_user(rt, "otto", "operator")
    task_id = create_task(rt, "scan", {}, user="otto")  # no queue attached: it stays pending
    with rt.session() as s:
        image = Image(digest="sha256:" + "b" * 64)
        s.add(image)
        s.flush()
        s.add(TaskItem(task_id=task_id, image_id=image.id, reference="127.0.0.1:5000/team/api@sha256:" + "b" * 64,
                       status="failed", error="manifest unknown: the tag was deleted"))
    add_log(rt, task_id, "image 127.0.0.1:5000/team/api failed: manifest unknown", "error")
    c = client(rt)
    token = login(c, "otto")
    page = c.get(f"/ui/tasks/{task_id}").text
    assert "127.0.0.1:5000/team/api@sha256:" in page and "manifest unknown: the tag was deleted" in page
    assert 'hx-trigger="every 1s"' in page  # not final: the page polls
    stopped = c.post(f"/ui/tasks/{task_id}/stop", data={"csrf": token})
    assert stopped.status_code == 303
    assert "stop requested" in c.get(f"/ui/tasks/{task_id}").text
    listing = c.get("/ui/tasks?kind=scan", headers={"HX-Request": "true"}).text
    assert f'data-task="{task_id}"' in listing and "<html" not in listing  # the polled fragment only
