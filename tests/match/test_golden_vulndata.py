"""Golden matching on real records of the offline snapshot ($HULLSCAN_VULNDATA): PyPI, Go and
AlmaLinux bundles imported as they are; known vulnerable and fixed versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.match import match_packages
from hullscan.model import Distro, FixStatus, Package, Severity
from hullscan.vulndb.db import VulnDB
from hullscan.vulndb.manage import import_paths
from tests.vulndb.fixtures import VULNDATA, needs_vulndata

pytestmark = needs_vulndata


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    root = Path(VULNDATA)
    path = tmp_path_factory.mktemp("real") / "vuln.db"
    import_paths(path, [root / "PyPI" / "all.zip", root / "Go" / "all.zip", root / "AlmaLinux" / "all.zip"])
    db = VulnDB(path)
    yield db
    db.close()


def ids(db: VulnDB, pkg: Package, distro: Distro | None = None) -> list[str]:
    return sorted(f.id for f in match_packages(db, distro, [pkg]).findings)


def test_sources_imported(real_db: VulnDB) -> None:
    assert {s.name: s.records for s in real_db.sources()} == {"osv:AlmaLinux": 5637, "osv:Go": 4291, "osv:PyPI": 2661}


def test_pypi_urllib3(real_db: VulnDB) -> None:
    result = match_packages(real_db, None, [Package("urllib3", "1.26.4", "PyPI")])
    got = {f.id: f for f in result.findings}
    # issue 16.6: the CVE is the primary id, PYSEC and GHSA ids are aliases; the title is the flaw, not the package
    assert sorted(got) == ["CVE-2021-33503", "CVE-2023-43804", "CVE-2023-45803"]
    cookie = got["CVE-2023-43804"]
    assert cookie.vuln.aliases == ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192")
    assert cookie.title.startswith("urllib3 doesn't treat the `Cookie` HTTP header special")
    assert cookie.vuln.fixed_versions == ("1.26.17", "2.0.6") and cookie.vuln.fix_status is FixStatus.FIXED
    assert cookie.severity is Severity.HIGH and cookie.vuln.cvss_vector.startswith("CVSS:3.1/")
    assert got["CVE-2021-33503"].vuln.fixed_versions == ("1.26.5",)
    # PYSEC-2021-108 carries no rating: the AlmaLinux errata naming the same CVE gives one, and says so
    redos = got["CVE-2021-33503"]
    assert redos.severity is Severity.MEDIUM and redos.vuln.severity_source.startswith("osv:AlmaLinux ALSA-")
    assert redos.vuln.severity_source.endswith(" via CVE-2021-33503")
    assert ids(real_db, Package("urllib3", "1.26.18", "PyPI")) == []
    assert ids(real_db, Package("URLLib3", "1.26.5", "PyPI")) == ["CVE-2023-43804", "CVE-2023-45803"]


def test_go_module_and_stdlib(real_db: VulnDB) -> None:
    net = ids(real_db, Package("golang.org/x/net", "v0.7.0", "Go"))
    assert len(net) == 16 and {"CVE-2023-3978", "CVE-2023-39325", "CVE-2023-45288"} <= set(net)  # GO-2023-1988...
    assert "CVE-2023-3978" not in ids(real_db, Package("golang.org/x/net", "v0.13.0", "Go"))
    stdlib = match_packages(real_db, None, [Package("stdlib", "go1.22.4", "Go")]).findings
    assert len(stdlib) == 59
    first = next(f for f in stdlib if f.id == "CVE-2024-24791")
    assert first.vuln.fixed_versions[0] == "1.22.5" and first.vuln.aliases == ("GO-2024-2963",)


def test_almalinux_openssl(real_db: VulnDB) -> None:
    old = match_packages(real_db, Distro("almalinux", "8.5"), [Package("openssl", "1:1.1.1k-5.el8_5", "rpm")])
    got = {f.id: f for f in old.findings}
    assert len(got) == 17
    loop = got["CVE-2022-0778"]
    assert loop.vuln.aliases == ("ALSA-2022:1065",) and loop.vuln.fixed_versions == ("1:1.1.1k-6.el8_5",)
    assert loop.severity is Severity.HIGH and loop.vuln.severity_source == "osv:AlmaLinux"
    newer = ids(real_db, Package("openssl", "1:1.1.1k-14.el8_6", "rpm"), Distro("almalinux", "8.10"))
    assert newer == ["CVE-2024-4741", "CVE-2025-69419", "CVE-2025-9230", "CVE-2026-28390", "CVE-2026-45447"]
    # release namespaces never mix: the AlmaLinux 8 fix does not apply to an AlmaLinux 9 package
    nine = match_packages(real_db, Distro("almalinux", "9.3"), [Package("openssl", "1:1.1.1k-5.el8_5", "rpm")])
    assert "ALSA-2022:1065" not in {a for f in nine.findings for a in f.vuln.aliases}
    assert real_db.has_namespace("AlmaLinux:10") and not real_db.has_namespace("AlmaLinux:7")
    none = match_packages(real_db, Distro("rocky", "9.3"), [Package("openssl", "1:3.0.7-24.el9", "rpm")])
    assert none.findings == [] and none.notes == ["no vulnerability data for rocky 9.3: 1 package not checked"]
