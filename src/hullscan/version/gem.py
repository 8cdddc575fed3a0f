"""RubyGems versions, ordered as ``Gem::Version#<=>`` (RubyGems 3.x).

A version is ``N(.X)*`` optionally followed by ``-pre(.pre)*`` (a ``-`` is read as ``.pre.``).
It is split into segments (runs of digits -> integers, runs of letters -> strings); any letter
makes it a pre-release. Trailing zeros are dropped from the numeric part and from the string
part (``canonical_segments``); then segments compare pairwise with missing ones read as 0: equal
segments continue, a string sorts before a number, numbers numerically, strings bytewise. So
``1.0.a`` < ``1.0`` and ``1.0`` == ``1`` == ``1.0.0``.
"""

from __future__ import annotations

import re

from .base import CmpKey, KeyedScheme

_VALID = re.compile(r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*")
_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.IGNORECASE)

Segment = int | str


def canonical_segments(version: str) -> tuple[Segment, ...]:
    """``Gem::Version#canonical_segments`` of an already validated version string."""
    v = version.strip() or "0"
    v = v.replace("-", ".pre.")
    segments: list[Segment] = [int(s) if s.isdigit() else s for s in _SEGMENT.findall(v)]
    string_start = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    numeric, strings = segments[:string_start], segments[string_start:]
    for part in (numeric, strings):
        while part and part[-1] == 0:
            part.pop()
    return tuple(numeric + strings)


def compare_segments(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> int:
    """``Gem::Version#<=>`` over canonical segments."""
    if a == b:
        return 0
    for i in range(max(len(a), len(b))):
        lhs: Segment = a[i] if i < len(a) else 0
        rhs: Segment = b[i] if i < len(b) else 0
        if lhs == rhs:
            continue
        if isinstance(lhs, str) and isinstance(rhs, int):
            return -1
        if isinstance(lhs, int) and isinstance(rhs, str):
            return 1
        if isinstance(lhs, str) and isinstance(rhs, str):
            la, lb = lhs.encode(), rhs.encode()
            return (la > lb) - (la < lb)
        return (lhs > rhs) - (lhs < rhs)  # type: ignore[operator]
    return 0


class GemScheme(KeyedScheme):
    """RubyGems version ordering."""

    name = "gem"

    def _parse(self, version: str) -> CmpKey:
        if not _VALID.fullmatch(version):
            raise self.invalid(version, "malformed version number string")
        return CmpKey(canonical_segments(version), compare_segments)


SCHEME = GemScheme()
