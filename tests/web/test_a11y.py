"""Accessibility and keyboard use of every console page, in English and Japanese: axe-core (vendored from npm)
runs in each page and must report no violation (every control labelled, names on buttons and links, contrast,
landmarks...); the main flows are done with the keyboard only. With ``HULLSCAN_SCREENSHOTS=DIR`` the test also
writes a full-page screenshot of every page in both languages (``scripts/screenshots`` sets it to
``docs/screenshots``)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hullscan.server.web.core import HERE
from tests.helpers.registry_server import TEST_PASSWORD, TEST_USER, RegistryServer
from tests.web.conftest import ADMIN, ADMIN_PW, Console, start_console, stop_console

pytestmark = pytest.mark.slow
AXE = HERE / "static" / "vendor" / "axe.min.js"
SHOTS = os.environ.get("HULLSCAN_SCREENSHOTS", "")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, basic_registry: RegistryServer, pushed: dict[str, str]) -> Iterator[Console]:
    """A server with an administrator, the registry, a finished sync and scan (through the REST API)."""
    assert basic_registry.ca_bundle
    console = start_console(tmp_path_factory.mktemp("a11y"), env={"SSL_CERT_FILE": basic_registry.ca_bundle})
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=30) as c:
        page = c.get("/ui/setup")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert c.post("/ui/setup", data={"csrf": token, "username": ADMIN, "password": ADMIN_PW, "password2": ADMIN_PW}).status_code == 303
    api = httpx.Client(base_url=console.url, auth=(ADMIN, ADMIN_PW), timeout=60)
    host, port = basic_registry.host.split(":")
    reg = api.post("/api/registries", json={"name": "local", "type": "registry", "protocol": "https", "ip": host,
                                            "port": int(port), "username": TEST_USER, "password": TEST_PASSWORD,
                                            "rate_limit": 1000})
    assert reg.status_code == 201, reg.text

    def wait(task_id: int) -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if api.get(f"/api/tasks/{task_id}").json()["status"] not in ("pending", "running"):
                return
            time.sleep(0.2)
        raise AssertionError(f"task {task_id} did not finish")

    wait(api.post("/api/tasks/sync", json={"registry_ids": [reg.json()["id"]]}).json()["id"])
    wait(api.post("/api/tasks/scan", json={"registry_ids": [reg.json()["id"]]}).json()["id"])
    api.post("/api/whitelist", json={"kind": "history", "value": "history-curl-pipe-shell", "note": "reviewed"})
    api.post("/api/users", json={"username": "vera", "password": "viewer password", "role": "viewer"})
    api.close()
    yield console
    stop_console(console)


def pages(console: Console) -> list[tuple[str, str]]:
    """(name, path) of every console page."""
    with httpx.Client(base_url=console.url, auth=(ADMIN, ADMIN_PW)) as api:
        finding = api.get("/api/findings", params={"category": "vulnerability"}).json()["items"][0]
        image = finding["image_id"]
        task = api.get("/api/tasks", params={"kind": "scan"}).json()["items"][0]["id"]
        registry = next(r for r in api.get("/api/registries").json() if not r["builtin"])["id"]
    return [
        ("dashboard", "/ui/dashboard"),
        ("security-vulnerabilities", "/ui/security?tab=vulnerability"),
        ("security-baseline", "/ui/security?tab=baseline"),
        ("security-malicious", "/ui/security?tab=malicious"),
        ("security-sensitive", "/ui/security?tab=sensitive"),
        ("security-build-commands", "/ui/security?tab=history&state=all"),
        ("finding-detail", f"/ui/security/findings/{finding['id']}"),
        ("images", "/ui/images"),
        ("image-detail", f"/ui/images/{image}"),
        ("settings-configuration", "/ui/settings?tab=config"),
        ("settings-baseline", "/ui/settings?tab=baseline"),
        ("settings-sensitive", "/ui/settings?tab=sensitive"),
        ("settings-risky-file-whitelist", "/ui/settings?tab=filewhitelist"),
        ("settings-vulnerability-whitelist", "/ui/settings?tab=vulnwhitelist"),
        ("scan-dialog", "/ui/scan"),
        ("tasks", "/ui/tasks?kind=scan"),
        ("tasks-sync", "/ui/tasks?kind=sync"),
        ("task-detail", f"/ui/tasks/{task}"),
        ("registries", "/ui/registries"),
        ("registry-add", "/ui/registries/new"),
        ("registry-edit", f"/ui/registries/{registry}/edit"),
        ("users", "/ui/users"),
        ("tokens", "/ui/tokens"),
    ]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return list(result)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_passes_axe(browser: Any, seeded: Console, lang: str) -> None:
    context = browser.new_context(locale="ja-JP" if lang == "ja" else "en-US", viewport={"width": 1360, "height": 900},
                                  extra_http_headers={"Accept-Language": "ja" if lang == "ja" else "en"})
    page = context.new_page()
    page.goto(seeded.url + "/ui/login")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{lang}-login.png"), full_page=True)
    assert axe_violations(page) == []
    page.fill("#login-username", ADMIN)
    page.fill("#login-password", ADMIN_PW)
    page.press("#login-password", "Enter")
    page.wait_for_url("**/ui/dashboard")
    assert page.locator("html").get_attribute("lang") == lang
    problems: dict[str, list[dict[str, Any]]] = {}
    for name, path in pages(seeded):
        page.goto(seeded.url + path)
        page.wait_for_load_state("networkidle")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"{lang}-{name}.png"), full_page=True)
        found = axe_violations(page)
        if found:
            problems[path] = found
    context.close()
    assert problems == {}


def _tab_to(page: Any, predicate: str, limit: int = 80) -> None:
    """Press Tab until ``predicate`` (JS over ``el`` = document.activeElement) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({predicate}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def test_keyboard_only_main_flows(browser: Any, seeded: Console) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(seeded.url + "/ui/login")
    # log in: the user name field has the focus, Tab moves to the password, Enter submits
    assert page.evaluate("() => document.activeElement.id") == "login-username"
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PW)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/dashboard")
    # the skip link comes first and jumps to the content
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    # main navigation -> Image Security -> the first finding -> its detail
    _tab_to(page, "el.textContent === 'Image Security'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/security")
    _tab_to(page, "el.closest('#findings-table') && el.tagName === 'A'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/security/findings/\d+$"))
    # mark it handled with a reason, keyboard only
    _tab_to(page, "el.id === 'state-select'")
    page.keyboard.press("Tab")
    page.keyboard.type("tracked in ticket 42")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/security/findings/\d+\?saved=1$"))
    assert "tracked in ticket 42" in page.inner_text("main")
    # Registries -> sync now -> the task page
    _tab_to(page, "el.textContent === 'Registries'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/registries")
    _tab_to(page, "el.getAttribute('aria-label') === 'Sync now: local'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/tasks/\d+$"))
    # Task Management -> Scan now -> pre-check -> confirm
    _tab_to(page, "el.textContent === 'Task Management'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/tasks")
    _tab_to(page, "el.textContent === 'Scan now' && el.tagName === 'A'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/scan")
    page.locator("#precheck-result").wait_for()
    _tab_to(page, "el.id === 'scan-confirm'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/tasks/\d+$"))
    context.close()
