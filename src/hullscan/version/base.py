"""The version-scheme contract shared by every ecosystem module.

A scheme turns a version string into a *key* whose order is the ecosystem's own comparison
(dpkg, rpmvercmp, apk-tools, PEP 440, SemVer 2.0, Maven ComparableVersion, ...): a total order
wherever the reference is one (Maven's ComparableVersion is not transitive on some odd inputs,
and neither, faithfully, are our keys). Keys are cached per string, so comparing the same
installed version against thousands of advisory bounds parses it once.

Invalid versions raise :class:`InvalidVersionError` (a :class:`ValueError`); callers such as the
matcher catch it, skip the record and leave a note.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

#: Size of the per-scheme parse cache (distinct version strings kept).
CACHE_SIZE = 65536


class InvalidVersionError(ValueError):
    """A version string is not valid in its scheme.

    ``scheme`` names the scheme, ``version`` is the offending string and ``reason`` says why.
    """

    def __init__(self, scheme: str, version: str, reason: str) -> None:
        self.scheme = scheme
        self.version = version
        self.reason = reason
        shown = repr(version) if len(version) <= 80 else repr(version[:80]) + f"... ({len(version)} characters)"
        super().__init__(f"invalid {scheme} version {shown}: {reason}")


class UnknownEcosystemError(KeyError):
    """No version scheme is known for an ecosystem string."""

    def __init__(self, ecosystem: str) -> None:
        self.ecosystem = ecosystem
        super().__init__(ecosystem)

    def __str__(self) -> str:
        return f"no version scheme for ecosystem {self.ecosystem!r}"


@runtime_checkable
class VersionScheme(Protocol):
    """One ecosystem's version ordering."""

    name: str

    def key(self, version: str) -> Any:
        """A totally ordered sort key for ``version``; raises :class:`InvalidVersionError`."""

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b``."""

    def valid(self, version: str) -> bool:
        """Whether ``version`` parses in this scheme."""


class CmpKey:
    """Adapts a parsed version plus a three-way ``cmp`` function into a sortable key.

    Used by schemes whose ordering is not a plain lexicographic tuple (apk, Maven, RubyGems, ...).
    """

    __slots__ = ("cmp", "parsed")

    def __init__(self, parsed: Any, cmp: Callable[[Any, Any], int]) -> None:
        self.parsed = parsed
        self.cmp = cmp

    def __lt__(self, other: CmpKey) -> bool:
        return self.cmp(self.parsed, other.parsed) < 0

    def __le__(self, other: CmpKey) -> bool:
        return self.cmp(self.parsed, other.parsed) <= 0

    def __gt__(self, other: CmpKey) -> bool:
        return self.cmp(self.parsed, other.parsed) > 0

    def __ge__(self, other: CmpKey) -> bool:
        return self.cmp(self.parsed, other.parsed) >= 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CmpKey) and self.cmp(self.parsed, other.parsed) == 0

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # equal keys need not share a hash

    def __repr__(self) -> str:
        return f"CmpKey({self.parsed!r})"


class KeyedScheme:
    """Base class: subclasses implement :meth:`_parse` (uncached); keys are cached per string."""

    name = "abstract"

    def __init__(self) -> None:
        self._cached_key = lru_cache(maxsize=CACHE_SIZE)(self._parse)

    def _parse(self, version: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def invalid(self, version: str, reason: str) -> InvalidVersionError:
        """An :class:`InvalidVersionError` for this scheme."""
        return InvalidVersionError(self.name, version, reason)

    def nonempty(self, version: str) -> str:
        """``version`` without surrounding spaces; invalid when nothing is left."""
        v = version.strip()
        if not v:
            raise self.invalid(version, "empty version")
        return v

    def epoch(self, version: str, text: str | None) -> int:
        """The value of an ``epoch:`` prefix (0 when absent); invalid unless it is all digits."""
        if text is None:
            return 0
        if not (text.isascii() and text.isdigit()):
            raise self.invalid(version, "epoch is not a number")
        return int(text)

    def key(self, version: str) -> Any:
        """A sort key for ``version`` (cached); raises :class:`InvalidVersionError`."""
        if not isinstance(version, str):
            raise InvalidVersionError(self.name, repr(version), "not a string")
        try:
            return self._cached_key(version)
        except InvalidVersionError:
            raise
        except (ValueError, OverflowError, RecursionError) as exc:
            # e.g. a number past Python's int-from-string digit limit: no real version, no crash.
            raise InvalidVersionError(self.name, version, f"cannot be parsed ({type(exc).__name__})") from None

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b``."""
        ka = self.key(a)
        kb = self.key(b)
        if ka < kb:
            return -1
        if kb < ka:
            return 1
        return 0

    def valid(self, version: str) -> bool:
        """Whether ``version`` parses in this scheme."""
        try:
            self.key(version)
        except InvalidVersionError:
            return False
        return True

    def __repr__(self) -> str:
        return f"<version scheme {self.name}>"
