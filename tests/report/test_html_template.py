"""``--format html`` (one self-contained page: opened in Debian's Chromium from a file:// URL, no network request,
working filters) and ``--format template --template`` (sandboxed Jinja2; the shipped @junit and @gitlab), through
the installed ``hullscan`` command; SARIF vulnerability results carry a region."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import hullscan
from tests.helpers.imagebuild import ImageBuilder
from tests.vulndb.fixtures import osv, rng, write_osv_zip

SRC = Path(hullscan.__file__).resolve().parents[1]
HULLSCAN = shutil.which("hullscan")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.skipif(HULLSCAN is None, reason="the hullscan command is not installed (scripts/setup)")

SECRET = 'AWS_ACCESS_KEY_ID = "AKIAQ4LZ7XK2M9TRB3WD"\nAWS_SECRET_ACCESS_KEY = "q8Zr2Lm4Nx7Vb1Kc9Hs3Jd6Fg0Tw5Ye8Up2Io4Ra"\n'


def run(*args: str, cwd: Path, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HULLSCAN_")}
    env.update(PYTHONPATH=str(SRC), HULLSCAN_CACHE_DIR=str(cwd / "cache"), HULLSCAN_DB=str(cwd / "vuln.db"))
    proc = subprocess.run([str(HULLSCAN), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
                          stdin=subprocess.DEVNULL, check=False)
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stderr[-2000:])
    return proc


@pytest.fixture()
def scanned(tmp_path: Path) -> tuple[Path, list[str]]:
    """A two-layer image with a vulnerable Python package (layer 1) and a secret (layer 2), a database with the
    package's advisory, and the scan's common arguments."""
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
                 "usr/lib/python3/dist-packages/demo-0.5.dist-info/METADATA":
                     "Metadata-Version: 2.1\nName: demo\nVersion: 0.5\n"}, created_by="RUN pip install demo==0.5")
    b.add_layer({"app/settings.py": SECRET, "app/<b>odd</b>.txt": "x"}, created_by="COPY app /app")
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/report:1")
    feed = write_osv_zip(tmp_path / "feeds" / "PyPI" / "all.zip", [osv(
        "PYSEC-2024-7", "PyPI", "demo", rng({"introduced": "0"}, {"fixed": "1.0"}), aliases=["CVE-2024-0007"],
        summary="demo <script>alert(1)</script> flaw", severity=[{"type": "CVSS_V3",
                                                                 "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        references=[{"type": "WEB", "url": "https://example.org/PYSEC-2024-7"}])])
    run("db", "import", "-q", str(feed), cwd=tmp_path)
    return tmp_path, ["image", "--input", str(archive), "--scanners", "vuln,secret", "-q"]


def test_html_report_is_one_file_without_external_assets(scanned: tuple[Path, list[str]]) -> None:
    tmp, args = scanned
    html = run(*args, "--format", "html", cwd=tmp).stdout
    assert html.startswith("<!DOCTYPE html>") and "CVE-2024-0007" in html and "/app/settings.py" in html
    low = html.lower()
    for external in ("<link", "src=\"http", "src='http", "@import", "url(http", "<iframe"):
        assert external not in low, external
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # escaped
    assert "RUN pip install demo==0.5" in html and "COPY app /app" in html  # the layers, with what each added


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_html_report_opens_offline_in_chromium_and_its_filters_work(scanned: tuple[Path, list[str]]) -> None:
    from playwright.sync_api import sync_playwright

    tmp, args = scanned
    page_path = tmp / "report.html"
    run(*args, "--format", "html", "-o", str(page_path), cwd=tmp)
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            rows = page.locator("tr.finding")
            total = rows.count()
            assert total >= 2
            cats = rows.evaluate_all("rs => rs.map(r => r.dataset.category)")
            assert "vulnerability" in cats and "sensitive" in cats
            assert page.locator("#shown").inner_text() == str(total)
            page.uncheck("#filter-cat-vulnerability")
            visible = page.locator("tr.finding:visible")
            assert visible.count() == total - cats.count("vulnerability")
            assert set(visible.evaluate_all("rs => rs.map(r => r.dataset.category)")) == {"sensitive"}
            assert page.locator("#shown").inner_text() == str(total - cats.count("vulnerability"))
            page.check("#filter-cat-vulnerability")
            vuln_sev = page.locator("tr.finding[data-category=vulnerability]").first.get_attribute("data-severity")
            page.uncheck(f"#filter-sev-{vuln_sev}")
            assert page.locator(f"tr.finding[data-severity={vuln_sev}]:visible").count() == 0
            assert page.locator("tr.finding:visible").count() == total - rows.evaluate_all(
                f"rs => rs.filter(r => r.dataset.severity === '{vuln_sev}').length")
            assert page.locator("details.layer").count() == 2
            assert "demo" in page.locator("details.layer").first.inner_text()
            assert errors == []
        finally:
            browser.close()
    assert requests == [page_path.as_uri()], requests  # the page itself, nothing else


def test_junit_template_parses_with_one_failure_per_finding(scanned: tuple[Path, list[str]]) -> None:
    tmp, args = scanned
    report = json.loads(run(*args, "-f", "json", cwd=tmp).stdout)
    xml = run(*args, "--format", "template", "--template", "@junit", cwd=tmp).stdout
    root = ET.fromstring(xml)
    assert root.tag == "testsuites" and int(root.get("failures", "-1")) == len(report["findings"])
    failures = root.findall("./testsuite/testcase/failure")
    assert len(failures) == len(report["findings"])
    names = {tc.get("name") for tc in root.iter("testcase")}
    assert any("CVE-2024-0007" in (n or "") for n in names)  # (the CVE alias is the finding's id)
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests", "0")) == len(suite.findall("testcase"))


#: GitLab's container-scanning report, the fields its schema (security-report-schemas, container-scanning-report-
#: format.json 15.0.x) requires: scan.{analyzer, scanner, type, start_time, end_time, status}, and per vulnerability
#: id, identifiers (>= 1, each type/name/value), location.{dependency.package.name, dependency.version,
#: operating_system, image}; severity among Info, Unknown, Low, Medium, High, Critical.
_VENDOR = {"type": "object", "required": ["id", "name", "version", "vendor"],
           "properties": {"vendor": {"type": "object", "required": ["name"]}}}
GITLAB_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["version", "scan", "vulnerabilities"],
    "properties": {
        "version": {"type": "string", "pattern": r"^15\.0\.\d+$"},
        "scan": {"type": "object", "required": ["analyzer", "scanner", "type", "start_time", "end_time", "status"],
                 "properties": {"analyzer": _VENDOR, "scanner": _VENDOR, "type": {"const": "container_scanning"},
                                "start_time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"},
                                "end_time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"},
                                "status": {"enum": ["success", "failure"]}}},
        "vulnerabilities": {"type": "array", "items": {
            "type": "object", "required": ["id", "identifiers", "location"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
                "identifiers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "name", "value"]}},
                "location": {"type": "object", "required": ["dependency", "operating_system", "image"],
                             "properties": {"dependency": {"type": "object", "required": ["package"], "properties": {
                                 "package": {"type": "object", "required": ["name"]}}}}}}}},
    },
}


def test_gitlab_template_is_a_container_scanning_report(scanned: tuple[Path, list[str]]) -> None:
    tmp, args = scanned
    doc = json.loads(run(*args, "--format", "template", "--template", "@gitlab", cwd=tmp).stdout)
    jsonschema.validate(doc, GITLAB_SCHEMA)
    [vuln] = doc["vulnerabilities"]
    assert vuln["severity"] == "Critical" and vuln["location"]["dependency"]["package"]["name"] == "demo"
    assert {i["value"] for i in vuln["identifiers"]} == {"PYSEC-2024-7", "CVE-2024-0007"}
    assert vuln["location"]["image"].endswith("image.tar") and vuln["location"]["operating_system"] == "debian:12"


def test_user_templates_are_sandboxed_and_errors_name_the_template(scanned: tuple[Path, list[str]]) -> None:
    tmp, args = scanned
    mine = tmp / "mine.txt.j2"
    mine.write_text("{% for f in report.findings %}{{ f.id }} {{ f.severity }}\n{% endfor %}total={{ summary.total }}")
    out = run(*args, "--format", "template", "--template", str(mine), cwd=tmp).stdout
    assert "CVE-2024-0007 CRITICAL" in out and out.rstrip().endswith("total=2")
    evil = tmp / "evil.j2"
    evil.write_text("{{ report.__class__.__mro__[1].__subclasses__() }}")
    refused = run(*args, "--format", "template", "--template", str(evil), cwd=tmp, check_rc=2)
    assert refused.stderr.startswith(f"hullscan: error: --template {evil}:") and "Traceback" not in refused.stderr
    broken = tmp / "broken.j2"
    broken.write_text("{% for %}")
    bad = run(*args, "--format", "template", "--template", str(broken), cwd=tmp, check_rc=2)
    assert bad.stderr.startswith(f"hullscan: error: --template {broken}: line 1:")
    assert run(*args, "--format", "template", cwd=tmp, check_rc=2).stderr == (
        "hullscan: error: --format template needs --template FILE (or @html, @junit, @gitlab)\n")
    assert "no such shipped template" in run(*args, "-f", "template", "-t", "@nope", cwd=tmp, check_rc=2).stderr


def test_sarif_vulnerability_results_carry_a_region(scanned: tuple[Path, list[str]]) -> None:
    tmp, args = scanned
    sarif = json.loads(run(*args, "--format", "sarif", cwd=tmp).stdout)
    results = sarif["runs"][0]["results"]
    vulns = [r for r in results if r["ruleId"] == "CVE-2024-0007"]
    assert vulns and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in vulns)
