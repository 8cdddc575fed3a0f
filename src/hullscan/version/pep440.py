"""Python package versions (PEP 440), ordered by the ``packaging`` library (the reference).

Legacy versions that PEP 440 rejects (``2.0-beta-1-foo``, ``dev``) raise
:class:`~.base.InvalidVersionError`, as ``pip`` and ``packaging`` >= 22 do.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from .base import KeyedScheme


class Pep440Scheme(KeyedScheme):
    """PEP 440 ordering via :class:`packaging.version.Version`."""

    name = "pep440"

    def _parse(self, version: str) -> Version:
        try:
            return Version(version)
        except InvalidVersion:
            raise self.invalid(version, "not a PEP 440 version") from None


SCHEME = Pep440Scheme()
