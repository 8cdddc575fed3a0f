"""The documentation site: the pages generated from the code are current, every option of the configured commands
is on the configuration page with its variable and key, and ``mkdocs build --strict`` passes with no warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_generated_pages_are_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True,
                          text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_configuration_page_names_every_option_variable_and_key() -> None:
    from hullscan.cli import config

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    group = config.full_group()
    for name in config.CONFIGURED_COMMANDS:
        section = page.split(f"## `hullscan {name}`", 1)[1].split("\n## ", 1)[0]
        for param in config.options_of(group.commands[name]):
            row = next((ln for ln in section.splitlines() if f"`{param.envvar}`" in ln), None)
            assert row is not None, (name, param.name)
            assert param.name == "config" or f"| `{config.key_name(param)}` |" in row


def test_the_site_builds_strictly_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=300, check=False,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ("index.html", "configuration/index.html", "rest-api/index.html", "report-schema/index.html",
                 "harbor/index.html", "deployment/index.html", "extending/index.html", "pipelines/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    assert "HULLSCAN_SKIP_DIRS" in (tmp_path / "site" / "configuration" / "index.html").read_text(encoding="utf-8")
