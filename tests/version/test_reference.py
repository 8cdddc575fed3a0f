"""Our schemes against the ecosystems' own tools, on generated and on real-world versions.

* hypothesis generates batches of tricky versions; every batch is compared pairwise by the
  reference tool in one subprocess (dpkg, rpm, Maven, RubyGems, Composer, node-semver, Go);
* every version in this machine's dpkg status database is sorted with our key and each adjacent
  pair, plus a seeded random sample of pairs, is checked with ``dpkg --compare-versions``;
* every version named in the real OSV records under ``$HULLSCAN_VULNDATA`` is sorted and checked
  the same way against the ecosystem's reference tool, and a sample of the fixed versions in
  Debian's DSA/DLA lists and the Ubuntu CVE tracker against dpkg.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.version import InvalidVersionError, get_scheme
from hullscan.version.rpm import rpmvercmp_key

from . import references
from .strategies import BY_SCHEME, RELAXED, rpm_piece

DPKG_STATUS = Path("/var/lib/dpkg/status")


def _check_against_reference(
    name: str, pairs: list[tuple[str, str]], ref_pairs: list[tuple[str, str]] | None = None
) -> None:
    """Assert our compare() equals the reference on every pair (ref_pairs: same pairs as the tool spells them)."""
    scheme = get_scheme(name)
    ours = [scheme.compare(a, b) for a, b in pairs]
    theirs = references.RUNNERS[name](ref_pairs or pairs)
    wrong = [(a, b, o, t) for (a, b), o, t in zip(pairs, ours, theirs) if o != t]
    assert wrong == [], f"{len(wrong)} of {len(pairs)} pairs differ from the reference: {wrong[:20]}"


def _sorted_neighbours_and_sample(name: str, versions: set[str], sample: int, seed: int) -> list[tuple[str, str]]:
    """Adjacent pairs of the sorted versions (proves the whole order) plus a seeded random sample."""
    scheme = get_scheme(name)
    ordered = sorted(versions, key=lambda v: (scheme.key(v),))
    pairs = list(itertools.pairwise(ordered))
    rnd = random.Random(seed)
    pairs += [(rnd.choice(ordered), rnd.choice(ordered)) for _ in range(sample)]
    return pairs


GENERATED = ["deb", "rpm", "maven", "gem", "composer", "semver", "go"]


@pytest.mark.parametrize("name", GENERATED)
def test_generated_batches_agree_with_reference(name: str) -> None:
    if not references.available(name):
        pytest.skip(f"reference tool for {name} not installed")

    @settings(max_examples=6, deadline=None, suppress_health_check=RELAXED)
    @given(st.lists(BY_SCHEME[name], min_size=2, max_size=16, unique=True))
    def check(versions: list[str]) -> None:
        pairs = list(itertools.combinations(versions, 2))[:60]
        _check_against_reference(name, pairs)

    check()


def test_rpmvercmp_on_bare_strings_agrees_with_rpm() -> None:
    """The segment comparison alone (no epoch/release split) against ``rpm.vercmp``."""
    if not references.available("rpm"):
        pytest.skip("rpm not installed")

    @settings(max_examples=6, deadline=None, suppress_health_check=RELAXED)
    @given(st.lists(rpm_piece, min_size=2, max_size=16, unique=True))
    def check(versions: list[str]) -> None:
        pairs = list(itertools.combinations(versions, 2))[:80]
        keys = [(rpmvercmp_key(a), rpmvercmp_key(b)) for a, b in pairs]
        ours = [(ka > kb) - (ka < kb) for ka, kb in keys]
        assert ours == references.rpmvercmp(pairs), pairs

    check()


def _dpkg_status_versions() -> set[str]:
    versions: set[str] = set()
    for line in DPKG_STATUS.read_text(errors="replace").splitlines():
        if line.startswith("Version: "):
            versions.add(line.split(": ", 1)[1].strip())
        elif line.startswith("Source: ") and "(" in line:
            versions.add(line.split("(", 1)[1].rstrip(")").strip())
    return versions


def test_dpkg_status_versions_agree_with_dpkg() -> None:
    if not references.available("deb") or not DPKG_STATUS.exists():
        pytest.skip("no dpkg here")
    versions = _dpkg_status_versions()
    assert len(versions) >= 50
    pairs = _sorted_neighbours_and_sample("deb", versions, sample=300, seed=20261124)
    _check_against_reference("deb", pairs)


# --- real OSV records --------------------------------------------------------------------------------


def _vulndata() -> Path:
    root = os.environ.get("HULLSCAN_VULNDATA")
    if not root or not Path(root, "README.md").exists():
        pytest.skip("HULLSCAN_VULNDATA not set (offline vulnerability data snapshot)")
    return Path(root)


def osv_versions(zip_path: Path) -> set[str]:
    """Every version string in the ECOSYSTEM/SEMVER events and ``versions`` lists of an OSV bundle."""
    out: set[str] = set()
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.namelist():
            record = json.loads(zf.read(member))
            for affected in record.get("affected") or ():
                out.update(v for v in affected.get("versions") or () if isinstance(v, str))
                for rng in affected.get("ranges") or ():
                    if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                        continue
                    for event in rng.get("events") or ():
                        out.update(v for k, v in event.items() if k != "limit" and v != "0" and isinstance(v, str))
    return out


REAL = [
    ("AlmaLinux", "rpm", 600),
    ("npm", "semver", 300),
    ("crates.io", "cargo", 300),
    ("Go", "go", 300),
    ("RubyGems", "gem", 300),
    ("Packagist", "composer", 300),
]


@pytest.mark.parametrize(("bundle", "name", "sample"), REAL)
def test_real_osv_versions_agree_with_reference(bundle: str, name: str, sample: int) -> None:
    root = _vulndata()
    if not references.available(name):
        pytest.skip(f"reference tool for {name} not installed")
    scheme = get_scheme(name)
    valid = set()
    for v in osv_versions(root / bundle / "all.zip"):
        try:
            scheme.key(v)
        except InvalidVersionError:
            continue
        valid.add(v)
    assert len(valid) >= 100
    pairs = _sorted_neighbours_and_sample(name, valid, sample=sample, seed=3)
    ref_pairs = None
    if name == "go":  # x/mod/semver needs the v that OSV's Go records leave out
        ref_pairs = [(a if a.startswith("v") else "v" + a, b if b.startswith("v") else "v" + b) for a, b in pairs]
    _check_against_reference(name, pairs, ref_pairs)


@pytest.mark.parametrize(("bundle", "name"), [("Wolfi", "apk"), ("PyPI", "pep440"), ("Bitnami", "semver")])
def test_real_osv_versions_parse(bundle: str, name: str) -> None:
    """Bundles without a reference tool here: (nearly) every version parses and sorts."""
    root = _vulndata()
    scheme = get_scheme(name)
    versions = osv_versions(root / bundle / "all.zip")
    bad = [v for v in versions if not scheme.valid(v)]
    assert len(versions) >= 100
    assert len(bad) <= len(versions) // 100, bad[:20]
    ordered = sorted((v for v in versions if scheme.valid(v)), key=scheme.key)
    assert all(scheme.compare(a, b) <= 0 for a, b in itertools.pairwise(ordered))


def _native_debian_versions(root: Path) -> set[str]:
    """Fixed versions named by Debian's DSA/DLA lists and the Ubuntu CVE tracker (native formats)."""
    native = root / "native"
    out: set[str] = set()
    for name in ("DSA", "DLA"):
        path = native / "debian-security-tracker" / "data" / name / "list"
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"\s+\[[a-z-]+\] - \S+ (\S+)", line)
            if m and m.group(1)[0].isdigit():
                out.add(m.group(1))
    with zipfile.ZipFile(native / "ubuntu-cve-tracker" / "uct.zip") as zf:
        for member in zf.namelist():
            for line in zf.read(member).decode(errors="replace").splitlines():
                m = re.match(r"[a-z/_-]+_[^:\s]+: (?:released|not-affected) \(([^)\s]+)\)", line)
                if m and m.group(1)[0].isdigit():
                    out.add(m.group(1))
    return out


def test_real_debian_and_ubuntu_fixed_versions_agree_with_dpkg() -> None:
    root = _vulndata()
    if not references.available("deb"):
        pytest.skip("no dpkg here")
    scheme = get_scheme("deb")
    versions = sorted(v for v in _native_debian_versions(root) if scheme.valid(v))
    assert len(versions) >= 5000
    sample = set(random.Random(11).sample(versions, 500))
    pairs = _sorted_neighbours_and_sample("deb", sample, sample=200, seed=12)
    _check_against_reference("deb", pairs)


def test_real_alpine_secdb_versions_parse() -> None:
    root = _vulndata()
    scheme = get_scheme("apk")
    versions: set[str] = set()
    for path in (root / "native" / "alpine-secdb").glob("*/*.json"):
        for package in json.loads(path.read_text())["packages"]:
            versions.update((package["pkg"].get("secfixes") or {}).keys())
    bad = sorted(v for v in versions if not scheme.valid(v))
    assert len(versions) >= 1000
    # The few rejects are typos in the feed itself ("1.0.4.-r0", "2.7.16-33"); apk rejects them too.
    assert len(bad) <= len(versions) // 50, bad
    assert "1.0.4.-r0" in bad
