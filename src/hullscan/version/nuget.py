"""NuGet package versions (NuGet.Versioning ``NuGetVersion`` with the default comparer).

Format: ``Major[.Minor[.Patch[.Revision]]][-label[.label]...][+metadata]``. Missing numeric parts
are 0 (``1.0`` == ``1.0.0`` == ``1.0.0.0``), leading zeros are allowed in them as in legacy
``System.Version``. A release sorts after its pre-releases; labels compare one by one: numeric
labels (those that fit in an Int32) numerically and before alphanumeric ones, other labels
*case-insensitively* (ordinal); fewer labels sort first. Metadata is ignored. Numeric labels with a
leading zero (``1.0.0-beta.01``) are rejected, as NuGet does.
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_VERSION = re.compile(
    r"(?P<nums>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


_INT32_MAX = 2**31 - 1


class NuGetScheme(KeyedScheme):
    """NuGet version ordering."""

    name = "nuget"

    def _parse(self, version: str) -> tuple[object, ...]:
        m = _VERSION.fullmatch(version.strip())
        if m is None:
            raise self.invalid(version, "not a NuGet version (N[.N[.N[.N]]][-label][+metadata])")
        nums = [int(n) for n in m["nums"].split(".")]
        if any(n > _INT32_MAX for n in nums):
            raise self.invalid(version, "version number does not fit in 32 bits")
        nums += [0] * (4 - len(nums))
        if m["pre"] is None:
            pre: tuple[object, ...] = (1,)
        else:
            labels: list[tuple[int, int, str]] = []
            for label in m["pre"].split("."):
                if label.isdigit() and len(label) > 1 and label[0] == "0":
                    raise self.invalid(version, f"numeric release label {label!r} has a leading zero")
                if label.isdigit() and int(label) <= _INT32_MAX:
                    labels.append((0, int(label), ""))
                else:  # as in NuGet, a label is numeric only when it fits in an Int32
                    labels.append((1, 0, label.upper()))
            pre = (0, *labels)
        return (*nums, pre)


SCHEME = NuGetScheme()
