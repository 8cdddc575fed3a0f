"""OSV range evaluation on real records from ``$HULLSCAN_VULNDATA`` (skipped when absent).

Two kinds of checks:

* goldens: named records (urllib3, Go stdlib and x/net, an AlmaLinux openjdk advisory, lodash,
  smallvec, nokogiri, symfony/http-kernel, Wolfi openssl, a Bitnami last_affected record) with
  versions whose answer was read off the record by hand;
* a sweep over every ECOSYSTEM/SEMVER range of every bundle: each range's own ``introduced`` and
  ``last_affected`` versions are affected by it and its ``fixed`` versions are not -- the
  boundaries any evaluation must get right, on tens of thousands of real bounds.
"""

from __future__ import annotations

import json
import os
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from hullscan.version import InvalidVersionError
from hullscan.version.osvrange import fixed_versions, is_affected, range_scheme


def _root() -> Path:
    root = os.environ.get("HULLSCAN_VULNDATA")
    if not root or not Path(root, "README.md").exists():
        pytest.skip("HULLSCAN_VULNDATA not set (offline vulnerability data snapshot)")
    return Path(root)


@cache
def _record(bundle: str, record_id: str) -> dict[str, Any]:
    with zipfile.ZipFile(_root() / bundle / "all.zip") as zf:
        return json.loads(zf.read(f"{record_id}.json"))


def _affected(bundle: str, record_id: str, package: str) -> dict[str, Any]:
    record = _record(bundle, record_id)
    return next(a for a in record["affected"] if a["package"]["name"] == package)


GOLDEN = [
    # bundle, record, package, ecosystem, {version: affected?}
    (
        "PyPI",
        "PYSEC-2023-192",
        "urllib3",
        "PyPI",
        {
            "1.25.11": True,
            "1.26.16": True,
            "1.26.17": False,
            "1.26.18": False,
            "2.0.0": True,
            "2.0.5": True,
            "2.0.6": False,
            "2.1.0": False,
        },
    ),
    ("PyPI", "PYSEC-2023-207", "urllib3", "PyPI", {"1.24.1": True, "1.24.2": False, "1.26.0": False}),
    (
        "Go",
        "GO-2022-0969",
        "stdlib",
        "Go",
        {
            "go1.17.13": True,
            "go1.18.5": True,
            "go1.18.6": False,
            "go1.19rc1": True,
            "go1.19": True,
            "go1.19.1": False,
            "1.20.0": False,
        },
    ),
    (
        "Go",
        "GO-2022-0969",
        "golang.org/x/net",
        "Go",
        {"v0.0.0-20220722155237-a158d28d115b": True, "v0.0.0-20220906165146-f3363e06e74c": False, "v0.1.0": False},
    ),
    (
        "AlmaLinux",
        "ALSA-2024:0265",
        "java-1.8.0-openjdk",
        "AlmaLinux:8",
        {
            "1:1.8.0.392.b08-4.el8": True,
            "1:1.8.0.402.b06-1.el8": True,
            "1:1.8.0.402.b06-2.el8": False,
            "1:1.8.0.412.b08-1.el8": False,
        },
    ),
    ("npm", "x_NSWG-ECO-368", "lodash", "npm", {"4.17.4": True, "4.17.5": False, "4.17.21": False, "3.10.1": True}),
    (
        "crates.io",
        "RUSTSEC-2018-0003",
        "smallvec",
        "crates.io",
        {
            "0.3.1": False,
            "0.3.2": True,
            "0.3.4": False,
            "0.4.4": True,
            "0.4.5": False,
            "0.5.0": True,
            "0.5.1": False,
            "0.6.2": True,
            "0.6.3": False,
            "1.0.0": False,
        },
    ),
    (
        "RubyGems",
        "x_RUBYSEC-nokogiri-CVE-2012-6685",
        "nokogiri",
        "RubyGems",
        {"1.5.3": True, "1.5.4": False, "1.5.4.rc1": True},
    ),
    (
        "Packagist",
        "x_FRIENDSOFPHP-symfony__http-kernel-CVE-2014-5245",
        "symfony/http-kernel",
        "Packagist",
        {
            "v1.9.0": False,
            "v2.0.5": True,
            "v2.3.18": True,
            "v2.3.19": False,
            "v2.4.8": True,
            "v2.4.9": False,
            "v2.5.3": True,
            "v2.5.4": False,
            "v2.6.0": False,
        },
    ),
    (
        "Wolfi",
        "CGA-3gfc-9462-mc8m",
        "openssl",
        "Wolfi",
        {"3.0.8-r0": True, "3.1.0_rc1-r0": True, "3.1.0-r0": False, "3.1.4-r2": False},
    ),
    (
        "Bitnami",
        "BIT-activemq-2020-11998",
        "activemq",
        "Bitnami",
        {"5.15.11": False, "5.15.12": True, "5.15.13": False},
    ),
]


@pytest.mark.parametrize(
    ("bundle", "record_id", "package", "ecosystem", "expect"), GOLDEN, ids=[f"{g[1]}-{g[2]}" for g in GOLDEN]
)
def test_golden_records(bundle: str, record_id: str, package: str, ecosystem: str, expect: dict[str, bool]) -> None:
    affected = _affected(bundle, record_id, package)
    got = {v: is_affected(v, affected, ecosystem) for v in expect}
    assert got == expect


def test_golden_fixed_versions() -> None:
    urllib3 = _affected("PyPI", "PYSEC-2023-192", "urllib3")
    assert fixed_versions(urllib3, "PyPI") == ["1.26.17", "2.0.6"]
    assert fixed_versions(urllib3, "PyPI", "2.0.3") == ["2.0.6"]
    smallvec = _affected("crates.io", "RUSTSEC-2018-0003", "smallvec")
    assert fixed_versions(smallvec, "crates.io", "0.4.1") == ["0.4.5", "0.5.1", "0.6.3"]
    stdlib = _affected("Go", "GO-2022-0969", "stdlib")
    assert fixed_versions(stdlib, "Go", "go1.19") == ["1.19.1"]


BUNDLES = ["AlmaLinux", "Bitnami", "Go", "Packagist", "PyPI", "RubyGems", "Wolfi", "crates.io", "npm"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_every_real_range_bound(bundle: str) -> None:
    root = _root()
    checked = 0
    wrong: list[tuple[str, str, str, bool]] = []
    with zipfile.ZipFile(root / bundle / "all.zip") as zf:
        for member in zf.namelist():
            record = json.loads(zf.read(member))
            for affected in record.get("affected") or ():
                ecosystem = affected["package"]["ecosystem"]
                for rng in affected.get("ranges") or ():
                    if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                        continue
                    scheme = range_scheme(rng["type"], ecosystem)
                    try:
                        keys = {
                            v: scheme.key(v) for e in rng["events"] for k, v in e.items() if k != "limit" and v != "0"
                        }
                    except InvalidVersionError:
                        continue
                    single = {"ranges": [rng]}
                    intro = [keys[e["introduced"]] for e in rng["events"] if e.get("introduced", "0") != "0"]
                    ends = [keys[v] for e in rng["events"] for k, v in e.items() if k in ("fixed", "last_affected")]
                    for event in rng["events"]:
                        for kind, version in event.items():
                            if kind == "limit" or version == "0":
                                continue
                            key = keys[version]
                            if kind in ("introduced", "last_affected"):
                                if kind == "introduced" and any(not (key < k or k < key) for k in ends):
                                    continue  # empty interval [x, x)
                                want = True
                            else:
                                if any(not (key < k or k < key) for k in intro):
                                    continue  # re-introduced at the fixed version
                                want = False
                            checked += 1
                            if is_affected(version, single, ecosystem) is not want:
                                wrong.append((record["id"], kind, version, want))
    assert checked >= 100
    assert wrong == []
