"""Alpine (apk-tools) package versions, a faithful port of apk-tools' ``version.c``.

Format (Gentoo style): ``{digit}{.digit}...{letter}{_suffix{#}}...{-r#}``. Suffixes before the
release (``_alpha _beta _pre _rc``) sort below the bare version; suffixes after it
(``_cvs _svn _git _hg _p``) sort above. ``.0``-prefixed digit groups (``1.02``) compare as
fractions (leading zeros make the group smaller). ``-rN`` is the package revision.

The comparison is a token walk, not a tuple order, so keys are :class:`~.base.CmpKey` objects
over the cached token list. Invalid strings (apk's ``apk_version_validate`` fails) raise
:class:`~.base.InvalidVersionError`.
"""

from __future__ import annotations

from .base import CmpKey, KeyedScheme

# Token types, in apk-tools' order (the order matters for the final comparison).
INVALID = -1
DIGIT_OR_ZERO = 0
DIGIT = 1
LETTER = 2
SUFFIX = 3
SUFFIX_NO = 4
REVISION_NO = 5
END = 6

_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")


def _isdigit(c: str) -> bool:
    return "0" <= c <= "9"


def _islower(c: str) -> bool:
    return "a" <= c <= "z"


def _next_token(typ: int, s: str, pos: int) -> tuple[int, int]:
    """apk ``next_token``: the type of the token at ``pos`` (and the position after its marker)."""
    n = INVALID
    if pos >= len(s):
        n = END
    elif typ in (DIGIT, DIGIT_OR_ZERO) and _islower(s[pos]):
        n = LETTER
    elif typ == LETTER and _isdigit(s[pos]):
        n = DIGIT
    elif typ == SUFFIX and _isdigit(s[pos]):
        n = SUFFIX_NO
    else:
        c = s[pos]
        if c == ".":
            n = DIGIT_OR_ZERO
        elif c == "_":
            n = SUFFIX
        elif c == "-":
            if pos + 1 < len(s) and s[pos + 1] == "r":
                n = REVISION_NO
                pos += 1
        pos += 1
    if n < typ:
        if not (
            (n == DIGIT_OR_ZERO and typ == DIGIT)
            or (n == SUFFIX and typ == SUFFIX_NO)
            or (n == DIGIT and typ == LETTER)
        ):
            n = INVALID
    return n, pos


def _get_token(typ: int, s: str, pos: int) -> tuple[int, int, int]:
    """apk ``get_token``: (value, type of the next token, new position)."""
    if pos >= len(s):
        return 0, END, pos
    i = pos
    v = 0
    nt = INVALID
    if typ == DIGIT_OR_ZERO and s[i] == "0":
        while i < len(s) and s[i] == "0":
            i += 1
        nt = DIGIT
        v = -(i - pos)
    elif typ in (DIGIT_OR_ZERO, DIGIT, SUFFIX_NO, REVISION_NO):
        while i < len(s) and _isdigit(s[i]):
            v = v * 10 + (ord(s[i]) - 48)
            i += 1
    elif typ == LETTER:
        v = ord(s[i])
        i += 1
    elif typ == SUFFIX:
        rest = s[pos:]
        for idx, suf in enumerate(_PRE_SUFFIXES):
            if rest.startswith(suf):
                v = idx - len(_PRE_SUFFIXES)
                i = pos + len(suf)
                break
        else:
            for idx, suf in enumerate(_POST_SUFFIXES):
                if rest.startswith(suf):
                    v = idx
                    i = pos + len(suf)
                    break
            else:
                return -1, INVALID, pos
    else:
        return -1, INVALID, pos
    if i >= len(s):
        return v, END, i
    if nt != INVALID:
        return v, nt, i
    nt, i = _next_token(typ, s, i)
    return v, nt, i


def tokenize(version: str) -> tuple[tuple[int, int], ...]:
    """The (value, next type) pairs apk reads from ``version``, up to END or INVALID."""
    out: list[tuple[int, int]] = []
    typ = DIGIT
    pos = 0
    while typ not in (END, INVALID):
        v, typ, pos = _get_token(typ, version, pos)
        out.append((v, typ))
    return tuple(out)


def compare_tokens(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> int:
    """apk ``apk_version_compare_blob_fuzzy`` (non-fuzzy) over token lists."""
    at = bt = DIGIT
    av = bv = 0
    i = 0
    while at == bt and at not in (END, INVALID) and av == bv:
        av, at = a[i]
        bv, bt = b[i]
        i += 1
    if av < bv:
        return -1
    if av > bv:
        return 1
    if at == bt:
        return 0
    # The non-terminating version is greater, unless what follows is a pre-release suffix
    # (or an invalid one: get_token returns -1 for it).
    if at == SUFFIX and a[i][0] < 0:
        return -1
    if bt == SUFFIX and b[i][0] < 0:
        return 1
    if at > bt:
        return -1
    if bt > at:
        return 1
    return 0


class ApkScheme(KeyedScheme):
    """apk-tools version ordering."""

    name = "apk"

    def _parse(self, version: str) -> CmpKey:
        v = version.strip()
        tokens = tokenize(v)
        if not v or tokens[-1][1] != END:
            raise self.invalid(version, "not an apk version ({digit}{.digit}...{letter}{_suf{#}}...{-r#})")
        return CmpKey(tokens, compare_tokens)


SCHEME = ApkScheme()
