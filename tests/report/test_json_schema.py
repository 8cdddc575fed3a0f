"""The JSON report has a documented, versioned schema that real reports satisfy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from hullscan.report.schema import report_schema
from tests.helpers.imagebuild import ImageBuilder

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current():
    committed = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    assert committed == report_schema(), "regenerate: python -m hullscan.report.schema > docs/report-schema.json"


def test_cli_json_report_validates(tmp_path):
    b = ImageBuilder()
    b.add_layer({"etc/os-release": "ID=debian\nVERSION_ID=12\n", "var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
                 "../escape": "x"})
    b.write_oci_layout(tmp_path / "img")
    res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(tmp_path / "img"), "-f", "json", "--scanners", "none",
                          "-o", str(tmp_path / "r.json"), "--cache-dir", str(tmp_path / "c")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    assert report["schema_version"] == 1
    assert report["artifact"]["digest"] == b.digest
    assert report["layers"][0]["diff_id"] == b.layers[0].diff_id
    assert len(report["packages"]) > 50 and report["warnings"][0]["code"] == "path-traversal"
