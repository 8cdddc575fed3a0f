"""OSV ``affected[]`` evaluation on small records written here: every range shape, every ecosystem."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from hullscan.version import InvalidVersionError, UnknownEcosystemError
from hullscan.version.osvrange import fixed_versions, is_affected

from .tables import TABLE_DIR


def entry(ecosystem: str, *ranges: dict[str, Any], versions: list[str] | None = None) -> dict[str, Any]:
    """One OSV affected[] entry."""
    out: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": "pkg"}, "ranges": list(ranges)}
    if versions is not None:
        out["versions"] = versions
    return out


def rng(*events: tuple[str, str], type_: str = "ECOSYSTEM", **extra: Any) -> dict[str, Any]:
    """One range from (kind, version) events."""
    return {"type": type_, "events": [{kind: value} for kind, value in events], **extra}


# --- range shapes (PyPI ordering) ------------------------------------------------------------------

SHAPES = [
    # (events, version, affected?)
    ([("introduced", "0")], "0.0.1", True),
    ([("introduced", "0")], "99.0", True),
    ([("introduced", "0"), ("fixed", "1.26.5")], "1.26.4", True),
    ([("introduced", "0"), ("fixed", "1.26.5")], "1.26.5", False),
    ([("introduced", "0"), ("fixed", "1.26.5")], "1.26.5rc1", True),
    ([("introduced", "0"), ("fixed", "1.26.5")], "1.26.5.post1", False),
    ([("introduced", "2.0"), ("fixed", "2.2")], "1.9", False),
    ([("introduced", "2.0"), ("fixed", "2.2")], "2.0", True),
    ([("introduced", "2.0"), ("fixed", "2.2")], "2.0.0", True),
    ([("introduced", "2.0"), ("fixed", "2.2")], "2.0rc1", False),
    ([("introduced", "2.0"), ("fixed", "2.2")], "2.1.9", True),
    ([("introduced", "2.0"), ("fixed", "2.2")], "2.2", False),
    ([("introduced", "0"), ("last_affected", "1.5")], "1.5", True),
    ([("introduced", "0"), ("last_affected", "1.5")], "1.5.0", True),
    ([("introduced", "0"), ("last_affected", "1.5")], "1.5.post1", False),
    ([("introduced", "0"), ("last_affected", "1.5")], "1.6", False),
    # several intervals in one range
    ([("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")], "1.1", True),
    ([("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")], "1.5", False),
    ([("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")], "2.2", True),
    ([("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")], "2.3", False),
    # events in any order are sorted first (OSV "sorted(range.events)")
    ([("fixed", "2.3"), ("introduced", "2.0"), ("fixed", "1.2"), ("introduced", "1.0")], "1.5", False),
    ([("fixed", "2.3"), ("introduced", "2.0"), ("fixed", "1.2"), ("introduced", "1.0")], "2.2", True),
    ([("fixed", "1.26.17"), ("introduced", "2.0.0"), ("fixed", "2.0.6"), ("introduced", "0")], "1.26.16", True),
    ([("fixed", "1.26.17"), ("introduced", "2.0.0"), ("fixed", "2.0.6"), ("introduced", "0")], "1.26.17", False),
    ([("fixed", "1.26.17"), ("introduced", "2.0.0"), ("fixed", "2.0.6"), ("introduced", "0")], "2.0.5", True),
    # no introduced at all: nothing is affected
    ([("fixed", "1.0")], "0.5", False),
    # introduced and fixed at the same version: empty interval
    ([("introduced", "1.0"), ("fixed", "1.0")], "1.0", False),
    # limit: versions at or above every limit are out; "*" is infinity
    ([("introduced", "0"), ("limit", "2.0")], "1.9", True),
    ([("introduced", "0"), ("limit", "2.0")], "2.0", False),
    ([("introduced", "0"), ("limit", "*")], "500", True),
    ([("introduced", "0"), ("limit", "1.0"), ("limit", "3.0")], "2.5", True),
    ([("introduced", "0"), ("limit", "1.0"), ("limit", "3.0")], "3.0", False),
    ([("introduced", "1.0"), ("fixed", "1.5"), ("limit", "1.2")], "1.3", False),
]


@pytest.mark.parametrize(("events", "version", "want"), SHAPES)
def test_range_shapes(events: list[tuple[str, str]], version: str, want: bool) -> None:
    assert is_affected(version, entry("PyPI", rng(*events)), "PyPI") is want


def test_event_order_never_matters() -> None:
    events = [
        ("introduced", "1.0"),
        ("fixed", "1.2"),
        ("introduced", "2.0"),
        ("last_affected", "2.4"),
        ("introduced", "3.0"),
    ]
    probes = ["0.9", "1.0", "1.1", "1.2", "1.9", "2.0", "2.4", "2.4.1", "2.9", "3.0", "9.9"]
    want = [is_affected(v, entry("PyPI", rng(*events)), "PyPI") for v in probes]
    assert want == [False, True, True, False, False, True, True, False, False, True, True]
    rnd = random.Random(7)
    for _ in range(20):
        shuffled = events[:]
        rnd.shuffle(shuffled)
        assert [is_affected(v, entry("PyPI", rng(*shuffled)), "PyPI") for v in probes] == want


def test_multiple_ranges_any_hit_is_affected() -> None:
    e = entry(
        "npm",
        rng(("introduced", "1.0.0"), ("fixed", "1.0.5"), type_="SEMVER"),
        rng(("introduced", "2.0.0"), ("fixed", "2.1.0"), type_="SEMVER"),
    )
    assert [is_affected(v, e, "npm") for v in ["1.0.4", "1.0.5", "2.0.9", "2.1.0", "0.9.0"]] == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_versions_list_alone_and_with_ranges() -> None:
    only = entry("PyPI", versions=["1.0", "1.1"])
    assert is_affected("1.1", only, "PyPI")
    assert is_affected("1.1.0", only, "PyPI")  # equal under PEP 440
    assert not is_affected("1.2", only, "PyPI")
    both = entry("PyPI", rng(("introduced", "2.0"), ("fixed", "2.1")), versions=["1.0"])
    assert is_affected("1.0", both, "PyPI") and is_affected("2.0.5", both, "PyPI")
    assert not is_affected("1.5", both, "PyPI")


def test_git_ranges_are_ignored_but_versions_still_match() -> None:
    git = rng(
        ("introduced", "0"),
        ("fixed", "644124ecd0b6e417c527191f866daa05a5a2056d"),
        type_="GIT",
        repo="https://example.invalid/x",
    )
    assert not is_affected("1.0", entry("PyPI", git), "PyPI")
    assert is_affected("1.0", entry("PyPI", git, versions=["1.0"]), "PyPI")


def test_database_specific_is_ignored() -> None:
    plain = entry("PyPI", rng(("introduced", "0"), ("fixed", "2.0")))
    noisy = entry(
        "PyPI",
        rng(("introduced", "0"), ("fixed", "2.0"), database_specific={"last_known_affected_version_range": "<= 9"}),
    )
    noisy["database_specific"] = {"fixed": "0.1"}
    noisy["ecosystem_specific"] = {"affects": ["x"]}
    for v in ["1.0", "2.0", "3.0"]:
        assert is_affected(v, plain, "PyPI") == is_affected(v, noisy, "PyPI")


def test_empty_and_malformed_entries() -> None:
    assert not is_affected("1.0", {}, "PyPI")
    assert not is_affected("1.0", {"ranges": [{"type": "ECOSYSTEM", "events": []}]}, "PyPI")
    assert not is_affected(
        "1.0", {"ranges": ["junk", {"type": "ECOSYSTEM", "events": ["junk", {"introduced": 5}]}]}, "PyPI"
    )


# --- every ecosystem ----------------------------------------------------------------------------

ECOSYSTEM_CASES = yaml.safe_load((TABLE_DIR / "osv_ecosystems.yaml").read_text())


@pytest.mark.parametrize("case", ECOSYSTEM_CASES, ids=[f"{c['ecosystem']}-{i}" for i, c in enumerate(ECOSYSTEM_CASES)])
def test_every_ecosystem(case: dict[str, Any]) -> None:
    assert all(isinstance(v, str) for v in case["expect"]), "quote versions in the YAML"
    events = [next(iter(event.items())) for event in case["events"]]
    e = entry(case["ecosystem"], rng(*events, type_=case["type"]))
    got = {version: is_affected(version, e, case["ecosystem"]) for version in case["expect"]}
    assert got == case["expect"]


def test_every_ecosystem_family_has_a_case() -> None:
    from hullscan.version import SCHEMES, scheme_name

    covered = {scheme_name(c["ecosystem"]) or "semver" for c in ECOSYSTEM_CASES}
    assert covered == set(SCHEMES.names())


# --- errors ------------------------------------------------------------------------------------------


def test_invalid_installed_version_raises() -> None:
    with pytest.raises(InvalidVersionError) as info:
        is_affected("not a version!", entry("PyPI", rng(("introduced", "0"), ("fixed", "1.0"))), "PyPI")
    assert info.value.version == "not a version!"


def test_invalid_bound_raises_unless_another_range_hits() -> None:
    bad = rng(("introduced", "0"), ("fixed", "2019-09-12"))
    good = rng(("introduced", "1.0"), ("fixed", "1.5"))
    with pytest.raises(InvalidVersionError):
        is_affected("3.0", entry("PyPI", bad, good), "PyPI")
    assert is_affected("1.2", entry("PyPI", bad, good), "PyPI") is True


def test_unknown_ecosystem() -> None:
    e = entry("Nonesuch", rng(("introduced", "0"), ("fixed", "1.0")), versions=["0.5"])
    assert is_affected("0.5", e, "Nonesuch") is True
    with pytest.raises(UnknownEcosystemError) as info:
        is_affected("0.7", e, "Nonesuch")
    assert isinstance(info.value, KeyError)
    assert "Nonesuch" in str(info.value)


# --- fixed versions -------------------------------------------------------------------------------


def test_fixed_versions_sorted_in_ecosystem_order() -> None:
    e = entry(
        "PyPI",
        rng(("introduced", "2.0"), ("fixed", "2.10"), ("introduced", "0"), ("fixed", "1.9")),
        rng(("introduced", "3.0"), ("last_affected", "3.1")),
        rng(("introduced", "0"), ("fixed", "abc1234"), type_="GIT", repo="https://example.invalid/x"),
    )
    assert fixed_versions(e, "PyPI") == ["1.9", "2.10"]
    assert fixed_versions(e, "PyPI", "1.0") == ["1.9", "2.10"]
    assert fixed_versions(e, "PyPI", "2.5") == ["2.10"]
    assert fixed_versions(e, "PyPI", "3.0") == []  # only last_affected: no fix known
    assert fixed_versions(e, "PyPI", "1.9") == []  # not affected by the range


def test_fixed_versions_deb_order_and_dedup() -> None:
    e = entry(
        "Debian:12",
        rng(("introduced", "0"), ("fixed", "1.0-2")),
        rng(("introduced", "0"), ("fixed", "1.0-1+deb12u1")),
        rng(("introduced", "0"), ("fixed", "1.0-2")),
    )
    assert fixed_versions(e, "Debian:12") == ["1.0-1+deb12u1", "1.0-2"]
    assert fixed_versions(e, "Debian:12", "1.0-1+deb12u1") == ["1.0-2"]


def test_fixed_versions_skips_unparseable_bounds() -> None:
    e = entry("PyPI", rng(("introduced", "0"), ("fixed", "2019-09-12")), rng(("introduced", "0"), ("fixed", "1.2")))
    assert fixed_versions(e, "PyPI") == ["1.2"]
    assert fixed_versions(e, "PyPI", "not a version!") == []


def test_same_range_means_different_things_per_ecosystem() -> None:
    """Compiled ranges are cached per ecosystem: one events list, two orders."""
    shared = rng(("introduced", "0"), ("fixed", "1.0"))
    assert is_affected("1.0_rc1", entry("Alpine:v3.19", shared), "Alpine:v3.19") is True  # apk: _rc < release
    assert is_affected("1.0+rc1", entry("Debian:12", shared), "Debian:12") is False  # dpkg: "+" sorts after the end
    assert is_affected("1.0~rc1", entry("Debian:12", shared), "Debian:12") is True
    assert is_affected("1.0-1", entry("PyPI", shared), "PyPI") is False  # PEP 440: 1.0-1 is 1.0.post1


def test_fixed_versions_unknown_ecosystem_is_empty() -> None:
    e = entry("Nonesuch", rng(("introduced", "0"), ("fixed", "1.0")))
    assert fixed_versions(e, "Nonesuch") == []
    assert fixed_versions(e, "Nonesuch", "0.5") == []
