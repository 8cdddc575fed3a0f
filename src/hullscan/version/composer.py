"""Composer (Packagist) versions: Composer's ``VersionParser::normalize`` then PHP ``version_compare``.

Normalisation (composer/semver 3.x): an optional ``v`` prefix is dropped, numeric versions are
padded to four parts (``1.2`` -> ``1.2.0.0``), stability suffixes are expanded (``a``/``alpha``
-> ``alpha``, ``b`` -> ``beta``, ``rc`` -> ``RC``, ``p``/``pl``/``patch`` -> ``patch``), build
metadata is dropped, date versions (``20240101``) are kept, ``1.x-dev`` / ``1.0-dev`` become
``1.9999999.9999999.9999999-dev`` / ``1.0.0.0-dev``.

Ordering is ``version_compare`` on the normalised strings: parts split on ``.``, ``-``, ``_``,
``+`` and digit/letter transitions; numbers numerically; names by stability:
``dev`` < ``alpha`` = ``a`` < ``beta`` = ``b`` < ``RC`` = ``rc`` < a number < ``pl`` = ``p``
(``patch``), any other name sorts below ``dev``.

Named branches (``dev-main``) have no order in Composer and raise
:class:`~.base.InvalidVersionError`.
"""

from __future__ import annotations

import re

from .base import KeyedScheme

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_CLASSICAL = re.compile(r"v?(\d{1,5})(\.\d++)?(\.\d++)?(\.\d++)?" + _MODIFIER, re.IGNORECASE)
_DATE = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})" + _MODIFIER, re.IGNORECASE)
_STABILITY_FLAG = re.compile(r"@(?:stable|RC|beta|alpha|dev)$", re.IGNORECASE)
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)")
_BUILD = re.compile(r"([^,\s+]++)\+[^\s]++")
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE)
_BRANCH = re.compile(r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", re.IGNORECASE)


def _expand_stability(s: str) -> str:
    s = s.lower()
    return {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}.get(s, s)


def _normalize_branch(name: str) -> str:
    name = name.strip()
    m = _BRANCH.fullmatch(name)
    if m:
        out = ""
        for i in range(1, 5):
            part = m.group(i)
            out += part.replace("*", "x").replace("X", "x") if part is not None else ".x"
        return out.replace("x", "9999999") + "-dev"
    return "dev-" + name


def normalize(version: str) -> str:
    """Composer's ``VersionParser::normalize``; ValueError when Composer would reject it."""
    v = version.strip()
    m = _ALIAS.fullmatch(v)
    if m:
        v = m.group(1)
    m = _STABILITY_FLAG.search(v)
    if m:
        v = v[: m.start()]
    if v in ("master", "trunk", "default"):
        v = "dev-" + v
    if v.lower().startswith("dev-"):
        return "dev-" + v[4:]
    m = _BUILD.fullmatch(v)
    if m:
        v = m.group(1)
    index = 0
    m = _CLASSICAL.fullmatch(v)
    if m:
        v = m.group(1) + "".join(m.group(i) or ".0" for i in (2, 3, 4))
        index = 5
    else:
        m = _DATE.fullmatch(v)
        if m:
            v = re.sub(r"\D", ".", m.group(1))
            index = 2
    if m:
        if m.group(index):
            if m.group(index) == "stable":
                return v
            v += "-" + _expand_stability(m.group(index)) + (m.group(index + 1) or "").lstrip(".-")
        if m.group(index + 2):
            v += "-dev"
        return v
    m = _DEV_SUFFIX.fullmatch(v)
    if m:
        normalized = _normalize_branch(m.group(1))
        if "dev-" not in normalized:
            return normalized
    raise ValueError(f"invalid version string {version!r}")


# --- PHP version_compare ------------------------------------------------------------------------

_SPECIAL_FORMS = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)


def _isdigit(c: str) -> bool:
    return "0" <= c <= "9"


def _isalnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def canonicalize(version: str) -> str:
    """PHP ``php_canonicalize_version``: separators to ``.``, dots at digit/non-digit changes."""
    if not version:
        return ""
    out = [version[0]]
    lp = version[0]
    for c in version[1:]:
        if c in "-_+":
            if out[-1] != ".":
                out.append(".")
        elif (lp != "." and not _isdigit(lp) and _isdigit(c)) or (_isdigit(lp) and c != "." and not _isdigit(c)):
            if out[-1] != ".":
                out.append(".")
            out.append(c)
        elif not _isalnum(c):
            if out[-1] != ".":
                out.append(".")
        else:
            out.append(c)
        lp = c
    return "".join(out)


def _special(form: str) -> int:
    for name, order in _SPECIAL_FORMS:
        if form.startswith(name):
            return order
    return -6


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def _strtol(s: str) -> int:
    m = re.match(r"[0-9]*", s)
    return int(m.group(0)) if m and m.group(0) else 0


def version_compare(v1: str, v2: str) -> int:
    """PHP ``version_compare($v1, $v2)``: -1, 0 or 1."""
    if not v1 or not v2:
        if not v1 and not v2:
            return 0
        return 1 if v1 else -1
    p1 = [p for p in canonicalize(v1).split(".")]
    p2 = [p for p in canonicalize(v2).split(".")]
    # PHP walks parts with strtok-like pointers; empty parts come only from a leading/trailing dot.
    p1 = [p for p in p1 if p != ""]
    p2 = [p for p in p2 if p != ""]
    compare = 0
    i = 0
    while i < len(p1) and i < len(p2):
        a, b = p1[i], p2[i]
        if _isdigit(a[0]) and _isdigit(b[0]):
            compare = _sign(_strtol(a) - _strtol(b))
        elif not _isdigit(a[0]) and not _isdigit(b[0]):
            compare = _sign(_special(a) - _special(b))
        elif _isdigit(a[0]):
            compare = _sign(_special("#N#") - _special(b))
        else:
            compare = _sign(_special(a) - _special("#N#"))
        if compare != 0:
            return compare
        i += 1
    if i < len(p1):
        return 1 if _isdigit(p1[i][0]) else version_compare(".".join(p1[i:]), "#N#")
    if i < len(p2):
        return -1 if _isdigit(p2[i][0]) else version_compare("#N#", ".".join(p2[i:]))
    return 0


def compare_key(normalized: str) -> tuple[tuple[int, int], ...]:
    """A tuple key ordering normalised versions exactly as :func:`version_compare` does.

    Each canonical part becomes ``(4, n)`` for a number (a number ranks as the special form ``#``)
    or ``(order, 0)`` for a name; a closing ``(4, -1)`` makes a longer version greater when its next
    part is a number or ``patch``/``pl``/``p`` and smaller when it is ``dev``/``alpha``/``beta``/``RC``
    or an unknown name -- PHP's comparison of the rest against ``#N#``.
    """
    parts = [p for p in canonicalize(normalized).split(".") if p != ""]
    out = [(4, _strtol(p)) if _isdigit(p[0]) else (_special(p), 0) for p in parts]
    out.append((4, -1))
    return tuple(out)


class ComposerScheme(KeyedScheme):
    """Composer version ordering."""

    name = "composer"

    def _parse(self, version: str) -> tuple[tuple[int, int], ...]:
        try:
            normalized = normalize(version)
        except (ValueError, re.error):
            raise self.invalid(version, "not a Composer version") from None
        if normalized.startswith("dev-"):
            raise self.invalid(version, "named branches have no version order")
        return compare_key(normalized)


SCHEME = ComposerScheme()
