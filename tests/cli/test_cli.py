"""The command line as a whole: the option groups that ``image``, ``sbom`` and ``sbom-scan`` share, how the process
ends (a closed standard output), and the rule that only the CLI's process module changes interpreter-wide state."""

from __future__ import annotations

import gc
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import hullscan
from hullscan.cli import COMMANDS, build_app
from hullscan.cli.groups import finding_filters, image_source, report_output
from tests.helpers.imagebuild import ImageBuilder

SRC = Path(hullscan.__file__).resolve().parent


def image(tmp_path: Path) -> Path:
    b = ImageBuilder()
    b.add_layer({"etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "app/app.conf": "debug = true\n"})
    archive = tmp_path / "image.tar"
    b.write_docker_archive(archive, "test/cli:1")
    return archive


def _options(command: str) -> set[str]:
    click_app = typer.main.get_command(build_app(command))
    return {p.name for p in click_app.commands[command].params}  # type: ignore[attr-defined]


def _group(group: object) -> set[str]:
    return set(inspect.signature(group).parameters)  # type: ignore[arg-type]


def test_every_command_is_registered_by_its_module() -> None:
    click_app = typer.main.get_command(build_app())
    assert set(click_app.commands) == set(COMMANDS)  # type: ignore[attr-defined]
    for name in COMMANDS:  # each alone, as a run of that command builds it
        assert name in typer.main.get_command(build_app(name)).commands  # type: ignore[attr-defined]


def test_image_sbom_and_sbom_scan_share_their_option_groups() -> None:
    image_opts, sbom_opts, sbom_scan_opts = _options("image"), _options("sbom"), _options("sbom-scan")
    source, out, found = _group(image_source), _group(report_output()), _group(finding_filters)
    assert source <= image_opts and source <= sbom_opts
    assert out <= image_opts and out <= sbom_opts and out <= sbom_scan_opts
    assert found <= image_opts and found <= sbom_scan_opts
    assert {"quiet", "timeout", "max_layer_size", "platform"} <= sbom_opts  # once missing from sbom


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_closed_standard_output_is_one_error_line(tmp_path: Path, fmt: str) -> None:
    """Started with standard output closed: one error line and exit 2 (the report cannot be written)."""
    archive = image(tmp_path)
    res = subprocess.run([sys.executable, "-m", "hullscan", "image", "--input", str(archive), "--scanners", "none",
                          "-f", fmt, "-q", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=False, stderr=subprocess.PIPE, text=True, timeout=300, cwd=tmp_path,
                         stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert res.returncode == 2
    assert res.stderr == "hullscan: error: cannot write the report to standard output: standard output is closed\n"


def test_the_exit_code_option_ends_the_process_with_it(tmp_path: Path) -> None:
    archive = image(tmp_path)
    res = subprocess.run([sys.executable, "-m", "hullscan", "image", "--input", str(archive), "--scanners", "baseline",
                          "-f", "json", "-q", "--exit-code", "3", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 3 and res.stdout.startswith("{") and res.stderr == ""


def test_a_scan_in_a_library_caller_changes_no_interpreter_state(tmp_path: Path) -> None:
    """The server and other library callers keep their own collector and switch-interval settings."""
    from hullscan.options import ScanOptions
    from hullscan.scan import scan

    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval())
    report = scan(str(image(tmp_path)), ScanOptions(scanners=frozenset({"baseline", "secret"}),
                                                   cache_dir=tmp_path / "cache"))
    assert report.os is not None and report.os.id == "debian"
    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()) == before


#: interpreter-wide settings and ways to end the process that only hullscan/cli/process.py may use
_PROCESS_WIDE = re.compile(r"\bsys\.setswitchinterval\(|\bgc\.(freeze|unfreeze|set_threshold|disable|enable)\(|\bos\._exit\(")


def test_only_the_cli_process_module_changes_interpreter_state() -> None:
    found = [f"{path.relative_to(SRC)}:{n}" for path in sorted(SRC.rglob("*.py")) if path != SRC / "cli" / "process.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if _PROCESS_WIDE.search(line)]
    assert found == []


def test_no_library_module_imports_the_cli() -> None:
    """Commands are edges: the library never imports helpers from them (the old cli <-> sbom cycle)."""
    edges = {SRC / "cli", SRC / "server" / "cli.py", SRC / "vulndb" / "cli.py", SRC / "checks" / "cli.py",
             SRC / "__main__.py", SRC / "server" / "__main__.py"}
    found = [str(path.relative_to(SRC)) for path in sorted(SRC.rglob("*.py"))
             if not any(path == e or e in path.parents for e in edges)
             and re.search(r"^\s*(from hullscan\.cli\b|import hullscan\.cli\b|from hullscan import cli\b)",
                           path.read_text(), re.M)]
    assert found == []
