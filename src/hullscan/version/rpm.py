"""RPM package versions, ordered as rpm's ``rpmvercmp`` / ``rpmVersionCompare``.

Format: ``[epoch:]version[-release]`` (EVR). The epoch is an unsigned integer (missing = 0); the
release is everything after the *last* hyphen.

Ordering (rpm >= 4.15 ``rpmvercmp``): separators (anything but ASCII letters, digits, ``~`` and
``^``) are skipped; the rest is split into numeric and alphabetic segments plus the single
characters ``~`` and ``^``. Segment by segment: ``~`` sorts before everything including the end
of the string (pre-release); ``^`` sorts after the end of the string but before any other
segment (post-release snapshot); a numeric segment is newer than an alphabetic one; numbers
compare by value (leading zeros ignored), letters as ``strcmp``. Two strings equal up to the end
of the shorter compare by what follows in the longer one (end < ``^`` < letters < digits).

Epochs compare first, then versions, then releases. rpm treats a *missing* release as matching
any release; a total order cannot, so here a missing release sorts before every release
(``1.0`` < ``1.0-1``). Advisories and installed packages both carry releases in practice.
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")
_DIGITS = frozenset("0123456789")

# Segment ranks: ~ < end-of-string < ^ < alphabetic < numeric.
_TILDE = (0,)
_END = (1,)
_CARET = (2,)


def rpmvercmp_key(s: str) -> tuple[tuple[object, ...], ...]:
    """A tuple key ordering strings exactly as ``rpmvercmp``."""
    out: list[tuple[object, ...]] = [
        (4, int(token)) if token[0] in _DIGITS else _TILDE if token == "~" else _CARET if token == "^" else (3, token)
        for token in _TOKEN.findall(s)  # the segments; separators are skipped
    ]
    out.append(_END)
    return tuple(out)


def split_evr(version: str) -> tuple[str | None, str, str | None]:
    """Split ``[epoch:]version[-release]`` into its three parts (epoch/release None if absent)."""
    epoch: str | None = None
    rest = version
    head, sep, tail = version.partition(":")
    if sep:
        epoch, rest = head, tail
    ver, sep, release = rest.rpartition("-")
    if not sep:
        return epoch, rest, None
    return epoch, ver, release


class RpmScheme(KeyedScheme):
    """rpm EVR ordering."""

    name = "rpm"

    def _parse(self, version: str) -> tuple[int, tuple[object, ...], tuple[object, ...]]:
        v = self.nonempty(version)
        epoch_s, ver, release = split_evr(v)
        epoch = self.epoch(version, epoch_s)
        if not ver:
            raise self.invalid(version, "empty version part")
        if release is not None and not release:
            raise self.invalid(version, "empty release")
        if any(c.isspace() for c in v):
            raise self.invalid(version, "whitespace in version")
        return (epoch, rpmvercmp_key(ver), rpmvercmp_key(release) if release is not None else ())


SCHEME = RpmScheme()
