"""The console end to end in Chromium against a real server process and a real ``docker-registry``:
first run, registries (a wrong password shown as FailedToVerifyUsernameOrPwd on the form), sync, immediate
scan with its pre-check, live task progress, every Image Security tab, whitelisting, a stale settings edit,
Japanese, and a viewer who sees no edit controls and is refused when trying anyway. Every request the pages
make goes to 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers.registry_server import TEST_PASSWORD, TEST_USER, RegistryServer
from tests.web.conftest import ADMIN, ADMIN_PW, URLLIB3_VULN, Console, start_console, stop_console

# the numbered tests are one user's session on one server: one xdist worker runs them in order (--dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("console-e2e")]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, basic_registry: RegistryServer) -> Iterator[Console]:
    assert basic_registry.ca_bundle
    c = start_console(tmp_path_factory.mktemp("console"), env={"SSL_CERT_FILE": basic_registry.ca_bundle})
    yield c
    stop_console(c)


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def admin_page(browser: Any, console: Console, requests_seen: list[str]) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    context.on("request", lambda req: requests_seen.append(req.url))
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def wait_status(page: Any, final: tuple[str, ...] = ("succeeded", "partially failed", "failed", "stopped"),
                timeout: float = 90_000) -> str:
    """Wait on a task page until the live-updated status is final; returns it."""
    page.wait_for_function(
        "(finals) => { const el = document.querySelector('#task-status'); return el && finals.includes(el.dataset.status); }",
        arg=list(final), timeout=timeout)
    return str(page.locator("#task-status").get_attribute("data-status"))


def test_01_first_run_creates_the_administrator(admin_page: Any, console: Console) -> None:
    page = admin_page
    page.goto(console.url + "/")
    assert page.url.endswith("/ui/setup")
    assert page.get_by_role("heading", name="Create the first administrator").is_visible()
    assert page.locator("#setup-token").count() == 0  # loopback: no setup token needed
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password (at least 8 characters)").fill(ADMIN_PW)
    page.get_by_label("Password again").fill(ADMIN_PW)
    page.get_by_role("button", name="Create administrator").click()
    page.wait_for_url("**/ui/dashboard")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    # the first start queued the vulnerability DB build: it is in Task Management and finished
    page.goto(console.url + "/ui/tasks?kind=dbupdate")
    row = page.locator("#tasks tbody tr").first
    assert "Vulnerability DB update" in row.inner_text() and "first-start" in row.inner_text()
    row.get_by_role("link").click()
    assert wait_status(page) == "succeeded"
    assert page.locator("#task-progress").inner_text() == "1/1"
    page.goto(console.url + "/ui/dashboard")
    assert re.search(r"updated 0 days ago \(2 advisories", page.locator("#db-age").inner_text())
    # the setup page is gone once an administrator exists
    page.goto(console.url + "/ui/setup")
    assert page.url.endswith("/ui/login") or page.url.endswith("/ui/dashboard")


def test_02_add_registry_wrong_password_then_right(admin_page: Any, console: Console, basic_registry: RegistryServer,
                                                   pushed: dict[str, str]) -> None:
    page = admin_page
    host, port = basic_registry.host.split(":")
    page.goto(console.url + "/ui/registries")
    page.get_by_role("link", name="Add registry").click()

    def fill(password: str) -> None:
        page.get_by_label("Name", exact=True).fill("local")
        page.get_by_label("Registry type").select_option("registry")
        page.get_by_label("Protocol").select_option("https")
        page.get_by_label("IP address").fill(host)
        page.get_by_label("Port").fill(port)
        page.get_by_label("Username").fill(TEST_USER)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_label("Rate limit (images per hour)").fill("1000")
        page.get_by_role("button", name="Verify and save").click()

    fill("not-the-password")
    error = page.locator("#form-error")
    assert "FailedToVerifyUsernameOrPwd" in error.inner_text()
    assert page.get_by_label("IP address").input_value() == host  # the form keeps what was typed
    fill(TEST_PASSWORD)
    page.wait_for_url("**/ui/registries?done=added*")
    assert "Registry added and verified." in page.inner_text("main")
    assert page.locator("tr[data-registry='local']").count() == 1


def test_03_sync_scan_with_precheck_and_live_progress(admin_page: Any, console: Console) -> None:
    page = admin_page
    page.goto(console.url + "/ui/registries")
    page.get_by_role("button", name="Sync now: local").click()
    page.wait_for_url(re.compile(r".*/ui/tasks/\d+$"))
    assert wait_status(page) == "succeeded"
    page.goto(console.url + "/ui/scan")
    result = page.locator("#precheck-result")
    result.wait_for()
    assert int(result.get_attribute("data-images") or -1) >= 1
    assert "images are covered" in result.inner_text()
    # no Harbor registry: choosing only Harbor covers nothing
    for kind in ("registry", "quay", "gitlab"):
        page.get_by_label(re.compile(kind, re.IGNORECASE) if kind != "registry" else "Docker Registry (v2)").uncheck()
    page.wait_for_function("() => document.querySelector('#precheck-result').dataset.images === '0'")
    page.get_by_label("Docker Registry (v2)").check()
    page.wait_for_function("() => Number(document.querySelector('#precheck-result').dataset.images) >= 1")
    page.get_by_role("button", name="Confirm and scan").click()
    page.wait_for_url(re.compile(r".*/ui/tasks/\d+$"))
    seen = set()
    page.wait_for_function("() => document.querySelector('#task-status')")
    while True:  # the page updates itself (polling): record the statuses it shows on the way
        status = page.locator("#task-status").get_attribute("data-status")
        seen.add(status)
        if status in ("succeeded", "partially failed", "failed", "stopped"):
            break
        page.wait_for_timeout(200)
    assert status == "succeeded", page.inner_text("main")
    done, total = page.locator("#task-progress").inner_text().split("/")
    assert done == total and int(total) >= 1


def test_04_findings_in_every_tab_and_whitelist(admin_page: Any, console: Console) -> None:
    page = admin_page
    expected = {"vulnerability": URLLIB3_VULN, "baseline": "baseline-root-user", "malicious": "",
                "sensitive": "secret-private-key", "history": "history-curl-pipe-shell"}
    for tab, rule in expected.items():
        page.goto(console.url + f"/ui/security?tab={tab}&repository=console/app")
        rows = page.locator("#findings-table tbody tr[data-rule]")
        assert rows.count() >= 1, f"no {tab} finding: {page.inner_text('main')}"
        if rule:
            assert page.locator(f"#findings-table tr[data-rule='{rule}']").count() == 1, page.inner_text("#findings-table")
    # the vulnerability's detail: layer, fix, references; then whitelist it and see it leave the table
    page.goto(console.url + "/ui/security?tab=vulnerability&repository=console/app")
    page.locator(f"tr[data-rule='{URLLIB3_VULN}'] a").first.click()
    main = page.inner_text("main")
    assert "Layer that introduced it" in main and "sha256:" in main and "Upgrade to 1.26.5" in main
    page.get_by_label("Add to the whitelist for").select_option("all")
    page.get_by_label("Note").fill("accepted risk for the test")
    page.get_by_role("button", name="Add to whitelist").click()
    page.wait_for_url("**/ui/security?tab=vulnerability*")
    page.goto(console.url + "/ui/security?tab=vulnerability&repository=console/app")
    assert page.locator(f"tr[data-rule='{URLLIB3_VULN}']").count() == 0
    page.goto(console.url + "/ui/settings?tab=vulnwhitelist")
    assert page.locator(f"#whitelist-rules tr[data-rule='{URLLIB3_VULN}']").count() == 1
    # the image page: tags, packages, downloadable as CycloneDX and SPDX (the stored inventory)
    page.goto(console.url + "/ui/images?repository=console/app")
    page.get_by_role("link", name="console/app:1.0").first.click()
    assert "urllib3" in page.inner_text("main") and "console/app:1.0" in page.inner_text("main")
    cdx = page.request.get(console.url + str(page.get_by_role("link", name="Download CycloneDX").get_attribute("href")))
    assert cdx.ok and cdx.json()["bomFormat"] == "CycloneDX"
    assert any(c["name"] == "urllib3" and c["version"] == "1.26.4" for c in cdx.json()["components"])
    spdx = page.request.get(console.url + str(page.get_by_role("link", name="Download SPDX").get_attribute("href")))
    assert spdx.ok and spdx.json()["spdxVersion"].startswith("SPDX-") and "urllib3" in spdx.text()
    # the sensitive finding's evidence is masked, and marking it handled needs a reason
    page.goto(console.url + "/ui/security?tab=sensitive&repository=console/app")
    page.locator("tr[data-rule='secret-private-key'] a").first.click()
    page.get_by_label("Mark as").select_option("handled")
    page.get_by_role("button", name="Save state").click()
    assert "A reason is required" in page.inner_text("main")
    page.get_by_label("Reason").fill("key rotated")
    page.get_by_role("button", name="Save state").click()
    assert "key rotated" in page.inner_text("main")


def test_05_stale_settings_edit_is_shown_not_lost(browser: Any, admin_page: Any, console: Console) -> None:
    first = admin_page
    second = first.context.new_page()
    first.goto(console.url + "/ui/settings?tab=config")
    second.goto(console.url + "/ui/settings?tab=config")
    first.get_by_label("Retention of findings not seen again (days)").fill("30")
    first.get_by_role("button", name="Save scan configuration").click()
    assert "Settings saved." in first.inner_text("main")
    second.get_by_label("Retention of findings not seen again (days)").fill("45")
    second.get_by_role("button", name="Save scan configuration").click()
    text = second.inner_text("main")
    assert "changed by someone else" in text and "NOT saved" in text
    assert second.get_by_label("Retention of findings not seen again (days)").input_value() == "45"  # kept
    second.get_by_role("button", name="Save scan configuration").click()  # saving again, on the new version, works
    assert "Settings saved." in second.inner_text("main")
    assert second.get_by_label("Retention of findings not seen again (days)").input_value() == "45"
    second.close()


def test_06_docs_open_from_the_session(admin_page: Any, console: Console) -> None:
    page = admin_page
    page.goto(console.url + "/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "hullscan security center" in page.inner_text(".swagger-ui .info .title")


def test_07_japanese(admin_page: Any, console: Console) -> None:
    page = admin_page
    page.goto(console.url + "/ui/security")
    page.get_by_role("link", name="日本語").click()
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_role("heading", name="イメージセキュリティ").is_visible()
    page.goto(console.url + "/ui/tasks")
    assert page.get_by_role("heading", name="タスク管理").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Task Management").is_visible()


def test_08_viewer_sees_no_edit_controls_and_is_refused(browser: Any, admin_page: Any, console: Console) -> None:
    admin = admin_page
    admin.goto(console.url + "/ui/users")
    admin.get_by_label("User name").fill("vera")
    admin.get_by_label("Password (at least 8 characters)").fill("viewer password")
    admin.get_by_label("Role").select_option("viewer")
    admin.get_by_role("button", name="Add user").click()
    assert "User created." in admin.inner_text("main")

    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(console.url + "/ui/login")
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password").fill("viewer password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/dashboard")
    assert page.get_by_role("link", name="Users").count() == 0
    page.goto(console.url + "/ui/registries")
    assert page.get_by_role("link", name="Add registry").count() == 0
    assert page.locator("main button").count() == 0  # no sync / verify / delete
    page.goto(console.url + "/ui/security?tab=history")
    page.locator("#findings-table tbody tr[data-rule] a").first.click()
    assert page.get_by_role("button", name="Save state").count() == 0
    assert page.get_by_role("button", name="Add to whitelist").count() == 0
    page.goto(console.url + "/ui/settings?tab=config")
    assert page.get_by_role("button", name=re.compile("Save")).count() == 0
    assert page.locator("#settings-form fieldset[disabled]").count() >= 1
    page.goto(console.url + "/ui/tasks")
    assert page.get_by_role("link", name="Scan now").count() == 0
    # trying anyway, with a valid CSRF token of its own session: refused by the server
    token = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    status = page.evaluate("""async (token) => {
        const r = await fetch('/ui/registries/1/delete', {method: 'POST', headers: {'X-CSRF-Token': token}});
        return r.status; }""", token)
    assert status == 403
    status = page.evaluate("""async (token) => {
        const body = new URLSearchParams({kind: 'history', value: 'x', scope: 'all'});
        const r = await fetch('/ui/settings/whitelist', {method: 'POST', headers: {'X-CSRF-Token': token}, body});
        return r.status; }""", token)
    assert status == 403
    context.close()


def test_09_every_request_went_to_loopback(requests_seen: list[str]) -> None:
    assert len(requests_seen) > 20
    hosts = {urlsplit(u).hostname for u in requests_seen if not u.startswith(("data:", "blob:", "about:"))}
    assert hosts == {"127.0.0.1"}, hosts


