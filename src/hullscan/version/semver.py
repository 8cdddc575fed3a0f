"""Semantic Versioning 2.0.0 (npm, crates.io, Pub, Hex, Bitnami, SwiftURL, SEMVER ranges).

Precedence (semver.org section 11): major, minor and patch compare numerically; a version with a
pre-release sorts before the same version without one; pre-release identifiers compare one by one
(numeric ones numerically and below alphanumeric ones, alphanumeric ones in ASCII order) and a
shorter list of equal identifiers sorts first. Build metadata (``+...``) is ignored.

Parsing follows node-semver's strict grammar (no leading zeros in numeric parts) and, like
``semver.valid``, accepts one leading ``v`` or ``=`` and surrounding spaces when ``loose`` is on
(npm). Cargo's scheme (:mod:`.cargo`) is the strict variant: no prefix.
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_RE = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)

#: Key of an absent pre-release: sorts after every pre-release key ``(0, ...)``.
RELEASE = (1,)

SemverKey = tuple[int, int, int, tuple[object, ...]]


def prerelease_key(pre: str | None) -> tuple[object, ...]:
    """Key of a dot-separated pre-release string (None = no pre-release)."""
    if pre is None:
        return RELEASE
    ids: list[tuple[int, int, str]] = []
    for ident in pre.split("."):
        if ident.isdigit():
            ids.append((0, int(ident), ""))
        else:
            ids.append((1, 0, ident))
    return (0, *ids)


def semver_key(major: int, minor: int, patch: int, pre: str | None) -> SemverKey:
    """The precedence key of a parsed SemVer version."""
    return (major, minor, patch, prerelease_key(pre))


class SemverScheme(KeyedScheme):
    """SemVer 2.0.0 precedence; ``loose`` accepts a leading ``v``/``=`` and spaces (npm style)."""

    def __init__(self, name: str = "semver", loose: bool = True) -> None:
        self.name = name
        self.loose = loose
        super().__init__()

    def _parse(self, version: str) -> SemverKey:
        v = version
        if self.loose:
            v = v.strip()
            if v[:1] in ("v", "=", "V"):
                v = v[1:].lstrip()
        m = SEMVER_RE.fullmatch(v)
        if m is None:
            raise self.invalid(version, "not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH[-pre][+build])")
        return semver_key(int(m["major"]), int(m["minor"]), int(m["patch"]), m["pre"])


SCHEME = SemverScheme("semver", loose=True)
