"""Evaluate one OSV ``affected[]`` entry against an installed version.

Semantics are those of the OSV schema's "Evaluation" section (ossf/osv-schema docs/schema.md):

* a version is affected when it lies in any range or equals an entry of ``versions`` -- as a
  string, or in the ecosystem's order where that order has hashable keys (deb, rpm, PEP 440,
  SemVer, Go, Composer, NuGet: ``1.0`` equals ``1.0.0`` on PyPI);
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

Speed: parsed versions are cached per scheme and each range is compiled once per distinct
(type, ecosystem, events) and cached, so re-evaluating advisories costs a dictionary walk and a
few key comparisons (about 15 microseconds per check on real records, warm).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from . import InvalidVersionError, UnknownEcosystemError, get_scheme, scheme_for
from .base import VersionScheme

__all__ = ["EVALUATED_TYPES", "CompiledEntry", "fixed_versions", "is_affected", "parsed_key", "range_scheme"]

#: Range types evaluated on version strings.
EVALUATED_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
_SEMVER_FAMILY = frozenset({"semver", "cargo", "go"})
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


@lru_cache(maxsize=1024)
def range_scheme(range_type: str, ecosystem: str) -> VersionScheme:
    """The scheme a range of ``range_type`` uses for ``ecosystem``."""
    if range_type == "SEMVER":
        try:
            scheme = scheme_for(ecosystem)
        except UnknownEcosystemError:
            return get_scheme("semver")
        return scheme if scheme.name in _SEMVER_FAMILY else get_scheme("semver")
    return scheme_for(ecosystem)


def _events(rng: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The (kind, version) pairs of a range, ignoring unknown keys and malformed events."""
    out: list[tuple[str, str]] = []
    for event in rng.get("events") or ():
        if event.__class__ is not dict and not isinstance(event, Mapping):
            continue
        for kind in _EVENT_KINDS:
            if kind in event:
                value = event[kind]
                if value.__class__ is str or isinstance(value, str):
                    out.append((kind, value))
    return tuple(out)


class _CompiledRange:
    """One range ready to evaluate: its scheme, sorted (kind, key) events and limit keys."""

    __slots__ = ("contains_key", "events", "fixed", "fixed_in_order", "limits", "scheme")

    def __init__(self, range_type: str, ecosystem: str, events: tuple[tuple[str, str], ...]) -> None:
        self.scheme = range_scheme(range_type, ecosystem)
        self.fixed_in_order: tuple[tuple[str, Any], ...] | None | object = _UNSET  # see fixes_in_order()
        if len(events) == 2 and events[0] == ("introduced", "0") and events[1][0] == "fixed":
            # the most common shape, compiled as the general code below does, in short
            value = events[1][1]
            high = self.scheme.key(value)
            self.events: tuple[tuple[str, Any], ...] = (("introduced", None), ("fixed", high))
            self.limits: tuple[Any, ...] | None = None
            self.fixed: tuple[tuple[str, Any], ...] = ((value, high),)
            self.contains_key: Callable[[Any], bool] = lambda vkey: vkey < high
            return
        zero: list[tuple[str, Any]] = []
        keyed: list[tuple[Any, int, str]] = []
        limits: list[Any] = []
        has_limit = False
        fixed: list[tuple[str, Any]] = []
        for i, (kind, value) in enumerate(events):
            if kind == "limit":
                has_limit = True
                limits.append(None if "*" in value else self.scheme.key(value))
            elif kind == "introduced" and value == "0":
                zero.append((kind, None))
            else:
                key = self.scheme.key(value)
                keyed.append((key, i, kind))
                if kind == "fixed":
                    fixed.append((value, key))
        # Sorted per OSV; equal versions keep their listed order (the index breaks ties).
        keyed.sort()
        self.events = tuple(zero + [(kind, key) for key, _, kind in keyed])
        self.limits = tuple(limits) if has_limit else None
        self.fixed = tuple(fixed)
        #: contains_key(vkey): the OSV evaluation of the range for an already parsed version (:func:`_shortcut`
        #: for the common shapes)
        self.contains_key = self._walk
        if self.limits is None:
            self.contains_key = _shortcut(self.events, self.scheme) or self._walk

    def fixes_in_order(self) -> tuple[tuple[str, Any], ...] | None:
        """``fixed`` in the order :func:`_in_order` gives (key, then text), when the order is total (the fixes above
        a version are then these, filtered, in order), sorted on first use; None when the scheme's order is not
        total or there are fewer than two fixes."""
        found = self.fixed_in_order
        if found is _UNSET:
            found = self.fixed_in_order = None
            if self.scheme.name in _TOTAL_ORDER and len(self.fixed) > 1:
                found = self.fixed_in_order = tuple(sorted(self.fixed, key=lambda item: _Wrap(item[1], item[0])))
        return found  # type: ignore[return-value]

    def _walk(self, vkey: Any) -> bool:
        """The OSV evaluation of one range for an already parsed version: the events walked in order."""
        if self.limits is not None and not any(limit is None or vkey < limit for limit in self.limits):
            return False
        affected = False
        for kind, key in self.events:
            if kind == "introduced":
                if key is None or not vkey < key:
                    affected = True
            elif kind == "fixed":
                if not vkey < key:
                    affected = False
            elif key < vkey:  # last_affected
                affected = False
        return affected


#: Schemes whose keys are totally ordered (tuples, ``packaging`` versions): the events of a range sorted by them
#: are in the order every comparison agrees with. Maven's (and, to be safe, every other ``CmpKey``) are not
#: assumed to be.
_TOTAL_ORDER = frozenset({"deb", "rpm", "pep440", "semver", "cargo", "go", "composer", "nuget"})


def _shortcut(events: tuple[tuple[str, Any], ...], scheme: VersionScheme) -> Callable[[Any], bool] | None:
    """The walk of a range without limits, for its common shapes, as the comparisons it comes down to:

    * ``introduced`` alone, or then one ``fixed`` / ``last_affected``: those one or two comparisons;
    * ``introduced``, ``fixed``, ``introduced``... alternating (several intervals), for a totally ordered
      scheme: the events whose version is not above the installed one are a prefix of the sorted events and
      the walk ends in the state of its last event, ``introduced`` when the prefix is odd: a bisection.

    None for any other shape (the walk itself)."""
    kinds = [kind for kind, _ in events]
    keys = [key for _, key in events]
    if not kinds or kinds[0] != "introduced" or None in keys[1:]:
        return None
    low = keys[0]
    if len(kinds) == 1:
        return (lambda vkey: True) if low is None else (lambda vkey: not vkey < low)
    if len(kinds) == 2 and kinds[1] in ("fixed", "last_affected"):
        high = keys[1]
        if kinds[1] == "fixed":
            return (lambda vkey: vkey < high) if low is None else (lambda vkey: not vkey < low and vkey < high)
        return (lambda vkey: not high < vkey) if low is None else (lambda vkey: not vkey < low and not high < vkey)
    if scheme.name in _TOTAL_ORDER and all(kind == ("introduced", "fixed")[i % 2] for i, kind in enumerate(kinds)):
        start = 1 if low is None else 0  # "introduced: 0" holds for every version
        return lambda vkey: bisect_right(keys, vkey, start) % 2 == 1
    return None


@lru_cache(maxsize=65536)
def _compile(range_type: str, ecosystem: str, events: tuple[tuple[str, str], ...]) -> _CompiledRange:
    return _CompiledRange(range_type, ecosystem, events)


def _compiled(rng: Mapping[str, Any], ecosystem: str) -> _CompiledRange:
    return _compile(str(rng.get("type")), ecosystem, _events(rng))


def _in_range(version: str, rng: Mapping[str, Any], ecosystem: str) -> bool:
    compiled = _compiled(rng, ecosystem)
    return compiled.contains_key(compiled.scheme.key(version))


@lru_cache(maxsize=4096)
def _listed_keys(ecosystem: str, versions: tuple[str, ...]) -> frozenset[Any] | None:
    """Hashable keys of a ``versions`` list (None when the scheme's keys are not hashable)."""
    try:
        scheme = scheme_for(ecosystem)
    except UnknownEcosystemError:
        return None
    keys = set()
    for v in versions:
        try:
            key = scheme.key(v)
        except InvalidVersionError:
            continue
        if getattr(key, "__hash__", None) is None:
            return None
        keys.add(key)
    return frozenset(keys)


def _in_versions(version: str, versions: Iterable[Any], ecosystem: str) -> bool:
    """OSV ``IncludedInVersions``: string equality, or equality in the ecosystem's order."""
    listed = tuple(v for v in versions if isinstance(v, str))
    if not listed:
        return False
    if version in listed:
        return True
    keys = _listed_keys(ecosystem, listed)
    if not keys:
        return False
    try:
        return scheme_for(ecosystem).key(version) in keys
    except InvalidVersionError:
        return False


def is_affected(version: str, affected: Mapping[str, Any], ecosystem: str) -> bool:
    """Whether ``version`` of a package in ``ecosystem`` is affected per one OSV ``affected[]`` entry.

    ``ecosystem`` is the package's ecosystem (normally ``affected["package"]["ecosystem"]``).
    Raises :class:`InvalidVersionError` / :class:`UnknownEcosystemError` as the module doc says.
    """
    error: Exception | None = None
    for rng in affected.get("ranges") or ():
        if not isinstance(rng, Mapping) or rng.get("type") not in EVALUATED_TYPES:
            continue
        try:
            if _in_range(version, rng, ecosystem):
                return True
        except (InvalidVersionError, UnknownEcosystemError) as exc:
            error = error or exc
    if _in_versions(version, affected.get("versions") or (), ecosystem):
        return True
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
        events = _events(rng)
        try:
            compiled = _compiled(rng, ecosystem)
            candidates = compiled.fixed
        except UnknownEcosystemError:
            continue
        except InvalidVersionError:
            # One bad bound: keep the fixes that do parse (no version filter is possible then).
            if version is not None:
                continue
            scheme = range_scheme(str(rng["type"]), ecosystem)
            candidates = tuple((v, k) for v, k in _parse_all(scheme, [val for kind, val in events if kind == "fixed"]))
        else:
            if version is not None:
                _add_fixes_above(compiled, version, found)
                continue
        for value, key in candidates:
            found.setdefault(value, key)
    return list(_in_order(found))


def _add_fixes_above(compiled: _CompiledRange, version: str, found: dict[str, Any],
                     parsed: dict[Any, Any] | None = None) -> None:
    """Add to ``found`` (value -> key) the fixes of ``compiled`` above ``version``, when the range contains it."""
    try:
        vkey = compiled.scheme.key(version) if parsed is None else parsed_key(compiled.scheme, version, parsed)
    except InvalidVersionError:
        return
    if compiled.contains_key(vkey):
        for value, key in compiled.fixed:
            if vkey < key:
                found.setdefault(value, key)


def _in_order(found: dict[str, Any]) -> tuple[str, ...]:
    """The versions of ``found`` (value -> key) in the ecosystem's order."""
    if len(found) < 2:
        return tuple(found)
    return tuple(v for v, _ in sorted(found.items(), key=lambda item: _Wrap(item[1], item[0])))


def _parse_all(scheme: VersionScheme, values: Iterable[str]) -> list[tuple[str, Any]]:
    out = []
    for value in values:
        try:
            out.append((value, scheme.key(value)))
        except InvalidVersionError:
            continue
    return out


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


class CompiledEntry:
    """One OSV ``affected[]`` entry compiled once for repeated evaluation (the matcher's fast path).

    :meth:`affected` answers exactly as :func:`is_affected` and :meth:`fixes` exactly as
    :func:`fixed_versions` with a version (same results, same errors), without re-reading the
    entry's JSON structure on every call: the ranges are compiled (sorted, keyed events) when the
    entry is first compiled; a range whose bounds cannot be compiled is re-evaluated on each call
    so that it raises a fresh error, as :func:`is_affected` does.
    """

    __slots__ = ("ecosystem", "listed", "listed_keys", "only", "ranges", "simple_fix", "versions")

    def __init__(self, entry: Mapping[str, Any], ecosystem: str) -> None:
        self.ecosystem = ecosystem
        ranges: list[_CompiledRange | Mapping[str, Any]] = []
        for rng in entry.get("ranges") or ():
            if (rng.__class__ is not dict and not isinstance(rng, Mapping)) or rng.get("type") not in EVALUATED_TYPES:
                continue
            try:
                ranges.append(_compiled(rng, ecosystem))
            except (InvalidVersionError, UnknownEcosystemError):
                ranges.append(rng)  # compiled again (and raising again) when evaluated
        self.ranges = tuple(ranges)
        versions = entry.get("versions") or ()
        self.versions = tuple(versions) if set(map(type, versions)) <= {str} else \
            tuple(v for v in versions if isinstance(v, str))
        self.listed = frozenset(self.versions)
        self.listed_keys: frozenset[Any] | None | object = _UNSET  # _listed_keys(), computed on first use
        self.simple_fix = _simple_fix(entry)
        # the common shape, one range that compiles and no ``versions``: its answer (or error) is the entry's
        only = self.ranges[0] if len(self.ranges) == 1 and not self.versions else None
        self.only = only if only.__class__ is _CompiledRange else None

    def affected(self, version: str, parsed: dict[Any, Any] | None = None) -> bool:
        """Whether ``version`` is affected: :func:`is_affected` of the entry. ``parsed`` (optional) keeps the
        version's key per scheme, for checking one version against many entries (see :func:`parsed_key`)."""
        only = self.only
        if only is not None:
            if parsed is None:
                return only.contains_key(only.scheme.key(version))  # type: ignore[union-attr]
            return only.contains_key(parsed_key(only.scheme, version, parsed))  # type: ignore[union-attr]
        error: Exception | None = None
        for rng in self.ranges:
            try:
                compiled = rng if rng.__class__ is _CompiledRange else _compiled(rng, self.ecosystem)  # type: ignore[arg-type]
                scheme = compiled.scheme  # type: ignore[union-attr]
                vkey = scheme.key(version) if parsed is None else parsed_key(scheme, version, parsed)
                if compiled.contains_key(vkey):  # type: ignore[union-attr]
                    return True
            except (InvalidVersionError, UnknownEcosystemError) as exc:
                error = error or exc
        if self.versions and self._in_versions(version, parsed):
            return True
        if error is not None:
            try:
                raise error
            finally:
                error = None  # no cycle error -> traceback -> this frame
        return False

    def _in_versions(self, version: str, parsed: dict[Any, Any] | None) -> bool:
        """:func:`_in_versions` of the entry's ``versions``, their set and keys kept."""
        if version in self.listed:
            return True
        keys = self.listed_keys
        if keys is _UNSET:
            keys = self.listed_keys = _listed_keys(self.ecosystem, self.versions)
        if not keys:
            return False
        scheme = scheme_for(self.ecosystem)
        try:
            return (scheme.key(version) if parsed is None else parsed_key(scheme, version, parsed)) in keys  # type: ignore[operator]
        except InvalidVersionError:
            return False

    def hit(self, version: str, parsed: dict[Any, Any]) -> tuple[str, ...] | None:
        """None when ``version`` is not affected, else its fixes: ``simple_fix`` or :meth:`fixes` (what matching
        keeps of an entry, in one call); raises as :meth:`affected`. ``parsed`` as for :meth:`affected`."""
        only = self.only
        if only is None:
            if not self.affected(version, parsed):
                return None
            return self.simple_fix or self.fixes(version, parsed)
        vkey = parsed.get(only.scheme, _FAILED)
        if vkey is _FAILED or vkey.__class__ is InvalidVersionError:
            vkey = parsed_key(only.scheme, version, parsed)
        if not only.contains_key(vkey):
            return None
        if self.simple_fix is not None:
            return self.simple_fix
        if not only.fixed:
            return ()
        in_order = only.fixes_in_order()
        if in_order is not None:
            return tuple(dict.fromkeys([value for value, key in in_order if vkey < key]))
        found: dict[str, Any] = {}  # fixes(): the one range contains the version
        for value, key in only.fixed:
            if vkey < key:
                found.setdefault(value, key)
        return _in_order(found)

    def fixes(self, version: str, parsed: dict[Any, Any] | None = None) -> tuple[str, ...]:
        """The fixed versions above ``version`` of the ranges containing it: :func:`fixed_versions` with a
        version, sorted in the ecosystem's order (``parsed`` as for :meth:`affected`)."""
        found: dict[str, Any] = {}
        for rng in self.ranges:
            # a range that does not compile, or has no fix, contributes no fix here
            if rng.__class__ is _CompiledRange and rng.fixed:  # type: ignore[union-attr]
                _add_fixes_above(rng, version, found, parsed)  # type: ignore[arg-type]
        return _in_order(found)


_FAILED = object()
_UNSET = object()


def parsed_key(scheme: VersionScheme, version: str, parsed: dict[Any, Any]) -> Any:
    """``scheme.key(version)``, kept in ``parsed`` (scheme -> key, or the problem of a version that does not
    parse: raised again, as a new :class:`InvalidVersionError` with the same message, on every use)."""
    key = parsed.get(scheme, _FAILED)
    if key is _FAILED:
        try:
            key = parsed[scheme] = scheme.key(version)
        except InvalidVersionError as exc:
            parsed[scheme] = InvalidVersionError(exc.scheme, exc.version, exc.reason)  # no traceback kept
            raise
    elif key.__class__ is InvalidVersionError:
        raise InvalidVersionError(key.scheme, key.version, key.reason)
    return key


def _simple_fix(entry: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The fix of the common one-interval shape (one range ``introduced`` then ``fixed``, no ``versions``):
    it is above every version the entry affects, so it needs no comparison. None for other shapes."""
    ranges = entry.get("ranges") or []
    if len(ranges) != 1 or "versions" in entry or not isinstance(ranges[0], Mapping):
        return None
    events = ranges[0].get("events") or []
    if (len(events) == 2 and isinstance(events[0], Mapping) and isinstance(events[1], Mapping)
            and "introduced" in events[0] and "fixed" in events[1]):
        return (str(events[1]["fixed"]),)
    return None
