"""crates.io (Cargo) versions: strict SemVer 2.0.0, as the ``semver`` crate parses them.

No ``v`` or ``=`` prefix and no leading zeros are accepted. Precedence is SemVer's (section 11):
build metadata is ignored, as OSV's SEMVER ranges and RustSec's version requirements do (the
``semver`` crate's ``Ord`` breaks ties on build metadata only to be total; no advisory relies on it).
"""

from __future__ import annotations

from .semver import SemverScheme

SCHEME = SemverScheme("cargo", loose=False)
