"""Issue 16.7: an SPDX document written by hullscan keeps each package's source package, so ``sbom-scan`` of
it finds what ``sbom-scan`` of the CycloneDX document finds (Alpine matching keys on the origin package: libssl3
and libcrypto3 are built from openssl). Image with apk-tools' real database, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.imagebuild import ImageBuilder
from tests.vulndb.fixtures import build_db

APK_DB = Path(__file__).resolve().parents[1] / "data" / "os" / "apk" / "installed"


def _hullscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


def test_spdx_and_cyclonedx_find_the_same_vulnerabilities(tmp_path: Path) -> None:
    secdb = {"distroversion": "v3.19", "reponame": "main", "packages": [
        {"pkg": {"name": "openssl", "secfixes": {"3.1.4-r6": ["CVE-2099-7777"]}}},
        {"pkg": {"name": "zlib", "secfixes": {"1.3.2-r0": ["CVE-2099-8888"]}}}]}
    db = build_db(tmp_path, {"alpine-secdb/v3.19/main.json": secdb})
    image = ImageBuilder().add_layer({"etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
                                      "lib/apk/db/installed": APK_DB.read_bytes()})
    image.write_oci_layout(tmp_path / "img")
    found: dict[str, list[tuple[str, str, str]]] = {}
    for fmt, name in (("cyclonedx", "bom.cdx.json"), ("spdx-json", "bom.spdx.json")):
        out = _hullscan("sbom", str(tmp_path / "img"), "-f", fmt, "-o", str(tmp_path / name), "--no-cache", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        scanned = _hullscan("sbom-scan", str(tmp_path / name), "--db", str(db), "-f", "json", cwd=tmp_path)
        assert scanned.returncode == 0, scanned.stderr
        report = json.loads(scanned.stdout)
        found[fmt] = sorted((f["id"], f["vuln"]["package_name"], f["vuln"]["source_name"]) for f in report["findings"])
    assert found["spdx-json"] == found["cyclonedx"] == [
        ("CVE-2099-7777", "libcrypto3", "openssl"), ("CVE-2099-7777", "libssl3", "openssl"),
        ("CVE-2099-8888", "zlib", "zlib")]
    spdx = json.loads((tmp_path / "bom.spdx.json").read_text())
    ssl = next(p for p in spdx["packages"] if p["name"] == "libssl3")
    assert ssl["sourceInfo"].endswith("; source package openssl 3.1.4-r5")
