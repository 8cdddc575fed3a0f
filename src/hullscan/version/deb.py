"""Debian package versions, ordered exactly as ``dpkg --compare-versions``.

Format (deb-version(7)): ``[epoch:]upstream_version[-debian_revision]``. The epoch is an unsigned
integer; the revision is everything after the *last* hyphen; the upstream part may contain a
colon only when an epoch is present and a hyphen only when a revision is present.

Ordering (dpkg ``verrevcmp``): each part is split into alternating non-digit and digit runs;
non-digit runs compare character by character where ``~`` sorts before everything (even the end
of the string), then the end of the string, then letters, then every other character; digit runs
compare numerically. A missing revision equals the revision ``0``.

Like dpkg, an upstream part that does not start with a digit is accepted (dpkg only warns).
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_UPSTREAM_CHARS = re.compile(r"[A-Za-z0-9.+~:-]+")
_REVISION_CHARS = re.compile(r"[A-Za-z0-9.+~]+")
_RUNS = re.compile(r"([^0-9]*)([0-9]*)")


def _order(c: str) -> int:
    """dpkg's ``order()``: ``~`` < end < letters < everything else (end of a run is 0)."""
    if c == "~":
        return -1
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


def verrev_key(part: str) -> tuple[object, ...]:
    """A tuple key ordering strings as dpkg's ``verrevcmp`` does.

    Non-digit runs become tuples of ``_order`` values closed by a 0 (the "end" value), digit runs
    become ints; the whole key is closed by ``(0,)`` so that a shorter string compares against the
    longer one's next run exactly as dpkg compares the end of a string.
    """
    out: list[object] = []
    pos = 0
    n = len(part)
    while pos < n:
        m = _RUNS.match(part, pos)
        assert m is not None  # the pattern matches the empty string
        letters, digits = m.group(1), m.group(2)
        out.append(tuple(_order(c) for c in letters) + (0,))
        out.append(int(digits) if digits else 0)
        pos = m.end()
    if not out:
        out.extend(((0,), 0))
    out.append((0,))
    return tuple(out)


class DebianScheme(KeyedScheme):
    """dpkg version ordering."""

    name = "deb"

    def _parse(self, version: str) -> tuple[int, tuple[object, ...], tuple[object, ...]]:
        v = self.nonempty(version)
        epoch_s = None
        if ":" in v:
            epoch_s, v = v.split(":", 1)
        epoch = self.epoch(version, epoch_s)
        upstream, sep, revision = v.rpartition("-")
        if not sep:
            upstream, revision = v, ""
        elif not revision:
            raise self.invalid(version, "empty revision")
        if not upstream:
            raise self.invalid(version, "empty upstream version")
        if not _UPSTREAM_CHARS.fullmatch(upstream):
            raise self.invalid(version, "invalid character in upstream version")
        if revision and not _REVISION_CHARS.fullmatch(revision):
            raise self.invalid(version, "invalid character in revision")
        return (epoch, verrev_key(upstream), verrev_key(revision))


SCHEME = DebianScheme()
