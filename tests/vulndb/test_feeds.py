"""Feed parsers on fixtures in each feed's documented format and on the real snapshot excerpts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from hullscan.errors import FeedError
from hullscan.vulndb.feeds import FEEDS, alpine, debian, debian_dsa, osv, ubuntu
from hullscan.vulndb.feeds.discover import discover
from hullscan.vulndb.records import AFFECTED, END_OF_LIFE, FIXED, UNKNOWN, WILL_NOT_FIX
from tests.vulndb.fixtures import DEBIAN_TRACKER, DSA_LIST, VULNDATA, needs_vulndata, rng
from tests.vulndb.fixtures import osv as osv_record


def test_registry_lists_every_feed() -> None:
    assert FEEDS.names() == ["osv", "debian", "debian-dsa", "alpine", "ubuntu"]
    assert FEEDS.get("debian").factory().parse is debian.parse


def test_osv_record_fields() -> None:
    rec = osv_record("GHSA-1", "PyPI", "Foo", rng({"introduced": "0"}, {"fixed": "2.0"}),
                     rng({"introduced": "0"}, {"fixed": "abc123"}, type="GIT"), versions=["1.0"],
                     aliases=["CVE-2024-1"], upstream=["CVE-2024-2"], summary=" s ", details="d",
                     severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                               {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
                     references=[{"type": "WEB", "url": "https://example.org/a"}], withdrawn="2024-05-01T00:00:00Z")
    [r] = osv.parse(json.dumps(rec).encode(), "x.json", "osv:test")
    assert (r.id, r.source, r.aliases, r.summary, r.details) == ("GHSA-1", "osv:test", ("CVE-2024-1", "CVE-2024-2"), "s", "d")
    assert len(r.cvss) == 2 and r.withdrawn == "2024-05-01T00:00:00Z" and r.references == ("https://example.org/a",)
    [aff] = r.affected
    assert (aff.namespace, aff.package, aff.fix_status) == ("PyPI", "Foo", FIXED)
    assert aff.entry == {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                         "versions": ["1.0"]}  # GIT ranges dropped


def test_osv_yaml_api_shape_and_errors() -> None:
    yaml_doc = b"id: RUSTSEC-2020-1\nmodified: 2020-01-01\naffected:\n- package: {ecosystem: crates.io, name: x}\n  versions: [0.1.0]\n"
    [r] = osv.parse(yaml_doc, "a.yaml")
    assert r.affected[0].entry == {"versions": ["0.1.0"]} and r.modified == "2020-01-01"
    api = {"vulns": [osv_record("A-1", "npm", "a"), osv_record("A-2", "npm", "b")]}
    assert [r.id for r in osv.parse(json.dumps(api).encode())] == ["A-1", "A-2"]
    with pytest.raises(FeedError, match="bad.json: not valid JSON/YAML"):
        osv.parse(b"{not json", "bad.json")


def test_osv_wolfi_latest_event_and_errata_severity() -> None:
    wolfi = osv_record("CGA-1", "Wolfi", "glibc", rng({"introduced": "0"}),
                       database_specific={"latest_event": {"type": "fix-not-planned"}})
    assert osv.to_record(wolfi).affected[0].fix_status == WILL_NOT_FIX
    untriaged = osv_record("CGA-2", "Wolfi", "glibc", rng({"introduced": "0"}),
                           database_specific={"latest_event": {"type": "detection"}})
    assert osv.to_record(untriaged).affected[0].fix_status == UNKNOWN
    fixed = osv_record("CGA-3", "Wolfi", "glibc", rng({"introduced": "0"}, {"fixed": "2.39-r1"}),
                       database_specific={"latest_event": {"type": "fixed"}})
    assert osv.to_record(fixed).affected[0].fix_status == FIXED
    alma = osv_record("ALSA-1", "AlmaLinux:9", "kernel", rng({"introduced": "0"}, {"fixed": "1-1"}),
                      summary="Moderate: kernel update", related=["CVE-2024-9", "GHSA-x"])
    r = osv.to_record(alma)
    assert (r.severity, r.aliases) == ("Moderate", ("CVE-2024-9",))
    pypi = osv_record("PYSEC-1", "PyPI", "x", summary="Moderate: words", related=["CVE-2024-9"])
    assert (osv.to_record(pypi).severity, osv.to_record(pypi).aliases) == ("", ())


def test_debian_tracker_statuses() -> None:
    records = {r.id: r for r in debian.parse(json.dumps(DEBIAN_TRACKER).encode())}
    assert sorted(records) == ["CVE-2010-0928", "CVE-2018-25032", "CVE-2022-0778", "CVE-2023-2975",
                               "CVE-2023-5678", "CVE-2024-0727", "CVE-2024-9143"]
    assert records["CVE-2022-0778"].affected == ()  # fixed_version "0": not affected
    five = records["CVE-2023-5678"]
    assert five.native and five.source == "debian-tracker" and five.details.startswith("Generating excessively")
    assert sorted((a.namespace, a.package, a.entry["ranges"][0]["events"][-1].get("fixed")) for a in five.affected) == [
        ("Debian:11", "openssl", "1.1.1w-0+deb11u2"), ("Debian:12", "openssl", "3.0.11-1~deb12u2")]  # sid skipped
    statuses = {(r.id, a.namespace): (a.fix_status, a.severity) for r in records.values() for a in r.affected}
    assert statuses[("CVE-2010-0928", "Debian:12")] == (AFFECTED, "unimportant")
    assert statuses[("CVE-2024-0727", "Debian:12")] == (WILL_NOT_FIX, "low")
    assert statuses[("CVE-2024-9143", "Debian:12")] == (UNKNOWN, "")
    assert statuses[("CVE-2018-25032", "Debian:9")] == (END_OF_LIFE, "")
    assert statuses[("CVE-2018-25032", "Debian:12")] == (FIXED, "medium")
    assert debian.sniff(json.dumps(DEBIAN_TRACKER).encode()[:200])
    with pytest.raises(FeedError):
        debian.parse(b"[1, 2]")


def test_dsa_list() -> None:
    records = debian_dsa.parse(DSA_LIST.encode(), "list", "debian-dsa")
    assert [(r.id, r.aliases, r.published) for r in records] == [
        ("DSA-5600-1", ("CVE-2023-5678",), "2023-11-30T00:00:00Z"),
        ("DSA-5500-1", ("CVE-2023-2975", "CVE-2023-3446"), "2023-08-02T00:00:00Z")]
    assert [(a.namespace, a.package) for a in records[1].affected] == [("Debian:12", "openssl")]  # not-affected skipped


def test_alpine_secdb() -> None:
    doc = {"distroversion": "v3.19", "reponame": "main", "packages": [
        {"pkg": {"name": "curl", "secfixes": {"8.5.0-r0": ["CVE-2023-46218", "CVE-2023-46219 GHSA-xxxx"],
                                              "0": ["CVE-2021-22945"]}}}]}
    records = {r.id: r for r in alpine.parse(json.dumps(doc).encode())}
    assert sorted(records) == ["CVE-2023-46218", "CVE-2023-46219"]
    assert records["CVE-2023-46219"].aliases == ("GHSA-xxxx",)
    assert records["CVE-2023-46218"].source == "alpine-secdb:v3.19/main"
    [aff] = records["CVE-2023-46218"].affected
    assert (aff.namespace, aff.package, aff.entry["ranges"][0]["events"]) == (
        "Alpine:v3.19", "curl", [{"introduced": "0"}, {"fixed": "8.5.0-r0"}])
    # YAML: versions stay strings ("0" and "1.10" are not numbers)
    text = b"distroversion: v3.3\nreponame: main\npackages:\n- pkg:\n    name: x\n    secfixes:\n      1.10-r0:\n      - CVE-1\n      0:\n      - CVE-2\n"
    [r] = alpine.parse(text)
    assert r.id == "CVE-1" and r.affected[0].entry["ranges"][0]["events"][1] == {"fixed": "1.10-r0"}


@needs_vulndata
def test_real_native_snapshots() -> None:
    native = Path(VULNDATA) / "native"
    recs = alpine.parse((native / "alpine-secdb/v3.11/main.json").read_bytes())
    openssl = [r for r in recs if any(a.package == "openssl" for a in r.affected)]
    assert len(openssl) == 7 and all(r.id for r in recs)
    fixes = {r.id: a.entry["ranges"][0]["events"][1]["fixed"] for r in openssl for a in r.affected if a.package == "openssl"}
    assert fixes == {"CVE-2019-1551": "1.1.1d-r3", "CVE-2019-1547": "1.1.1d-r1", "CVE-2019-1549": "1.1.1d-r1",
                     "CVE-2019-1563": "1.1.1d-r1", "CVE-2019-1543": "1.1.1b-r1", "CVE-2018-0734": "1.1.1a-r0",
                     "CVE-2018-0735": "1.1.1a-r0"}
    with zipfile.ZipFile(native / "ubuntu-cve-tracker/uct.zip") as zf:
        [r] = ubuntu.parse(zf.read("active/CVE-2019-1010022"))
    assert r.severity == "low" and {a.namespace for a in r.affected} >= {"Ubuntu:18.04:LTS", "Ubuntu:16.04:LTS"}
    dsa = debian_dsa.parse((native / "debian-security-tracker/data/DSA/list").read_bytes())
    assert len(dsa) == 5406 and dsa[0].id == "DSA-5380-1" and dsa[0].aliases == ("CVE-2023-1393",)


def test_discover_classifies_inputs(tmp_path: Path) -> None:
    (tmp_path / "PyPI").mkdir()
    with zipfile.ZipFile(tmp_path / "PyPI" / "all.zip", "w") as zf:
        zf.writestr("A-1.json", json.dumps(osv_record("A-1", "PyPI", "a")))
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "b.json").write_text(json.dumps(osv_record("B-1", "npm", "b")))
    (tmp_path / "secdb").mkdir()
    doc = {"distroversion": "v3.19", "reponame": "main", "packages": []}
    (tmp_path / "secdb" / "main.json").write_text(json.dumps(doc))
    (tmp_path / "secdb" / "main.yaml").write_text("distroversion: v3.19\nreponame: main\npackages:\n")
    (tmp_path / "tracker.json").write_text(json.dumps(DEBIAN_TRACKER))
    (tmp_path / "DLA").mkdir()
    (tmp_path / "DLA" / "list").write_text(DSA_LIST.replace("DSA-", "DLA-"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "other.json").write_text('{"x": 1}')
    found = discover(tmp_path)
    assert sorted((u.name, u.feed) for u in found.units) == [
        ("alpine-secdb:v3.19/main", "alpine"), ("debian-dla", "debian-dsa"), ("debian-tracker", "debian"),
        ("osv:PyPI", "osv"), (f"osv:files:{tmp_path.resolve()}", "osv")]
    assert sorted(Path(p).name for p, _ in found.skipped) == ["notes.txt", "other.json"]
