"""NuGet package versions (NuGet.Versioning ``NuGetVersion`` with the default comparer).

Format: ``Major[.Minor[.Patch[.Revision]]][-label[.label]...][+metadata]``. Missing numeric parts
are 0 (``1.0`` == ``1.0.0`` == ``1.0.0.0``), leading zeros are allowed in them as in legacy
``System.Version``. A release sorts after its pre-releases; labels compare one by one: numeric
labels numerically and before alphanumeric ones, alphanumeric labels *case-insensitively*
(ordinal); fewer labels sort first. Metadata is ignored.
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_VERSION = re.compile(
    r"(?P<nums>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


class NuGetScheme(KeyedScheme):
    """NuGet version ordering."""

    name = "nuget"

    def _parse(self, version: str) -> tuple[object, ...]:
        m = _VERSION.fullmatch(version.strip())
        if m is None:
            raise self.invalid(version, "not a NuGet version (N[.N[.N[.N]]][-label][+metadata])")
        nums = [int(n) for n in m["nums"].split(".")]
        nums += [0] * (4 - len(nums))
        if m["pre"] is None:
            pre: tuple[object, ...] = (1,)
        else:
            labels: list[tuple[int, int, str]] = []
            for label in m["pre"].split("."):
                if label.isdigit():
                    labels.append((0, int(label), ""))
                else:
                    labels.append((1, 0, label.upper()))
            pre = (0, *labels)
        return (*nums, pre)


SCHEME = NuGetScheme()
