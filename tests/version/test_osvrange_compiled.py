"""The matcher's fast path (:class:`CompiledEntry`, the range shortcuts) answers exactly as the plain
evaluation (:func:`is_affected`, :func:`fixed_versions`, the event walk), on generated ranges of every scheme."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.version import SCHEMES, InvalidVersionError, get_scheme
from hullscan.version.osvrange import CompiledEntry, _CompiledRange, _shortcut, fixed_versions, is_affected

from .strategies import BY_SCHEME, RELAXED

#: an OSV ecosystem of each scheme
ECOSYSTEM = {"deb": "Debian:12", "rpm": "AlmaLinux:9", "apk": "Alpine:v3.19", "pep440": "PyPI", "semver": "npm",
             "cargo": "crates.io", "go": "Go", "maven": "Maven", "gem": "RubyGems", "composer": "Packagist",
             "nuget": "NuGet"}
NAMES = sorted(SCHEMES.names())
_settings = settings(max_examples=60, deadline=None, suppress_health_check=RELAXED)

_KINDS = st.sampled_from(["introduced", "fixed", "last_affected"])


def _case(name: str) -> st.SearchStrategy[tuple[list[tuple[str, str]], list[str]]]:
    """(events, installed versions): events of any kinds and order (an ``introduced: 0`` now and then, the
    alternating shapes often), installed versions that include the bounds themselves."""
    versions = BY_SCHEME[name]
    alternating = st.lists(versions, min_size=1, max_size=8).map(
        lambda vs: [(("introduced", "fixed")[i % 2], v) for i, v in enumerate(sorted(vs, key=get_scheme(name).key))])
    anything = st.lists(st.tuples(_KINDS, versions), min_size=1, max_size=6)
    events = st.tuples(st.one_of(alternating, anything), st.booleans()).map(
        lambda pair: [("introduced", "0"), *pair[0][1:]] if pair[1] else pair[0])
    return st.tuples(events, st.lists(versions, max_size=4)).map(
        lambda pair: (pair[0], [*pair[1], *(v for _, v in pair[0])]))


def _entry(events: list[tuple[str, str]], versions: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ranges": [{"type": "ECOSYSTEM", "events": [{k: v} for k, v in events]}]}
    if versions is not None:
        out["versions"] = versions
    return out


def _plain(version: str, entry: dict[str, Any], ecosystem: str) -> tuple[str, ...] | None | str:
    """What the plain evaluation says: None (not affected), the fixes above ``version``, or the error."""
    try:
        if not is_affected(version, entry, ecosystem):
            return None
    except InvalidVersionError as exc:
        return str(exc)
    ranges = entry["ranges"]
    events = ranges[0]["events"]
    if len(ranges) == 1 and "versions" not in entry and len(events) == 2 and "introduced" in events[0] \
            and "fixed" in events[1]:
        return (events[1]["fixed"],)
    return tuple(fixed_versions(entry, ecosystem, version))


def _fast(version: str, compiled: CompiledEntry, parsed: dict[Any, Any]) -> tuple[str, ...] | None | str:
    try:
        found: tuple[str, ...] | None = compiled.hit(version, parsed)
    except InvalidVersionError as exc:
        return str(exc)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_shortcuts_agree_with_the_walk(name: str) -> None:
    scheme = get_scheme(name)

    @_settings
    @given(_case(name))
    def check(case: tuple[list[tuple[str, str]], list[str]]) -> None:
        events, installed = case
        compiled = _CompiledRange("ECOSYSTEM", ECOSYSTEM[name], tuple(events))
        for version in installed:
            if not scheme.valid(version):  # the "0" of introduced: 0 is no version in every scheme
                continue
            vkey = scheme.key(version)
            assert compiled.contains_key(vkey) == compiled._walk(vkey), (events, version)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_compiled_entry_agrees_with_plain_evaluation(name: str) -> None:
    ecosystem = ECOSYSTEM[name]

    @_settings
    @given(_case(name), st.booleans())
    def check(case: tuple[list[tuple[str, str]], list[str]], listed: bool) -> None:
        events, installed = case
        entry = _entry(events, installed[:2] if listed else None)
        compiled = CompiledEntry(entry, ecosystem)
        for version in [*installed, "not a version!"]:
            parsed: dict[Any, Any] = {}
            for _ in range(2):  # the second time with the version already parsed (or known bad)
                assert _fast(version, compiled, parsed) == _plain(version, entry, ecosystem), (entry, version)

    check()


def test_shortcut_shapes() -> None:
    key = get_scheme("pep440").key
    below = _shortcut((("introduced", None), ("fixed", key("2.0"))), get_scheme("pep440"))
    assert below is not None and below(key("1.9")) and not below(key("2.0"))
    intervals = (("introduced", key("1.0")), ("fixed", key("1.2")), ("introduced", key("2.0")), ("fixed", key("2.3")))
    inside = _shortcut(intervals, get_scheme("pep440"))
    assert inside is not None
    assert [inside(key(v)) for v in ["0.9", "1.0", "1.1", "1.2", "1.5", "2.0", "2.2", "2.3", "3"]] == [
        False, True, True, False, False, True, True, False, False]
    # Maven's order is not assumed total: several intervals are walked
    mkey = get_scheme("maven").key
    maven = tuple(zip(["introduced", "fixed"] * 2, map(mkey, ["1.0", "1.2", "2.0", "2.3"]), strict=True))
    assert _shortcut(maven, get_scheme("maven")) is None
    # limits and other shapes are walked too
    assert _shortcut((("fixed", key("1.0")), ("introduced", key("2.0"))), get_scheme("pep440")) is None
