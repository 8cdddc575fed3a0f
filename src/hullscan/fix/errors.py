"""Why a fix was refused: every refusal has a stable reason code and a message naming the package."""

from __future__ import annotations

from hullscan.errors import HullscanError

#: reason codes (stable: the fix log, the server and the console show them)
FIXED_VERSION_ABSENT = "fixed-version-absent"
NEEDS_REMOVAL = "needs-removal"
SONAME_CHANGE = "new-major-version"
UNSATISFIABLE = "unsatisfiable-dependency"
END_OF_LIFE = "release-end-of-life"
BAD_SIGNATURE = "bad-signature"
CHECKSUM_MISMATCH = "checksum-mismatch"
REPOSITORY_UNAVAILABLE = "repository-unavailable"
UNSUPPORTED = "unsupported-image"
NOTHING_TO_FIX = "nothing-to-fix"


class FixRefused(HullscanError):
    """The fix cannot be made; ``reason`` is one of the codes above."""

    exit_code = 3

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
