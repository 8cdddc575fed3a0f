"""Stage (scanner ``malware``; issue 16.4): shared objects directly in a system library folder that no
installed package lists (the ``library`` fact of :mod:`hullscan.analyzers.files.suspicious`), a place a
user-land rootkit drops its preload library. Only decided when the image has an OS package database with file
lists (a distroless-style image without one cannot tell owned from unowned: a note says so)."""

from __future__ import annotations

from hullscan.model import Finding
from hullscan.stages import ScanContext


def unowned_libraries(ctx: ScanContext) -> list[Finding]:
    """One finding per shared object in a library folder that no OS package lists."""
    from hullscan.analyzers.files.suspicious import finding
    from hullscan.owners import file_owners

    libraries = sorted(set(ctx.inventory.facts.get("library", [])))
    if not libraries:
        return []
    owned = file_owners(ctx.inventory.packages, os_only=True)
    if not owned:
        ctx.notes.append(f"malware: no OS package file lists: {len(libraries)} system libraries not checked for ownership")
        return []
    return [finding("suspicious-unowned-library", "unowned-library", f"{path} is listed by no installed package", path, "")
            for path in libraries if path not in owned]
