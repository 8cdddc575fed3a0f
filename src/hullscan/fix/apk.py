"""The Alpine fix (apk): not implemented yet; images with an apk database are refused as unsupported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullscan.fix.errors import UNSUPPORTED, FixRefused
from hullscan.fix.imagefs import ImageFiles

if TYPE_CHECKING:
    from hullscan.fix.service import FixOptions, FixResult

INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


def read_installed(files: ImageFiles) -> bytes | None:
    """The apk database, or None."""
    for path in INSTALLED:
        data = files.read(path)
        if data is not None:
            return data
    return None


def patch_alpine(report: Any, base: Any, files: ImageFiles, installed: bytes, options: FixOptions,
                 result: FixResult, work: Path) -> Any:
    """Refuse: apk images are not patched yet."""
    raise FixRefused(UNSUPPORTED, "apk (Alpine) images are not supported by this version of hullscan fix")
