"""Evaluate one OSV ``affected[]`` entry against an installed version.

Semantics are those of the OSV schema's "Evaluation" section (ossf/osv-schema docs/schema.md):

* a version is affected when it equals an entry of ``versions`` or lies in any range;
* ``ECOSYSTEM`` ranges use the ecosystem's own ordering (:func:`hullscan.version.scheme_for`),
  ``SEMVER`` ranges SemVer 2.0.0 precedence (the ecosystem's scheme when it is SemVer-based, so
  Go's ``v`` prefix and ``go1.21rc2`` toolchain versions work); ``GIT`` ranges cannot be
  evaluated on a version string and are ignored (only ``versions`` can match then);
* per range, events are sorted by version (``introduced: "0"`` before everything, equal versions
  keep their listed order) and walked: ``introduced`` <= v sets affected, ``fixed`` <= v clears it,
  ``last_affected`` < v clears it;
* ``limit`` events: v must be below at least one limit (``"*"`` is infinity); no limit = no bound;
* ``database_specific`` / ``ecosystem_specific`` never change the result.

Errors: an installed version or range bound that is invalid in the scheme raises
:class:`~hullscan.version.InvalidVersionError` -- unless another range already proves the version
affected (a sure hit is never lost to a bad sibling range). An ECOSYSTEM range for an ecosystem
with no scheme raises :class:`~hullscan.version.UnknownEcosystemError` on the same terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import InvalidVersionError, UnknownEcosystemError, get_scheme, scheme_for
from .base import VersionScheme

__all__ = ["is_affected", "fixed_versions", "range_scheme", "EVALUATED_TYPES"]

#: Range types evaluated on version strings.
EVALUATED_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
_SEMVER_FAMILY = frozenset({"semver", "cargo", "go"})
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


def range_scheme(range_type: str, ecosystem: str) -> VersionScheme:
    """The scheme a range of ``range_type`` uses for ``ecosystem``."""
    if range_type == "SEMVER":
        try:
            scheme = scheme_for(ecosystem)
        except UnknownEcosystemError:
            return get_scheme("semver")
        return scheme if scheme.name in _SEMVER_FAMILY else get_scheme("semver")
    return scheme_for(ecosystem)


def _events(rng: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (kind, version) pairs of a range, ignoring unknown keys."""
    out: list[tuple[str, str]] = []
    for event in rng.get("events") or ():
        if not isinstance(event, Mapping):
            continue
        for kind in _EVENT_KINDS:
            value = event.get(kind)
            if isinstance(value, str):
                out.append((kind, value))
    return out


def _sorted_events(events: Sequence[tuple[str, str]], scheme: VersionScheme) -> list[tuple[str, str, Any]]:
    """Events (without limits) with their keys, sorted per OSV: ``introduced: "0"`` first."""
    keyed: list[tuple[int, Any, int, str, str]] = []
    for i, (kind, value) in enumerate(events):
        if kind == "limit":
            continue
        if kind == "introduced" and value == "0":
            keyed.append((0, None, i, kind, value))
        else:
            keyed.append((1, scheme.key(value), i, kind, value))
    zero = [k for k in keyed if k[0] == 0]
    rest = sorted((k for k in keyed if k[0] == 1), key=_SortKey)
    return [(kind, value, key) for _, key, _, kind, value in zero + rest]


class _SortKey:
    """Sort helper: by version key, then by listed position (stable for equal versions)."""

    __slots__ = ("k",)

    def __init__(self, k: tuple[int, Any, int, str, str]) -> None:
        self.k = k

    def __lt__(self, other: _SortKey) -> bool:
        a, b = self.k[1], other.k[1]
        if a < b:
            return True
        if b < a:
            return False
        return self.k[2] < other.k[2]


def _before_limits(vkey: Any, events: Sequence[tuple[str, str]], scheme: VersionScheme) -> bool:
    limits = [value for kind, value in events if kind == "limit"]
    if not limits:
        return True
    for limit in limits:
        if "*" in limit or vkey < scheme.key(limit):
            return True
    return False


def _in_range(version: str, rng: Mapping[str, Any], ecosystem: str) -> bool:
    scheme = range_scheme(str(rng.get("type")), ecosystem)
    vkey = scheme.key(version)
    events = _events(rng)
    if not _before_limits(vkey, events, scheme):
        return False
    affected = False
    for kind, _value, key in _sorted_events(events, scheme):
        if kind == "introduced":
            if key is None or not vkey < key:
                affected = True
        elif kind == "fixed":
            if not vkey < key:
                affected = False
        elif kind == "last_affected":
            if key < vkey:
                affected = False
    return affected


def _in_versions(version: str, versions: Iterable[Any], ecosystem: str) -> bool:
    listed = [v for v in versions if isinstance(v, str)]
    if version in listed:
        return True
    try:
        scheme = scheme_for(ecosystem)
        vkey = scheme.key(version)
    except (InvalidVersionError, UnknownEcosystemError):
        return False
    for other in listed:
        try:
            okey = scheme.key(other)
        except InvalidVersionError:
            continue
        if not (vkey < okey or okey < vkey):
            return True
    return False


def is_affected(version: str, affected: Mapping[str, Any], ecosystem: str) -> bool:
    """Whether ``version`` of a package in ``ecosystem`` is affected per one OSV ``affected[]`` entry.

    ``ecosystem`` is the package's ecosystem (normally ``affected["package"]["ecosystem"]``).
    Raises :class:`InvalidVersionError` / :class:`UnknownEcosystemError` as the module doc says.
    """
    if _in_versions(version, affected.get("versions") or (), ecosystem):
        return True
    error: Exception | None = None
    for rng in affected.get("ranges") or ():
        if not isinstance(rng, Mapping) or rng.get("type") not in EVALUATED_TYPES:
            continue
        try:
            if _in_range(version, rng, ecosystem):
                return True
        except (InvalidVersionError, UnknownEcosystemError) as exc:
            error = error or exc
    if error is not None:
        raise error
    return False


def fixed_versions(affected: Mapping[str, Any], ecosystem: str, version: str | None = None) -> list[str]:
    """The ``fixed`` versions of an ``affected[]`` entry, sorted in the ecosystem's order, deduplicated.

    With ``version``, only fixes that apply to it: those of ranges that contain ``version`` and
    that are above it. Bounds that do not parse are left out (they cannot be ordered).
    """
    found: dict[str, Any] = {}
    for rng in affected.get("ranges") or ():
        if not isinstance(rng, Mapping) or rng.get("type") not in EVALUATED_TYPES:
            continue
        try:
            scheme = range_scheme(str(rng["type"]), ecosystem)
            if version is not None and not _in_range(version, rng, ecosystem):
                continue
            vkey = scheme.key(version) if version is not None else None
        except (InvalidVersionError, UnknownEcosystemError):
            continue
        for kind, value in _events(rng):
            if kind != "fixed" or value in found:
                continue
            try:
                key = scheme.key(value)
            except InvalidVersionError:
                continue
            if vkey is not None and not vkey < key:
                continue
            found[value] = key
    return [v for v, _ in sorted(found.items(), key=lambda item: _Wrap(item[1], item[0]))]


class _Wrap:
    """Sort helper: version key first, then the string itself for a deterministic tie-break."""

    __slots__ = ("key", "text")

    def __init__(self, key: Any, text: str) -> None:
        self.key = key
        self.text = text

    def __lt__(self, other: _Wrap) -> bool:
        if self.key < other.key:
            return True
        if other.key < self.key:
            return False
        return self.text < other.text
