"""Go module versions (golang.org/x/mod/semver) and Go toolchain versions.

Module versions are SemVer 2.0.0 with a ``v`` prefix; ``vMAJOR`` and ``vMAJOR.MINOR`` are
shorthands for ``.0`` (only without pre-release/build); build metadata -- notably
``+incompatible`` -- is ignored; pseudo-versions (``v0.0.0-20191109021931-daa7c04131f5``,
``v1.2.4-0.20191109021931-daa7c04131f5``) are ordinary pre-releases and sort as such. OSV's Go
records omit the ``v``, so it is optional here.

Toolchain versions of the standard library (``go1.21``, ``go1.21.3``, ``go1.21rc2``,
``go1.9beta1``) map the way the Go vulnerability database maps them: ``1.21.0``, ``1.21.3``,
``1.21.0-rc.2``, ``1.9.0-beta.1``; a ``" X:experiment"`` suffix from ``go version`` is ignored.
"""

from __future__ import annotations

import re

from .base import KeyedScheme
from .semver import SemverKey, semver_key

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_MODULE = re.compile(
    rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?"
)
_TOOLCHAIN = re.compile(
    r"go(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?(?:(?P<kind>beta|rc)(?P<n>[0-9]+))?"
)


def toolchain_to_semver(version: str) -> str | None:
    """``go1.21rc2`` -> ``1.21.0-rc.2``; None when ``version`` is not a Go toolchain version."""
    # `go version` may append experiments: "go1.22.1 X:boringcrypto,nocoverageredesign".
    m = _TOOLCHAIN.fullmatch(version.split(" X:", 1)[0].strip())
    if m is None:
        return None
    out = f"{int(m['major'])}.{int(m['minor'] or 0)}.{int(m['patch'] or 0)}"
    if m["kind"]:
        out += f"-{m['kind']}.{int(m['n'])}"
    return out


class GoScheme(KeyedScheme):
    """Go module (and toolchain) version ordering."""

    name = "go"

    def _parse(self, version: str) -> SemverKey:
        v = version.strip()
        if v.startswith("go"):
            converted = toolchain_to_semver(v)
            if converted is None:
                raise self.invalid(version, "not a Go toolchain version (go1.N[.P][rcN|betaN])")
            v = converted
        m = _MODULE.fullmatch(v)
        if m is None:
            raise self.invalid(version, "not a Go module version (vMAJOR.MINOR.PATCH[-pre][+build])")
        if (m["minor"] is None or m["patch"] is None) and not v.startswith("v"):
            # vX / vX.Y shorthands: x/mod/semver accepts them only bare and only with the v.
            raise self.invalid(version, "shorthand versions need the v prefix")
        return semver_key(int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0), m["pre"])


SCHEME = GoScheme()
