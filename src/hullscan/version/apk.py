"""Alpine (apk-tools) package versions, a port of apk-tools' ``src/version.c`` (apk-tools 2.14 / 3.x).

Format: ``digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}``. Pre-release suffixes
(``_alpha _beta _pre _rc``) sort below the bare version, post-release ones
(``_cvs _svn _git _hg _p``) above it. A digit group after the first one that has a leading zero
on either side is compared as a string (Gentoo rule: ``1.01`` < ``1.1``, ``1.10`` > ``1.09``).
``~hash`` is a commit hash (compared as a string), ``-rN`` the package revision.

Tokens are compared pairwise while both sides have the same token type; when the types differ,
the version that goes on is greater unless what follows is a pre-release suffix, and an invalid
tail sorts lowest -- exactly as ``apk_version_compare``. Keys are :class:`~.base.CmpKey` objects
over the cached token list. Strings that ``apk_version_validate`` rejects raise
:class:`~.base.InvalidVersionError`.
"""

from __future__ import annotations

import re

from .base import CmpKey, KeyedScheme

# Token types, in apk-tools' order (the order is part of the semantics).
INITIAL_DIGIT, DIGIT, LETTER, SUFFIX, SUFFIX_NO, COMMIT_HASH, REVISION_NO, END, INVALID = range(9)

# Suffix ordinals: NONE (5) is the pivot between pre- and post-release suffixes.
SUFFIX_VALUES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
SUFFIX_NONE = 5

_DIGITS = re.compile(r"[0-9]*")
_SUFFIX_CHARS = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-fA-F]*")

# A token: (type, number, text) -- number holds the integer, letter code or suffix ordinal.
Token = tuple[int, int, str]


def tokenize(version: str) -> tuple[Token, ...]:
    """The tokens apk reads from ``version``, ending with an END or INVALID token."""
    out: list[Token] = []
    pos = 0
    n = len(version)

    def digits(kind: int) -> Token:
        nonlocal pos
        m = _DIGITS.match(version, pos)
        text = m.group(0) if m else ""
        pos += len(text)
        if not text:
            return (INVALID, 0, "")
        return (kind, int(text), text)

    tok = digits(INITIAL_DIGIT)
    out.append(tok)
    while tok[0] < END:
        prev = tok[0]
        if pos >= n:
            tok = (END, 0, "")
        else:
            c = version[pos]
            if "a" <= c <= "z":
                tok = (INVALID, 0, "") if prev > DIGIT else (LETTER, ord(c), c)
                pos += 1
            elif c == "." or "0" <= c <= "9":
                if c == "." and prev > DIGIT:
                    tok = (INVALID, 0, "")
                else:
                    if c == ".":
                        pos += 1
                    if prev in (INITIAL_DIGIT, DIGIT):
                        tok = digits(DIGIT)
                    elif prev == SUFFIX:
                        tok = digits(SUFFIX_NO)
                    else:
                        tok = (INVALID, 0, "")
            elif c == "_":
                if prev > SUFFIX_NO:
                    tok = (INVALID, 0, "")
                else:
                    m = _SUFFIX_CHARS.match(version, pos + 1)
                    text = m.group(0) if m else ""
                    pos += 1 + len(text)
                    value = SUFFIX_VALUES.get(text)
                    tok = (INVALID, 0, "") if value is None else (SUFFIX, value, text)
            elif c == "~":
                m = _HEX.match(version, pos + 1)
                text = m.group(0) if m else ""
                if prev >= COMMIT_HASH or not text:
                    tok = (INVALID, 0, "")
                else:
                    pos += 1 + len(text)
                    tok = (COMMIT_HASH, 0, text)
            elif c == "-":
                if prev >= REVISION_NO or not version.startswith("-r", pos):
                    tok = (INVALID, 0, "")
                else:
                    pos += 2
                    tok = digits(REVISION_NO)
            else:
                tok = (INVALID, 0, "")
        out.append(tok)
    return tuple(out)


def _blob_sort(a: str, b: str) -> int:
    """apk ``apk_blob_sort``: bytewise on the common length, then the shorter first."""
    ea, eb = a.encode(), b.encode()
    if ea[: len(eb)] != eb[: len(ea)]:
        return -1 if ea < eb else 1
    return (len(ea) > len(eb)) - (len(ea) < len(eb))


def _token_cmp(ta: Token, tb: Token) -> int:
    kind = ta[0]
    if kind == DIGIT and (ta[2].startswith("0") or tb[2].startswith("0")):
        return _blob_sort(ta[2], tb[2])
    if kind in (INITIAL_DIGIT, DIGIT, SUFFIX_NO, REVISION_NO, LETTER, SUFFIX):
        return (ta[1] > tb[1]) - (ta[1] < tb[1])
    return _blob_sort(ta[2], tb[2])


def compare_tokens(a: tuple[Token, ...], b: tuple[Token, ...]) -> int:
    """apk ``apk_version_compare`` (not fuzzy) over token lists."""
    i = 0
    while a[i][0] == b[i][0] and a[i][0] < END:
        r = _token_cmp(a[i], b[i])
        if r:
            return r
        i += 1
    ta, tb = a[i], b[i]
    if ta[0] == tb[0]:
        return 0
    if ta[0] == SUFFIX and ta[1] < SUFFIX_NONE:
        return -1
    if tb[0] == SUFFIX and tb[1] < SUFFIX_NONE:
        return 1
    if ta[0] > tb[0]:
        return -1
    if tb[0] > ta[0]:
        return 1
    return 0


class ApkScheme(KeyedScheme):
    """apk-tools version ordering."""

    name = "apk"

    def _parse(self, version: str) -> CmpKey:
        v = version.strip()
        tokens = tokenize(v)
        if tokens[-1][0] != END:
            raise self.invalid(version, "not an apk version (digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#})")
        return CmpKey(tokens, compare_tokens)


SCHEME = ApkScheme()
