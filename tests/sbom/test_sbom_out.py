"""SBOM out: CycloneDX 1.6 and SPDX 2.3 JSON of a real image, validated against the official schema (CycloneDX,
through cyclonedx-python-lib's strict validator) and by spdx-tools' validator, through the API and the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hullscan.model import ScanReport
from hullscan.report.cyclonedx import render
from hullscan.report.spdx import write as write_spdx
from tests.sbom.conftest import DEB_PACKAGES, SampleImage, run_cli, scan_options


def validate_cyclonedx(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)[:2000]


def validate_spdx(path: Path):  # type: ignore[no-untyped-def]
    from spdx_tools.spdx.parser.json.json_parser import parse_from_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_from_file(str(path))
    messages = validate_full_spdx_document(document)
    assert messages == [], [m.validation_message for m in messages][:10]
    return document


def props(component: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_inventory_of_the_sample_image(sample_report: ScanReport) -> None:
    by_eco: dict[str, set[str]] = {}
    for p in sample_report.packages:
        by_eco.setdefault(p.ecosystem, set()).add(p.name)
    assert by_eco["deb"] == set(DEB_PACKAGES)
    assert by_eco["Maven"] == {"org.apache.commons:commons-lang3", "com.fasterxml.jackson.core:jackson-databind"}
    assert "stdlib" in by_eco["Go"] and "golang.org/x/sys" in by_eco["Go"]
    assert {"rand", "getrandom", "time"} <= by_eco["crates.io"]
    assert sample_report.os is not None and sample_report.os.id == "debian"


def test_cyclonedx_validates_and_describes_the_image(sample_report: ScanReport) -> None:
    text = render(sample_report)
    validate_cyclonedx(text)
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6" and bom["bomFormat"] == "CycloneDX"
    root = bom["metadata"]["component"]
    digest = sample_report.artifact.digest
    assert root["type"] == "container" and root["version"] == digest
    assert root["hashes"] == [{"alg": "SHA-256", "content": digest.split(":", 1)[1]}]
    assert root["purl"].startswith("pkg:oci/") and f"@{digest}?" in root["purl"]
    assert [t["name"] for t in bom["metadata"]["tools"]["components"]] == ["hullscan"]

    components = {c["bom-ref"]: c for c in bom["components"]}
    os_comp = next(c for c in bom["components"] if c["type"] == "operating-system")
    assert os_comp["name"] == "debian"
    libs = [c for c in bom["components"] if c["type"] == "library"]
    assert len(libs) == len(sample_report.packages)
    assert {c["purl"] for c in libs} == {p.purl for p in sample_report.packages}
    lang3 = next(c for c in libs if c["name"] == "commons-lang3")
    assert lang3["group"] == "org.apache.commons" and lang3["purl"] == "pkg:maven/org.apache.commons/commons-lang3@3.12.0"
    p = props(lang3)
    assert p["hullscan:path"] == "/usr/share/java/commons-lang3-3.12.0.jar"
    assert p["hullscan:layer"] == sample_report.layers[1].diff_id
    assert p["hullscan:ecosystem"] == "Maven" and p["hullscan:found_by"] == "lang/java-archive"
    assert lang3["evidence"]["occurrences"] == [{"location": "/usr/share/java/commons-lang3-3.12.0.jar"}]
    cargo = next(c for c in libs if c["name"] == "rand")
    assert props(cargo)["hullscan:installed"] == "false"

    deps = {d["ref"]: set(d.get("dependsOn", [])) for d in bom["dependencies"]}
    assert set(deps) <= set(components) | {"image"}
    assert os_comp["bom-ref"] in deps["image"]
    assert {c["bom-ref"] for c in libs if c["purl"].startswith("pkg:deb/")} == deps[os_comp["bom-ref"]]
    getrandom = next(c["bom-ref"] for c in libs if c["name"] == "getrandom")
    assert {components[r]["name"] for r in deps[getrandom]} == {"cfg-if", "libc", "wasi"}
    openssl = next(c["bom-ref"] for c in libs if c["name"] == "openssl")
    assert {components[r]["name"] for r in deps[openssl]} >= {"libc6", "libssl3"}
    assert "vulnerabilities" not in bom or bom["vulnerabilities"] == []


def test_cyclonedx_is_deterministic(sample_report: ScanReport) -> None:
    assert render(sample_report) == render(sample_report)


def test_spdx_validates_and_relates(sample_report: ScanReport, tmp_path: Path) -> None:
    buf = io.StringIO()
    write_spdx(sample_report, buf)
    path = tmp_path / "sbom.spdx.json"
    path.write_text(buf.getvalue())
    document = validate_spdx(path)
    data = json.loads(buf.getvalue())
    assert data["spdxVersion"] == "SPDX-2.3"
    image = next(p for p in data["packages"] if p["SPDXID"] == "SPDXRef-Image")
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["checksums"] == [{"algorithm": "SHA256", "checksumValue": sample_report.artifact.digest.split(":", 1)[1]}]
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in data["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image") in rels
    libs = [p for p in data["packages"] if p.get("primaryPackagePurpose") == "LIBRARY"]
    assert len(libs) == len(sample_report.packages) == len(document.packages) - 2  # image + OS
    purls = {r["referenceLocator"] for p in libs for r in p["externalRefs"] if r["referenceType"] == "purl"}
    assert purls == {p.purl for p in sample_report.packages}
    assert all(("SPDXRef-Image", "CONTAINS", p["SPDXID"]) in rels for p in libs)
    ids = {p["name"] + "@" + p["versionInfo"]: p["SPDXID"] for p in libs}
    assert (ids["getrandom@0.2.10"], "DEPENDS_ON", ids["cfg-if@1.0.0"]) in rels
    jar = next(p for p in libs if p["name"] == "org.apache.commons:commons-lang3")
    assert "/usr/share/java/commons-lang3-3.12.0.jar" in jar["sourceInfo"] and sample_report.layers[1].diff_id in jar["sourceInfo"]


def test_cli_sbom_both_formats(sample_image: SampleImage, tmp_path: Path) -> None:
    out = tmp_path / "cli.cdx.json"
    run_cli("sbom", str(sample_image.layout), "--format", "cyclonedx", "--output", str(out), "-q", "--no-cache",
            "--cache-dir", str(tmp_path / "c"))
    validate_cyclonedx(out.read_text())
    assert len([c for c in json.loads(out.read_text())["components"] if c["type"] == "library"]) > 20
    result = run_cli("sbom", str(sample_image.archive), "--format", "spdx-json", "-q", "--cache-dir", str(tmp_path / "c"))
    spdx = tmp_path / "cli.spdx.json"
    spdx.write_text(result.stdout)
    validate_spdx(spdx)
    bad = run_cli("sbom", str(sample_image.layout), "--format", "table", check=False)
    assert bad.returncode == 2 and "unknown SBOM format 'table'" in bad.stderr and "Traceback" not in bad.stderr


def test_image_cyclonedx_has_vulnerabilities(sample_image: SampleImage, vulndb: Path, tmp_path: Path) -> None:
    from hullscan.scan import scan

    report = scan(str(sample_image.layout), scan_options(tmp_path, frozenset({"vuln"}), vulndb))
    text = render(report)
    validate_cyclonedx(text)
    bom = json.loads(text)
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    refs = {c["bom-ref"]: c for c in bom["components"]}
    # CVE-2020-26235 (RUSTSEC-2020-0071, an alias since issue 16.6): time 0.1.x (the Cargo.lock locks time 0.1.45)
    time_vuln = vulns["CVE-2020-26235"]
    affected = [refs[a["ref"]] for a in time_vuln["affects"]]
    assert [(c["name"], c["version"]) for c in affected] == [("time", "0.1.45")]
    assert time_vuln["affects"][0]["versions"] == [{"status": "affected", "version": "0.1.45"}]
    assert time_vuln["source"]["name"] and time_vuln["ratings"]
    assert any(r["id"] == "RUSTSEC-2020-0071" and r["source"]["name"] == "RUSTSEC" for r in time_vuln.get("references", []))
    # the Go standard library of docker-registry (go1.19.8) has advisories too
    stdlib = [v for v in vulns.values() if any(refs[a["ref"]]["name"] == "stdlib" for a in v["affects"])]
    assert stdlib and all(v["id"].startswith(("GO-", "CVE-")) for v in stdlib)  # the CVE when the Go record names one
    assert len(vulns) == len({f.id for f in report.findings if f.vuln is not None})
    cli = run_cli("image", str(sample_image.layout), "--format", "cyclonedx", "--db", str(vulndb), "-q",
                  "--cache-dir", str(tmp_path / "c"))
    assert {v["id"] for v in json.loads(cli.stdout)["vulnerabilities"]} == set(vulns)

    # an OpenVEX statement: the image is not affected by CVE-2020-26235 through time 0.1.45
    vex = tmp_path / "vex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "test",
        "timestamp": "2026-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2020-26235"}, "products": [{"@id": "pkg:cargo/time@0.1.45"}],
                        "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}],
    }))
    cli = run_cli("image", str(sample_image.layout), "--format", "cyclonedx", "--db", str(vulndb), "-q",
                  "--cache-dir", str(tmp_path / "c"), "--vex", str(vex))
    validate_cyclonedx(cli.stdout)
    analysed = [v for v in json.loads(cli.stdout)["vulnerabilities"] if v["id"] == "CVE-2020-26235"]
    assert len(analysed) == 1 and analysed[0]["bom-ref"].startswith("vuln:CVE-2020-26235:vex")
    assert analysed[0]["analysis"]["state"] == "not_affected"
    assert analysed[0]["analysis"]["justification"] == "code_not_reachable"
    assert analysed[0]["affects"][0]["versions"] == [{"status": "unaffected", "version": "0.1.45"}]

    # read back by sbom-scan, the document's own analysis suppresses the finding it clears
    from hullscan.options import ScanOptions
    from hullscan.sbom import scan_sbom

    vexed = tmp_path / "vexed.cdx.json"
    vexed.write_text(cli.stdout)
    again = scan_sbom(vexed, ScanOptions(scanners=frozenset({"vuln"}), db_path=vulndb))
    assert "CVE-2020-26235" not in {f.id for f in again.findings}
    assert [(f.id, f.vuln.package_name, why) for f, why in again.suppressed if f.vuln] == [
        ("CVE-2020-26235", "time", "VEX not_affected in the SBOM: code_not_reachable")]
    assert {f.id for f in again.findings} == set(vulns) - {"CVE-2020-26235"}


def test_large_inventory_with_repeated_purls(sample_report: ScanReport, tmp_path: Path) -> None:
    """Thousands of packages, the same purls in many files: unique refs, complete graph, both documents valid."""
    from dataclasses import replace

    copies = 8
    big = replace(sample_report, packages=[replace(p, path=f"/srv/copy{i}{p.path}") for i in range(copies)
                                           for p in sample_report.packages])
    text = render(big)
    validate_cyclonedx(text)
    bom = json.loads(text)
    libs = [c for c in bom["components"] if c["type"] == "library"]
    assert len(libs) == len({c["bom-ref"] for c in libs}) == copies * len(sample_report.packages)
    assert {d["ref"] for d in bom["dependencies"]} == {c["bom-ref"] for c in bom["components"]} | {"image"}
    getrandoms = [c["bom-ref"] for c in libs if c["name"] == "getrandom"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    for ref in getrandoms:  # each copy depends on the crates of its own Cargo.lock
        path = next(p["value"] for p in next(c for c in libs if c["bom-ref"] == ref)["properties"] if p["name"] == "hullscan:path")
        targets = [next(c for c in libs if c["bom-ref"] == t) for t in deps[ref]]
        assert {c["name"] for c in targets} == {"cfg-if", "libc", "wasi"}
        assert all(props(c)["hullscan:path"] == path for c in targets)
    buf = io.StringIO()
    write_spdx(big, buf)
    (tmp_path / "big.spdx.json").write_text(buf.getvalue())
    validate_spdx(tmp_path / "big.spdx.json")


def test_cli_sbom_from_an_authenticated_registry(basic_registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``hullscan sbom`` on an image pulled from a real registry (https with a test CA, basic auth)."""
    from tests.helpers.imagebuild import ImageBuilder
    from tests.helpers.registry_server import push_image

    b = ImageBuilder()
    b.add_layer({"usr/share/java/commons-lang3-3.12.0.jar": Path("/usr/share/java/commons-lang3-3.12.0.jar").read_bytes()})
    ref = push_image(basic_registry, b, "sbom/java", "1.0")
    out = tmp_path / "registry.cdx.json"
    run_cli("sbom", ref, "--username", basic_registry.username, "--password", basic_registry.password,
            "--ca-bundle", str(basic_registry.ca_bundle), "-o", str(out), "-q", "--cache-dir", str(tmp_path / "c"))
    validate_cyclonedx(out.read_text())
    bom = json.loads(out.read_text())
    root = bom["metadata"]["component"]
    assert root["version"] == b.digest and props(root)["hullscan:image:tag"] == "1.0"
    assert [c["purl"] for c in bom["components"]] == ["pkg:maven/org.apache.commons/commons-lang3@3.12.0"]
    denied = run_cli("sbom", ref, "--ca-bundle", str(basic_registry.ca_bundle), "-q", "--cache-dir", str(tmp_path / "c"),
                     check=False)
    assert denied.returncode != 0 and "Traceback" not in denied.stderr and len(denied.stderr.strip().splitlines()) == 1


def test_licenses_in_both_formats(sample_report: ScanReport, tmp_path: Path) -> None:
    """SPDX ids, a lone expression and free text, written the way each standard wants and read back."""
    from dataclasses import replace

    from hullscan.sbom import read_sbom

    by_name = {"cfg-if": ("MIT",), "libc": ("MIT OR Apache-2.0",), "rand": ("MIT", "Apache-2.0"), "time": ("BSD-like",)}
    report = replace(sample_report, packages=[replace(p, licenses=by_name.get(p.name, ())) for p in sample_report.packages])
    text = render(report)
    validate_cyclonedx(text)
    comps = {c["name"]: c for c in json.loads(text)["components"]}
    assert comps["cfg-if"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert comps["libc"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert comps["rand"]["licenses"] == [{"license": {"id": "Apache-2.0"}}, {"license": {"id": "MIT"}}] or \
        comps["rand"]["licenses"] == [{"license": {"id": "MIT"}}, {"license": {"id": "Apache-2.0"}}]
    assert comps["time"]["licenses"] == [{"license": {"name": "BSD-like"}}]
    buf = io.StringIO()
    write_spdx(report, buf)
    path = tmp_path / "lic.spdx.json"
    path.write_text(buf.getvalue())
    validate_spdx(path)
    declared = {p["name"]: p["licenseDeclared"] for p in json.loads(buf.getvalue())["packages"]}
    assert declared["cfg-if"] == "MIT" and declared["libc"] == "MIT OR Apache-2.0"
    # issue 16.7: a licence outside the SPDX list is a LicenseRef- with its text in hasExtractedLicensingInfos
    assert declared["rand"] == "MIT AND Apache-2.0" and declared["time"] == "LicenseRef-BSD-like"
    assert json.loads(buf.getvalue())["hasExtractedLicensingInfos"] == [
        {"licenseId": "LicenseRef-BSD-like", "extractedText": "BSD-like", "name": "BSD-like"}]
    cdx = tmp_path / "lic.cdx.json"
    cdx.write_text(text)
    back = {p.name: p.licenses for p in read_sbom(cdx).packages}
    assert back["libc"] == ("MIT OR Apache-2.0",) and set(back["rand"]) == {"MIT", "Apache-2.0"}
    assert {p.name: p.licenses for p in read_sbom(path).packages}["rand"] == ("MIT AND Apache-2.0",)
    assert {p.name: p.licenses for p in read_sbom(path).packages}["time"] == ("LicenseRef-BSD-like",)


def test_spdx_tag_value_with_leading_comments(sample_report: ScanReport, tmp_path: Path) -> None:
    """Issue 16.7: a tag-value document that begins with comment lines (as spdx-tools and other tools write
    them) is read."""
    from spdx_tools.spdx.writer.tagvalue.tagvalue_writer import write_document_to_stream

    from hullscan.report.spdx import build_document
    from hullscan.sbom import read_sbom

    buf = io.StringIO()
    write_document_to_stream(build_document(sample_report), buf, validate=False)
    path = tmp_path / "doc.spdx"
    path.write_text("# Document produced by a generator\n#   with a comment header\n\n" + buf.getvalue())
    doc = read_sbom(path)
    assert doc.format == "spdx-tag-value"
    assert sorted(p.name for p in doc.packages) == sorted(p.name for p in sample_report.packages)
