"""Check selection (--checks / --skip-checks), hullscan.yaml, the whitelist, package-owned files and masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.checks import catalog
from hullscan.checks.selection import apply, load_config, mask_config, parse_config
from hullscan.errors import InputError
from hullscan.model import (
    Artifact,
    Category,
    Finding,
    ImageConfigSummary,
    Location,
    Package,
    ScanReport,
    Severity,
    VulnInfo,
)
from hullscan.options import ScanOptions


def _f(id: str, cat: Category, path: str = "/x") -> Finding:
    vuln = VulnInfo("openssl", "1", "deb", aliases=("GHSA-aaaa",)) if cat is Category.VULNERABILITY else None
    return Finding(id=id, category=cat, severity=Severity.HIGH, title=id, location=Location(path=path), vuln=vuln)


def _report() -> ScanReport:
    return ScanReport(
        artifact=Artifact(name="registry.local/team/app:1", kind="registry", repository="registry.local/team/app"),
        packages=[Package("chromium", "1", "deb", files=("/etc/chromium.d/apikeys",)),
                  Package("myapp", "1", "PyPI", files=("/app/.env",))],
        findings=[
            _f("CVE-2024-1", Category.VULNERABILITY),
            _f("secret-aws-access-key-id", Category.SENSITIVE, "/app/.env"),
            _f("secret-gcp-api-key", Category.SENSITIVE, "/etc/chromium.d/apikeys"),
            _f("baseline-root-user", Category.BASELINE, "config.User"),
            _f("baseline-no-healthcheck", Category.BASELINE, "config.Healthcheck"),
            _f("history-sudo", Category.HISTORY, "history[1]"),
            _f("malware-eicar-test-file", Category.MALICIOUS, "/app/eicar"),
        ],
    )


def ids(report: ScanReport) -> list[str]:
    return sorted(f.id for f in report.findings)


def test_catalog_and_registry() -> None:
    cat = {k: v.category for k, v in catalog().items()}
    assert cat["secret-github-pat"] == "sensitive" and cat["baseline-root-user"] == "baseline"
    assert cat["history-curl-pipe-shell"] == "history" and cat["sensitive-aws-credentials"] == "sensitive"
    assert cat["malware-eicar-test-file"] == cat["malware-reverse-shell-bash"] == "malicious"
    assert len([k for k, v in cat.items() if v == "malicious"]) >= 15
    from hullscan.stages import STAGES

    assert {n for n in STAGES.names() if n.startswith("checks/")} == {
        "checks/history", "checks/baseline-config", "checks/config-secrets", "checks/unowned-libraries"}
    assert {e.name for e in STAGES.select(tags=["malware"])} == {"checks/unowned-libraries"}
    assert cat["suspicious-ld-preload"] == cat["suspicious-unowned-library"] == "malicious"
    assert {e.name for e in STAGES.select(tags=["baseline"])} == {"checks/baseline-config"}


def test_package_files_are_suppressed_not_dropped() -> None:
    out = apply(_report(), ScanOptions())
    assert "secret-gcp-api-key" not in ids(out)
    assert "secret-aws-access-key-id" in ids(out)  # /app/.env belongs to a PyPI package: the author's own app
    [(f, reason)] = out.suppressed
    assert f.id == "secret-gcp-api-key" and "chromium" in reason
    kept = apply(_report(), ScanOptions(plugin_settings={"secret": {"include-package-files": True}}))
    assert "secret-gcp-api-key" in ids(kept) and not kept.suppressed


@pytest.mark.parametrize(
    ("checks", "skip", "want"),
    [
        (("baseline",), (), ["baseline-no-healthcheck", "baseline-root-user"]),
        (("secret-*", "history"), (), ["history-sudo", "secret-aws-access-key-id"]),
        ((), ("vulnerability", "baseline-no-healthcheck"), ["baseline-root-user", "history-sudo", "malware-eicar-test-file",
                                                             "secret-aws-access-key-id"]),
        (("GHSA-aaaa",), (), ["CVE-2024-1"]),
        (("malicious", "baseline"), ("baseline-root-user",), ["baseline-no-healthcheck", "malware-eicar-test-file"]),
    ],
)
def test_checks_and_skip_checks(checks: tuple[str, ...], skip: tuple[str, ...], want: list[str]) -> None:
    out = apply(_report(), ScanOptions(checks=checks, skip_checks=skip))
    assert ids(out) == want
    assert any("not selected" in n for n in out.notes)


def test_default_off_checks_need_naming() -> None:
    from hullscan.checks import default_off

    assert "baseline-sshd-installed" in default_off()
    report = _report()
    report.findings.append(_f("baseline-sshd-installed", Category.BASELINE, "/etc/ssh/sshd_config"))
    assert "baseline-sshd-installed" not in ids(apply(report, ScanOptions()))
    assert "baseline-sshd-installed" not in ids(apply(report, ScanOptions(checks=("baseline",))))
    assert "baseline-sshd-installed" in ids(apply(report, ScanOptions(checks=("baseline-sshd-installed",))))
    assert ids(apply(report, ScanOptions(checks=("baseline", "baseline-sshd-installed")))) == [
        "baseline-no-healthcheck", "baseline-root-user", "baseline-sshd-installed"]


def test_unknown_selectors_get_a_note() -> None:
    out = apply(_report(), ScanOptions(skip_checks=("baseline-root-usr", "CVE-2024-9", "secret-*", "history")))
    assert out.notes.count("--checks/--skip-checks: unknown check 'baseline-root-usr'") == 1
    assert not [n for n in out.notes if "CVE-2024-9" in n or "secret-*" in n]


def test_checks_command_lists_catalog() -> None:
    from typer.testing import CliRunner

    from hullscan.cli import build_app

    result = CliRunner().invoke(build_app(), ["checks", "--category", "malicious"])
    assert result.exit_code == 0
    assert "malware-eicar-test-file" in result.output and "baseline-root-user" not in result.output


def test_config_file_and_whitelist(tmp_path: Path) -> None:
    cfg = tmp_path / "hullscan.yaml"
    cfg.write_text(
        "skip-checks: [vulnerability]\n"
        "whitelist:\n"
        "  - id: baseline-root-user\n    scope: all\n    reason: the entrypoint drops privileges\n"
        "  - id: history\n    scope: registry.local/team/*\n    reason: legacy build, ticket OPS-1\n"
        "  - id: malicious\n    scope: other/repo\n    reason: not this repo\n"
        "  - id: secret-*\n    scope: {repository: registry.local/team/app}\n    path: /app/*\n    reason: test fixture keys\n"
    )
    config = load_config(cfg)
    out = apply(_report(), ScanOptions(), config)
    assert ids(out) == ["baseline-no-healthcheck", "malware-eicar-test-file"]
    reasons = {f.id: r for f, r in out.suppressed}
    assert reasons["baseline-root-user"] == "whitelist: the entrypoint drops privileges"
    assert reasons["history-sudo"] == "whitelist: legacy build, ticket OPS-1"
    assert reasons["secret-aws-access-key-id"] == "whitelist: test fixture keys"
    assert len(out.findings) + len(out.suppressed) + 1 == len(_report().findings)  # one vulnerability skipped


@pytest.mark.parametrize(
    "text",
    ["- just a list\n", "whitelist:\n  - id: x\n", "whitelist:\n  - reason: r\n", "checks: 3\n", "whitelist: {a: 1}\n", ": bad: yaml: ["],
)
def test_bad_config_is_an_input_error(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "hullscan.yaml"
    cfg.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(cfg)
    assert str(cfg) in str(err.value)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_config(tmp_path / "nope.yaml")
    assert parse_config(None).whitelist == ()


def test_mask_config() -> None:
    token = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    cfg = ImageConfigSummary(env=("A=1", f"GH={token}"), labels=(("k", token),), history=((f"RUN echo {token}", False),))
    masked = mask_config(cfg)
    assert token not in repr(masked) and masked.env[0] == "A=1" and masked.env[1].startswith("GH=ghp_")


def test_binary_config_file_is_a_one_line_error(tmp_path):
    """A --config that is not text ends with one line naming the file, exit 2 (was an internal error)."""
    import subprocess
    import sys

    bad = tmp_path / "hullscan.yaml"
    bad.write_bytes(bytes(range(256)) * 8)
    root = tmp_path / "root"
    root.mkdir()
    res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(root), "--scanners", "none", "--config", str(bad),
                          "-q", "--cache-dir", str(tmp_path / "c")], capture_output=True, text=True)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and f"{bad}: not a text file" in res.stderr
