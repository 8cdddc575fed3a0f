"""Progress on a terminal: drawn on stderr when it is a TTY (layers done, layer bytes read); quiet in CI,
with --quiet, and when stderr is not a terminal. Run for real under a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.imagebuild import ImageBuilder


def run_on_tty(args: list[str], env_extra: dict[str, str]) -> tuple[int, str, bytes]:
    """Run ``hullscan`` with stderr on a pseudo-terminal; returns (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HULLSCAN_DEBUG")}
    env.update({"COLUMNS": "160", **env_extra})
    proc = subprocess.Popen([sys.executable, "-m", "hullscan.cli", *args], stdout=subprocess.PIPE, stderr=slave,
                            env=env)
    os.close(slave)
    screen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, stdout, screen


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "img"
    b = ImageBuilder()
    b.add_layer({"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n"})
    b.add_layer({"opt/blob.bin": os.urandom(3 * 1024 * 1024)}, compression="none")
    b.write_oci_layout(path)
    return path


def test_progress_is_drawn_on_a_terminal(image: Path, tmp_path: Path) -> None:
    code, stdout, screen = run_on_tty(["image", str(image), "--scanners", "none", "--no-cache", "-f", "json"], {})
    assert code == 0 and '"packages"' in stdout
    text = screen.decode("utf-8", "replace")
    assert "pulling and analysing layers" in text
    assert "2/2" in text  # both layers done
    assert "3.0 MiB" in text  # the stored layer bytes read (what a registry pull downloads)
    assert "Traceback" not in text


@pytest.mark.parametrize("env_extra, flags", [({"CI": "true"}, []), ({}, ["--quiet"])], ids=["CI", "--quiet"])
def test_progress_is_quiet_in_ci_and_with_quiet(image: Path, env_extra: dict[str, str], flags: list[str]) -> None:
    code, stdout, screen = run_on_tty(["image", str(image), "--scanners", "none", "--no-cache", "-f", "json", *flags],
                                      env_extra)
    assert code == 0 and '"packages"' in stdout
    assert screen == b""


def test_no_progress_when_stderr_is_not_a_terminal(image: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(image), "--scanners", "none", "--no-cache",
                          "-f", "json"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert res.returncode == 0 and res.stderr == ""
