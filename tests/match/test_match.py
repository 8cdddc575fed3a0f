"""Matching hand-made inventories against small databases built from feed fixtures: every matcher,
every range shape, alias merging, fix statuses, severities and the "no data" notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.errors import DatabaseError
from hullscan.match import MATCHERS, match_packages, vulnerability_stage
from hullscan.model import Distro, Finding, FixStatus, Inventory, Package, Severity
from hullscan.options import ScanOptions
from hullscan.stages import STAGES, ScanContext
from hullscan.vulndb.db import VulnDB
from tests.vulndb.fixtures import DEBIAN_TRACKER, DSA_LIST, build_db, osv, rng, write_osv_zip

DEBIAN12 = Distro("debian", "12", codename="bookworm")
V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def deb(name: str, version: str, source: str = "", source_version: str = "") -> Package:
    return Package(name, version, "deb", source_name=source, source_version=source_version,
                   path="/var/lib/dpkg/status", layer="sha256:aa")


def by_id(findings: list[Finding], package: str | None = None) -> dict[str, Finding]:
    return {f.id: f for f in findings if package is None or (f.vuln and f.vuln.package_name == package)}


@pytest.fixture(scope="module")
def debian_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    tmp = tmp_path_factory.mktemp("debian")
    path = build_db(tmp, {"tracker/json": DEBIAN_TRACKER, "DSA/list": DSA_LIST})
    db = VulnDB(path)
    yield db
    db.close()


def test_debian_source_package_and_statuses(debian_db: VulnDB) -> None:
    pkgs = [deb("libssl3", "3.0.9-1+b1", "openssl", "3.0.9-1"), deb("zlib1g", "1:1.2.13.dfsg-1", "zlib")]
    result = match_packages(debian_db, DEBIAN12, pkgs)
    found = by_id(result.findings, "libssl3")
    assert sorted(found) == ["CVE-2010-0928", "CVE-2023-2975", "CVE-2023-3446", "CVE-2023-5678",
                             "CVE-2024-0727", "CVE-2024-9143"]
    assert not by_id(result.findings, "zlib1g")  # fixed long before the installed version
    assert result.notes == []
    cve = found["CVE-2023-5678"]
    assert cve.vuln.fixed_versions == ("3.0.11-1~deb12u2",)
    assert cve.vuln.fix_status is FixStatus.FIXED
    assert cve.vuln.aliases == ("DSA-5600-1",)  # one finding per vulnerability, not per source
    assert cve.vuln.data_source == "debian-dsa,debian-tracker"
    assert cve.vuln.installed_version == "3.0.9-1+b1" and cve.vuln.source_name == "openssl"
    assert cve.location.path == "/var/lib/dpkg/status" and cve.location.layer == "sha256:aa"
    assert found["CVE-2023-2975"].severity is Severity.LOW
    assert found["CVE-2023-2975"].vuln.severity_source == "debian-tracker"
    # a DSA naming two CVEs counts for each; the one the tracker lacks comes from the DSA alone
    assert found["CVE-2023-3446"].vuln.aliases == ("DSA-5500-1",)
    assert found["CVE-2023-3446"].vuln.fixed_versions == ("3.0.10-1~deb12u1",)
    assert found["CVE-2010-0928"].vuln.fix_status is FixStatus.AFFECTED
    assert found["CVE-2010-0928"].severity is Severity.NEGLIGIBLE
    assert found["CVE-2024-0727"].vuln.fix_status is FixStatus.WILL_NOT_FIX
    assert found["CVE-2024-9143"].vuln.fix_status is FixStatus.UNKNOWN
    assert "CVE-2022-0778" not in found  # fixed_version "0": never affected


def test_debian_fixed_version_leaves_only_open_issues(debian_db: VulnDB) -> None:
    result = match_packages(debian_db, DEBIAN12, [deb("openssl", "3.0.11-1~deb12u2")])
    assert sorted(by_id(result.findings)) == ["CVE-2010-0928", "CVE-2024-0727", "CVE-2024-9143"]


def test_debian_end_of_life_and_missing_release(debian_db: VulnDB) -> None:
    stretch = match_packages(debian_db, Distro("debian", "9"), [deb("zlib1g", "1:1.2.8.dfsg-5", "zlib")])
    assert [(f.id, f.vuln.fix_status) for f in stretch.findings] == [("CVE-2018-25032", FixStatus.END_OF_LIFE)]
    result = match_packages(debian_db, Distro("debian", "13"), [deb("zlib1g", "1:1.2.8.dfsg-5", "zlib"),
                                                                  deb("libc6", "2.36-9")])
    assert result.findings == []
    assert result.notes == ["no vulnerability data for debian 13: 2 packages not checked"]


def test_no_distro_and_unknown_distro_are_noted(debian_db: VulnDB) -> None:
    result = match_packages(debian_db, None, [deb("zlib1g", "1:1.2.8.dfsg-5", "zlib")])
    assert result.notes == ["no vulnerability matcher for deb packages without a detected distro: 1 not checked"]
    alpine = match_packages(debian_db, Distro("alpine", "3.99.1"), [Package("musl", "1.2.4-r0", "apk")])
    assert alpine.notes == ["no vulnerability data for alpine 3.99.1: 1 package not checked"]


@pytest.fixture(scope="module")
def lang_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    tmp = tmp_path_factory.mktemp("lang")
    records = {
        # PyPI: PEP 503 names, ECOSYSTEM ranges, a GHSA and a PYSEC record of one vulnerability
        "pypi/PYSEC-2021-108.json": osv("PYSEC-2021-108", "PyPI", "urllib3", rng({"introduced": "0"}, {"fixed": "1.26.5"}),
                                         aliases=["CVE-2021-33503", "GHSA-q2q7-5pp4-w6pg"]),
        "pypi/GHSA-q2q7-5pp4-w6pg.json": osv("GHSA-q2q7-5pp4-w6pg", "PyPI", "URLLib3",
                                              rng({"introduced": "1.25.4"}, {"fixed": "1.26.5"}),
                                              aliases=["CVE-2021-33503"], summary="Catastrophic backtracking in URL authority parser",
                                              severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
                                              database_specific={"severity": "HIGH"}),
        "pypi/PYSEC-2021-59.json": osv("PYSEC-2021-59", "PyPI", "urllib3", rng({"introduced": "1.26.0"}, {"fixed": "1.26.4"})),
        "pypi/zope.yaml": "id: PYSEC-2000-1\nmodified: '2024-01-01T00:00:00Z'\naffected:\n- package: {ecosystem: PyPI, name: zope.interface}\n"
                          "  versions: ['5.0', '5.1']\n",
        "pypi/withdrawn.json": osv("PYSEC-2099-1", "PyPI", "urllib3", rng({"introduced": "0"}), withdrawn="2024-02-01T00:00:00Z"),
        # npm SEMVER with last_affected, limit
        "npm/a.json": osv("GHSA-npm-1", "npm", "Lodash", rng({"introduced": "4.0.0"}, {"last_affected": "4.17.20"}, type="SEMVER")),
        "npm/b.json": osv("GHSA-npm-2", "npm", "lodash", rng({"introduced": "0"}, {"limit": "4.0.0"}, type="SEMVER")),
        # Go module path and the standard library
        "go/GO-2023-2102.json": osv("GO-2023-2102", "Go", "stdlib", rng({"introduced": "0"}, {"fixed": "1.20.10"},
                                    {"introduced": "1.21.0-0"}, {"fixed": "1.21.3"}, type="SEMVER"),
                                    aliases=["CVE-2023-39325"], summary="HTTP/2 rapid reset can cause excessive work in net/http"),
        "go/GO-2022-0345.json": osv("GO-2022-0345", "Go", "github.com/containers/buildah",
                                    rng({"introduced": "0"}, {"fixed": "1.22.0"}, type="SEMVER")),
        # Maven group:artifact, crates.io, RubyGems, Packagist, NuGet
        "maven/a.json": osv("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
                            rng({"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}), aliases=["CVE-2021-44228"],
                            severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}]),
        "crates/a.json": osv("RUSTSEC-2020-0071", "crates.io", "time", rng({"introduced": "0.2.7"}, {"fixed": "0.2.23"})),
        "gems/a.json": osv("GHSA-gem-1", "RubyGems", "rack", rng({"introduced": "0"}, {"fixed": "2.2.6.3"})),
        "php/a.json": osv("x_FRIENDSOFPHP-1", "Packagist", "symfony/http-kernel", rng({"introduced": "5.0.0"}, {"fixed": "5.4.20"})),
        "nuget/a.json": osv("GHSA-nuget-1", "NuGet", "Newtonsoft.Json", rng({"introduced": "0"}, {"fixed": "13.0.1"})),
    }
    db = VulnDB(build_db(tmp, records))
    yield db
    db.close()


def lang(name: str, version: str, ecosystem: str, **kw: str) -> Package:
    return Package(name, version, ecosystem, path="/app/manifest", **kw)


def test_pypi_aliases_merge_into_one_finding(lang_db: VulnDB) -> None:
    result = match_packages(lang_db, None, [lang("urllib3", "1.26.4", "PyPI")])
    # issue 16.6: the CVE the records alias is the primary id; the GHSA and PYSEC ids stay as aliases
    assert [f.id for f in result.findings] == ["CVE-2021-33503"]
    f = result.findings[0]
    assert f.vuln.aliases == ("GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-108")
    assert f.vuln.fixed_versions == ("1.26.5",)
    assert f.severity is Severity.HIGH and f.vuln.cvss_score == 7.5
    assert f.vuln.cvss_vector.startswith("CVSS:3.1/") and f.vuln.severity_source == "osv:files:" + str(
        Path(lang_db.path).parent / "feeds") + " (CVSS 3.1)"
    assert f.title == "Catastrophic backtracking in URL authority parser"
    # fixed version: nothing; withdrawn records never match
    assert match_packages(lang_db, None, [lang("urllib3", "1.26.5", "PyPI")]).findings == []


def test_pep503_names_and_versions_lists(lang_db: VulnDB) -> None:
    hits = match_packages(lang_db, None, [lang("Zope_Interface", "5.1", "PyPI"), lang("zope-interface", "5.2", "PyPI")])
    assert [(f.id, f.vuln.installed_version) for f in hits.findings] == [("PYSEC-2000-1", "5.1")]
    assert hits.findings[0].vuln.fix_status is FixStatus.AFFECTED


@pytest.mark.parametrize(("version", "expected"), [
    ("3.10.1", ["GHSA-npm-2"]),  # below the limit
    ("4.0.0", ["GHSA-npm-1"]),
    ("4.17.20", ["GHSA-npm-1"]),  # last_affected is inclusive
    ("4.17.21", []),
])
def test_npm_semver_last_affected_and_limit(lang_db: VulnDB, version: str, expected: list[str]) -> None:
    assert [f.id for f in match_packages(lang_db, None, [lang("lodash", version, "npm")]).findings] == expected


def test_go_stdlib_and_modules(lang_db: VulnDB) -> None:
    pkgs = [lang("stdlib", "go1.21.1", "Go"), lang("stdlib", "1.21.3", "Go"), lang("stdlib", "1.20.9", "Go"),
            lang("github.com/containers/buildah", "v1.21.0", "Go")]
    result = match_packages(lang_db, None, pkgs)
    got = sorted((f.id, f.vuln.installed_version, f.vuln.fixed_versions) for f in result.findings)
    assert got == [("CVE-2023-39325", "1.20.9", ("1.20.10", "1.21.3")),
                   ("CVE-2023-39325", "go1.21.1", ("1.21.3",)),
                   ("GO-2022-0345", "v1.21.0", ("1.22.0",))]


def test_other_ecosystems(lang_db: VulnDB) -> None:
    pkgs = [lang("log4j-core", "2.14.1", "Maven", module="org.apache.logging.log4j"),
            lang("org.apache.logging.log4j:log4j-core", "2.15.0", "Maven"),
            lang("time", "0.2.22", "crates.io"), lang("rack", "2.2.6.2", "RubyGems"),
            lang("symfony/http-kernel", "5.4.19", "Packagist"), lang("newtonsoft.json", "12.0.3", "NuGet"),
            lang("left-pad", "1.0.0", "Hex")]
    result = match_packages(lang_db, None, pkgs)
    assert sorted((f.vuln.ecosystem, f.id) for f in result.findings) == [
        ("Maven", "CVE-2021-44228"), ("NuGet", "GHSA-nuget-1"), ("Packagist", "x_FRIENDSOFPHP-1"),
        ("RubyGems", "GHSA-gem-1"), ("crates.io", "RUSTSEC-2020-0071")]
    log4j = by_id(result.findings)["CVE-2021-44228"]
    assert log4j.severity is Severity.CRITICAL and log4j.vuln.cvss_score == 10.0
    assert result.notes == ["no vulnerability data for Hex: 1 package not checked"]


def test_os_matchers_alpine_wolfi_almalinux(tmp_path: Path) -> None:
    secdb = {"distroversion": "v3.18", "reponame": "main", "packages": [
        {"pkg": {"name": "openssl", "secfixes": {"3.1.4-r1": ["CVE-2023-5678"], "3.1.2-r0": ["CVE-2023-3817 XSA-1"],
                                                 "0": ["CVE-2022-0001"]}}}]}
    wolfi = osv("CGA-aaaa", "Wolfi", "glibc", rng({"introduced": "0"}), aliases=["CVE-2023-0001"],
                database_specific={"latest_event": {"type": "fix-not-planned", "timestamp": "2024-01-01T00:00:00Z"}})
    alma = osv("ALSA-2022:1065", "AlmaLinux:8", "openssl", rng({"introduced": "0"}, {"fixed": "1:1.1.1k-6.el8_5"}),
               summary="Important: openssl security update", related=["CVE-2022-0778"])
    db_path = build_db(tmp_path, {"alpine/v3.18/main.json": secdb,
                                  "AlmaLinux/ALSA-2022:1065.json": alma})
    with VulnDB(db_path) as db:
        assert db.has_namespace("Alpine:v3.18") and not db.has_namespace("Wolfi")
    write_osv_zip(tmp_path / "wolfi" / "Wolfi" / "all.zip", [wolfi])
    from hullscan.vulndb.manage import import_paths

    import_paths(db_path, [tmp_path / "wolfi"])
    with VulnDB(db_path) as db:
        libcrypto = Package("libcrypto3", "3.1.2-r0", "apk", source_name="openssl")
        alp = match_packages(db, Distro("alpine", "3.18.4"), [libcrypto])
        assert [(f.id, f.vuln.fixed_versions) for f in alp.findings] == [("CVE-2023-5678", ("3.1.4-r1",))]
        wol = match_packages(db, Distro("wolfi", "20230201"), [Package("glibc", "2.38-r1", "apk")])
        assert [(f.id, f.vuln.fix_status) for f in wol.findings] == [("CVE-2023-0001", FixStatus.WILL_NOT_FIX)]
        assert wol.findings[0].vuln.aliases == ("CGA-aaaa",)
        rpm = match_packages(db, Distro("almalinux", "8.5"), [Package("openssl", "1:1.1.1k-5.el8_5", "rpm"),
                                                             Package("openssl", "1:1.1.1k-6.el8_5", "rpm")])
        assert [(f.id, f.vuln.installed_version, f.severity) for f in rpm.findings] == [
            ("CVE-2022-0778", "1:1.1.1k-5.el8_5", Severity.HIGH)]
        assert rpm.findings[0].vuln.aliases == ("ALSA-2022:1065",)


def test_ubuntu_tracker(tmp_path: Path) -> None:
    text = """Candidate: CVE-2019-1010022
PublicDate: 2019-07-15 04:15:00 UTC
References:
 https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2019-1010022
Description:
 GNU Libc current is affected by: Mitigation bypass.
Priority: low
CVSS:
 nvd: CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H

Patches_glibc:
upstream_glibc: needs-triage
trusty_glibc: ignored (out of standard support)
xenial_glibc: released (2.23-0ubuntu11.2)
bionic_glibc: needed
eoan_glibc: not-affected
"""
    db_path = build_db(tmp_path, {"uct/active/CVE-2019-1010022": text})
    with VulnDB(db_path) as db:
        def one(version_id: str, version: str) -> list[tuple[str, FixStatus, Severity]]:
            res = match_packages(db, Distro("ubuntu", version_id), [Package("libc6", version, "deb", source_name="glibc")])
            return [(f.id, f.vuln.fix_status, f.severity) for f in res.findings]

        assert one("18.04", "2.27-3ubuntu1") == [("CVE-2019-1010022", FixStatus.AFFECTED, Severity.LOW)]
        assert one("16.04", "2.23-0ubuntu11") == [("CVE-2019-1010022", FixStatus.FIXED, Severity.LOW)]
        assert one("16.04", "2.23-0ubuntu11.2") == []
        assert one("14.04", "2.19-0ubuntu6") == [("CVE-2019-1010022", FixStatus.END_OF_LIFE, Severity.LOW)]
        assert one("19.10", "2.30-0ubuntu2") == []


def test_stage_registered_and_needs_a_database(tmp_path: Path, debian_db: VulnDB) -> None:
    stage = STAGES.get("vuln")
    assert stage.tags == {"vuln"} and stage.factory() is vulnerability_stage
    assert MATCHERS.names() == ["os/debian", "os/ubuntu", "os/alpine", "os/wolfi", "os/rpm", "lang/osv"]
    inv = Inventory(distro=DEBIAN12, packages=[deb("openssl", "3.0.11-1~deb12u2")])
    missing = ScanContext(options=ScanOptions(db_path=tmp_path / "none.db"), inventory=inv)
    with pytest.raises(DatabaseError, match=r"no vulnerability database at .*none\.db: run `hullscan db update`"):
        vulnerability_stage(missing)
    ctx = ScanContext(options=ScanOptions(db_path=debian_db.path), inventory=inv)
    assert [f.id for f in vulnerability_stage(ctx)] == ["CVE-2024-0727", "CVE-2010-0928", "CVE-2024-9143"]
    empty = ScanContext(options=ScanOptions(db_path=tmp_path / "none.db"), inventory=Inventory())
    assert vulnerability_stage(empty) == []


def test_versions_that_cannot_be_compared_are_noted(tmp_path: Path) -> None:
    bad = osv("BIT-x-1", "Bitnami", "mastodon", rng({"introduced": "0"}, {"fixed": "nightly.2026-03-10.0"}, type="SEMVER"))
    good = osv("BIT-x-2", "Bitnami", "mastodon", rng({"introduced": "0"}, {"fixed": "4.0.0"}, type="SEMVER"))
    with VulnDB(build_db(tmp_path, {"bitnami/a.json": bad, "bitnami/b.json": good})) as db:
        result = match_packages(db, None, [Package("mastodon", "3.5.0", "Bitnami"), Package("mastodon", "3.6.0", "Bitnami")])
    assert [f.id for f in result.findings] == ["BIT-x-2", "BIT-x-2"]
    [note] = result.notes
    assert note.startswith("2 advisory entries of 1 advisories (BIT-x-1) could not be compared with the installed "
                           "version and were not checked, e.g. Bitnami mastodon 3.5.0: ")


def test_matching_leaves_the_collector_as_it_found_it(debian_db: VulnDB) -> None:
    """Library code changes no interpreter-wide state: matching leaves the cyclic collector on (or off) as it
    found it, freezes nothing, and cyclic garbage made before is still collected."""
    import gc
    import weakref

    class Node:
        def __init__(self) -> None:
            self.me = self

    before = Node()
    ref_before = weakref.ref(before)
    del before
    result = match_packages(debian_db, DEBIAN12, [deb("openssl", "3.0.11-1~deb12u1")])
    assert result.findings
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.collect()
    assert ref_before() is None  # the cycle made before matching was collected
    gc.disable()
    try:
        match_packages(debian_db, DEBIAN12, [deb("openssl", "3.0.11-1~deb12u1")])
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
