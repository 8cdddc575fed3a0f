"""Layers are analysed on several threads: the YARA-based analyzers must not leave thread-bound objects behind
(a yara-x Scanner dropped on another thread printed a panic on stderr)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.imagebuild import ImageBuilder


def test_many_layers_with_yara_analyzers_print_nothing_on_stderr(tmp_path):
    b = ImageBuilder()
    for i in range(40):
        b.add_layer({f"app/layer{i}.env": f"TOKEN_{i}=not-a-secret\npassword = 'changeme'\n",
                     f"app/run{i}.sh": "#!/bin/sh\necho hello\n"})
    b.write_oci_layout(tmp_path / "img")
    for _ in range(3):
        res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(tmp_path / "img"), "--scanners",
                              "secret,malware", "--no-cache", "-q", "-f", "json", "--workers", "4"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert res.stderr == "", res.stderr
