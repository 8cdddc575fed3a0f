"""The report cache (hullscan.resultcache): a repeated `hullscan image` request on an unchanged local archive is
answered without importing the scanner, with the same report (this run's time fields) and exit code; anything
the report depends on that changes makes it scan again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.imagebuild import ImageBuilder

AWS = "AKIA" + "QYLPMN5HHHFPZAM2"  # an access key id shaped like a real one (not a real key)


def image(tmp_path: Path, name: str = "image.tar") -> Path:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "app/app.conf": "debug = true\n"})
    b.add_layer({"app/.env": f"AWS_ACCESS_KEY_ID={AWS}\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKQ\n"})
    archive = tmp_path / name
    b.write_docker_archive(archive, "test/cached:1")
    return archive


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], bool]:
    """``python -m hullscan image ARGS`` in ``tmp_path``; (result, whether the scanner ran: hullscan.scan imported)."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "hullscan", "image", *args,
                          "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    scanned = any(line.rstrip().endswith("| hullscan.scan") for line in res.stderr.splitlines())
    return res, scanned


def make_db(tmp_path: Path, advisory: str) -> None:
    """A vulnerability database (``--db tmp_path/vuln.db``) holding one OSV advisory, made by `hullscan db import`."""
    osv = tmp_path / f"{advisory}.json"
    osv.write_text(json.dumps({"id": advisory, "modified": "2024-01-01T00:00:00Z", "affected": [
        {"package": {"ecosystem": "PyPI", "name": "nothing-here"}, "ranges": [{"type": "ECOSYSTEM", "events": [
            {"introduced": "0"}, {"fixed": "1.0"}]}]}]}))
    res = subprocess.run([sys.executable, "-m", "hullscan", "db", "import", str(osv), "--db", str(tmp_path / "vuln.db"),
                          "-q"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def without_times(text: str) -> dict:
    data = json.loads(text)
    assert data.pop("scanned_at") and "duration_seconds" in data
    data.pop("duration_seconds")
    return data


def test_a_repeated_request_is_answered_from_the_cache(tmp_path):
    archive = image(tmp_path)
    args = ("--input", archive.name, "--scanners", "secret", "-f", "json", "-q")
    first, scanned = run(tmp_path, *args)
    assert first.returncode == 0 and scanned, first.stderr[-2000:]
    assert any(f["id"].startswith("secret-aws") for f in json.loads(first.stdout)["findings"])
    second, scanned = run(tmp_path, *args)
    assert second.returncode == 0 and not scanned
    assert without_times(second.stdout) == without_times(first.stdout)
    assert json.loads(second.stdout)["duration_seconds"] < json.loads(first.stdout)["duration_seconds"]
    # the layer analyses are not what answers: without them the answer is the same
    for path in (tmp_path / "cache" / "layers").rglob("*.json.z"):
        path.unlink()
    third, scanned = run(tmp_path, *args)
    assert not scanned and without_times(third.stdout) == without_times(first.stdout)


def test_the_exit_code_and_the_output_file_are_the_same(tmp_path):
    archive = image(tmp_path)
    args = ("--input", archive.name, "--scanners", "secret", "-f", "json", "-q", "--exit-code", "3", "-o", "out.json")
    first, _ = run(tmp_path, *args)
    assert first.returncode == 3 and first.stdout == ""
    report = (tmp_path / "out.json").read_text()
    (tmp_path / "out.json").unlink()
    second, scanned = run(tmp_path, *args)
    assert second.returncode == 3 and not scanned and second.stdout == ""
    assert without_times((tmp_path / "out.json").read_text()) == without_times(report)


@pytest.mark.parametrize("change", ["touch-archive", "rewrite-archive", "other-argv", "other-env", "new-ignorefile",
                                    "new-config", "other-folder", "new-database"])
def test_whatever_the_report_depends_on_changing_makes_it_scan_again(tmp_path, change):
    archive = image(tmp_path)
    args = ["--input", str(archive), "--scanners", "secret", "-f", "json", "-q"]
    if change == "new-database":  # the vulnerability scanner's database, replaced by an update
        make_db(tmp_path, "GHSA-aaaa-aaaa-aaaa")
        args = ["--input", str(archive), "--scanners", "vuln", "-f", "json", "-q", "--db", str(tmp_path / "vuln.db")]
    first, _ = run(tmp_path, *args)
    env = None
    if change == "touch-archive":
        os.utime(archive, ns=(1_000_000_000, 1_000_000_000))
    elif change == "rewrite-archive":
        archive.write_bytes(archive.read_bytes())  # same bytes, rewritten: a new file as far as anyone can tell
    elif change == "other-argv":
        args[args.index("secret")] = "secret,history"
    elif change == "other-env":
        env = {"HULLSCAN_USERNAME": "someone"}
    elif change == "new-ignorefile":  # a default file that was absent appears
        (tmp_path / ".hullscanignore").write_text("secret-aws-access-key-id\n")
    elif change == "new-config":
        (tmp_path / "hullscan.yaml").write_text("skip-checks: [history]\n")
    elif change == "new-database":
        assert first.returncode == 0, first.stderr[-2000:]
        assert run(tmp_path, *args)[1] is False  # unchanged: answered
        make_db(tmp_path, "GHSA-bbbb-bbbb-bbbb")  # `hullscan db import` swaps a new file in
    elif change == "other-folder":
        (tmp_path / "elsewhere").mkdir()
        res = subprocess.run([sys.executable, "-X", "importtime", "-m", "hullscan", "image", *args, "--cache-dir",
                              str(tmp_path / "cache")], capture_output=True, text=True, cwd=tmp_path / "elsewhere")
        assert res.returncode == 0 and "| hullscan.scan" in res.stderr
        return
    second, scanned = run(tmp_path, *args, env=env)
    assert second.returncode == 0 and scanned, second.stderr[-2000:]
    if change != "new-ignorefile":
        assert without_times(second.stdout)["findings"] == without_times(first.stdout)["findings"]
    else:
        assert len(json.loads(second.stdout)["findings"]) < len(json.loads(first.stdout)["findings"])


def test_no_cache_and_other_sources_are_never_answered_from_it(tmp_path):
    archive = image(tmp_path)
    for extra in (["--no-cache"], ["-f", "sarif"]):
        for _ in range(2):
            res, scanned = run(tmp_path, "--input", archive.name, "--scanners", "none", "-q", *extra)
            assert res.returncode == 0 and scanned
    assert not (tmp_path / "cache" / "reports").exists()
    # an OCI layout folder has no identity to vouch for its content: scanned every time
    b = ImageBuilder()
    b.add_layer({"etc/hostname": "box\n"})
    b.write_oci_layout(tmp_path / "layout")
    for _ in range(2):
        res, scanned = run(tmp_path, "layout", "--scanners", "none", "-f", "json", "-q")
        assert res.returncode == 0 and scanned


def test_cache_clean_removes_the_reports(tmp_path):
    archive = image(tmp_path)
    run(tmp_path, "--input", archive.name, "--scanners", "none", "-f", "json", "-q")
    assert list((tmp_path / "cache" / "reports").rglob("*.json"))
    res = subprocess.run([sys.executable, "-m", "hullscan", "cache", "clean", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "1 cached report(s)" in res.stdout
    assert not list((tmp_path / "cache" / "reports").rglob("*.json"))
    _, scanned = run(tmp_path, "--input", archive.name, "--scanners", "none", "-f", "json", "-q")
    assert scanned


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_closed_standard_output_is_one_error_line(tmp_path, fmt):
    """Started with standard output closed, with or without a stored report: one error line and exit 2."""
    archive = image(tmp_path)
    args = ["--input", archive.name, "--scanners", "none", "-f", fmt, "-q"]
    run(tmp_path, *args)  # a report stored for the json case
    for _ in range(2):
        res = subprocess.run([sys.executable, "-m", "hullscan", "image", *args, "--cache-dir", str(tmp_path / "cache")],
                             capture_output=False, stderr=subprocess.PIPE, text=True, timeout=300, cwd=tmp_path,
                             stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
        assert res.returncode == 2
        assert res.stderr == "hullscan: error: cannot write the report to standard output: standard output is closed\n"
