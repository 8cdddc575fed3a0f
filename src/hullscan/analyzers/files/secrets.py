"""Secret detection in text files (``--scanners secret``), driven by ``rules/secrets.yaml``.

Each rule has lower-case keywords: one multi-pattern search (yara-x) over the ASCII-lower-cased bytes of a
file says which keywords occur, and only the rules owning one of them run their own regex; a file holding no
keyword is never decoded. A match is reported with its line and a **masked** value (never the whole secret);
placeholders, allow-listed paths and values below a rule's entropy threshold are dropped. Everything costly
is built on first use (a rule's regex when its keyword first occurs, the allow lists when a value is
checked, the keyword automaton once the texts searched add up to some size), so a scan that meets no keyword
costs almost nothing. The scanning functions are reused by the image-config stage and the baseline analyzer.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput, FileMeta, is_binary
from hullscan.analyzers.files.paths import PathPatterns, PathRule, path_rules
from hullscan.analyzers.files.rulefiles import rule_yaml, rules_digest
from hullscan.model import (
    AnalysisResult,
    Category,
    Finding,
    Location,
    ScanWarning,
    Severity,
)
from hullscan.options import ScanOptions

RULES_FILE = "secrets.yaml"
#: files larger than this are not scanned for secrets
MAX_SECRET_FILE = 10 * 1024 * 1024
SECRET_GROUPS = ("secret", "secret2", "secret3")
#: findings reported per file at most (a generated file can hold tens of thousands); the rest is counted in a warning
MAX_FINDINGS_PER_FILE = 200
#: a marker on a line that silences secret findings on it
INLINE_ALLOW = ("hullscan:allow", "gitleaks:allow", "nosec")
REMEDIATION = (
    "Remove the secret from the image (including earlier layers: rebuild without it, e.g. with build secrets "
    "or a multi-stage build), rotate it, and pass it at run time instead."
)
#: extensions of files that are never text worth scanning
_SKIP_EXT = re.compile(
    r"\.(?:so(?:\.\d+)*|a|o|ko|pyc|pyo|class|jar|war|ear|zip|gz|tgz|bz2|xz|zst|lz4|7z|rar|png|jpe?g|gif|bmp|ico|"
    r"svgz|webp|tiff?|woff2?|ttf|otf|eot|pdf|mo|gmo|db|sqlite|mp3|mp4|ogg|wav|avi|mov|deb|rpm|apk|whl|egg|"
    r"exe|dll|bin|dat|pack|idx|cache|bc|wasm|node)$",
    re.IGNORECASE,
)
_CODE_EXT = re.compile(
    r"\.(?:py|pyi|go|rb|js|mjs|cjs|ts|tsx|jsx|java|kt|scala|groovy|c|h|cc|cpp|hpp|cs|pl|pm|t|php|tcl|tm|rs|swift|lua|"
    r"r|jl|ex|exs|erl|hs|ml|dart|vue|el|lisp|scm|m)$",
    re.IGNORECASE,
)



#: a regex opening with a case-insensitive key group of literal alternatives: ``(?i:(?P<key>lob)``,
#: ``(?i:(?P<key>(?:atlassian|confluence|jira))``
_KEYWORD_ANCHOR = re.compile(r"\(\?i:\(\?P<key>(?:\(\?:([a-z0-9_\-]+(?:\|[a-z0-9_\-]+)*)\)|([a-z0-9_\-]+(?:\|[a-z0-9_\-]+)*))\)")


@dataclass(frozen=True)  # no slots: functools.cached_property keeps the compiled regex in the instance dict
class SecretRule:
    """One secret rule from ``rules/secrets.yaml``."""

    id: str
    title: str
    severity: Severity
    keywords: tuple[str, ...]
    pattern: str  # the regex source; compiled on first use (most rules never run on a given image)
    entropy: float = 0.0
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    boundary: bool = False  # the match must not follow a letter or digit
    line_scope: bool = False  # run the regex only on lines holding a keyword (cheap for generic rules)
    unquoted_in_code: bool = True  # False: in source code only quoted values count (``x = other_var`` is code)
    generic: bool = False  # keyword-assignment rule: identifier-shaped values are code, not secrets

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled regex (MULTILINE: ``^`` and ``$`` work per line)."""
        return re.compile(self.pattern, re.MULTILINE)

    @functools.cached_property
    def anchors(self) -> tuple[str, ...]:
        """The keywords one of which every match starts with (case-insensitively), when the regex says so plainly:
        it opens with a ``(?i:(?P<key>...)`` group of literal alternatives that are all keywords; else ``()``."""
        m = _KEYWORD_ANCHOR.match(self.pattern)
        if not m:
            return ()
        alternatives = tuple((m.group(1) or m.group(2)).split("|"))
        return alternatives if all(a in self.keywords for a in alternatives) else ()


@dataclass  # no slots: functools.cached_property keeps the compiled lists in the instance dict
class SecretRules:
    """The rule set: rules, the allow lists (regex sources, compiled on first use) and the keyword index."""

    rules: list[SecretRule]
    allow_path_sources: list[Any] = field(default_factory=list)  # path entries (paths.PathRule.parse) on the absolute path
    allow_pattern_sources: list[str] = field(default_factory=list)  # on the secret value
    match_pattern_sources: list[str] = field(default_factory=list)  # on the whole match (example hosts)
    generic_pattern_sources: list[str] = field(default_factory=list)  # on values of generic rules only
    #: the last path :meth:`path_allowed` answered for, and its answer (no part of construction, equality or repr)
    _last_path: tuple[str | None, bool] = field(default=(None, False), init=False, repr=False, compare=False)

    @functools.cached_property
    def allow_path_rules(self) -> list[PathRule]:
        """The allow-listed path entries, parsed on first use (text redaction never needs them)."""
        return list(path_rules(self.allow_path_sources))

    @functools.cached_property
    def allow_paths(self) -> PathPatterns:
        """The allow-listed paths, arranged to be tried at every layer entry."""
        return PathPatterns(self.allow_path_rules)

    @functools.cached_property
    def allow_patterns(self) -> list[re.Pattern[str]]:
        """Placeholder shapes of a secret value."""
        return [re.compile(p) for p in self.allow_pattern_sources]

    @functools.cached_property
    def match_patterns(self) -> list[re.Pattern[str]]:
        """Shapes of a whole match that make it an example (``user:pw@db.example.com``)."""
        return [re.compile(p) for p in self.match_pattern_sources]

    @functools.cached_property
    def generic_patterns(self) -> list[re.Pattern[str]]:
        """Values that are code, not secrets, for the generic keyword-assignment rules."""
        return [re.compile(p) for p in self.generic_pattern_sources]

    @functools.cached_property
    def index(self) -> _KeywordIndex:
        """Which rules may match a text, by the keywords occurring in it."""
        return _KeywordIndex(self.rules)

    def path_allowed(self, path: str) -> bool:
        """True when ``path`` is allow-listed (docs, vendored test data...)."""
        last = self._last_path  # the secret and sensitive-file analyzers ask about the same path in turn
        if last[0] == path:
            return last[1]
        allowed = self.allow_paths.search(path)
        self._last_path = (path, allowed)  # one tuple, replaced whole: safe when layer threads interleave
        return allowed

    def value_allowed(self, value: str, whole: str = "") -> bool:
        """True when ``value`` looks like a placeholder (``EXAMPLE``, ``xxxx``, ``${VAR}``, ``<your-key>``...)
        or the whole match names an example host (``user:pw@db.example.com``)."""
        return any(p.search(value) for p in self.allow_patterns) or any(p.search(whole) for p in self.match_patterns)


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found in a text."""

    rule: SecretRule
    line: int
    masked: str  # the matched text with the secret masked
    start: int
    end: int


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def mask(secret: str) -> str:
    """``secret`` with its middle replaced by ``*``: at most a sixth (and at most 4 chars) shown at each end;
    nothing of secrets shorter than 12 characters (short passwords)."""
    n = len(secret)
    show = 0 if n < 12 else min(4, n // 6)
    stars = min(n - 2 * show, 24)
    return secret[:show] + "*" * max(stars, 3) + (secret[n - show :] if show else "")


def compile_rules(data: dict[str, Any]) -> SecretRules:
    """Compile a parsed secrets YAML document (``rules`` and ``allow``)."""
    rules: list[SecretRule] = []
    for item in data.get("rules") or []:
        ex = item.get("examples") or {}
        rules.append(
            SecretRule(
                id=str(item["id"]),
                title=str(item["title"]),
                severity=Severity.parse(str(item.get("severity", "MEDIUM"))),
                keywords=tuple(str(k).lower() for k in item.get("keywords") or ()),
                pattern=str(item["regex"]),
                entropy=float(item.get("entropy") or 0.0),
                examples_match=tuple(ex.get("match") or ()),
                examples_no_match=tuple(ex.get("no_match") or ()),
                boundary=bool(item.get("boundary", False)),
                line_scope=item.get("scope") == "line",
                unquoted_in_code=bool(item.get("unquoted_in_code", True)),
                generic=bool(item.get("generic", False)),
            )
        )
    allow = data.get("allow") or {}
    return SecretRules(
        rules=rules,
        allow_path_sources=list(allow.get("paths") or ()),
        allow_pattern_sources=[str(p) for p in allow.get("patterns") or ()],
        match_pattern_sources=[str(p) for p in allow.get("match_patterns") or ()],
        generic_pattern_sources=[str(p) for p in allow.get("generic_patterns") or ()],
    )


@functools.cache
def builtin_rules() -> SecretRules:
    """The shipped rule set, compiled once per process."""
    return compile_rules(rule_yaml(RULES_FILE))


def merge_user_config(base: dict[str, Any], user: dict[str, Any], source: str) -> dict[str, Any]:
    """The shipped rule document extended by a user's: ``rules`` added (same format), ``disable`` (rule ids)
    removed, ``allow.paths`` / ``allow.patterns`` appended. InputError naming ``source`` when malformed."""
    from hullscan.errors import InputError

    if not isinstance(user, dict) or set(user) - {"rules", "disable", "allow"}:
        raise InputError(f"{source}: expected a mapping with 'rules', 'disable' and/or 'allow'")
    disabled = set(user.get("disable") or [])
    rules = [r for r in base.get("rules") or [] if r["id"] not in disabled]
    known = {r["id"] for r in rules}
    for i, raw in enumerate(user.get("rules") or []):
        if not isinstance(raw, dict) or not all(raw.get(k) for k in ("id", "title", "regex")):
            raise InputError(f"{source}: rule {i + 1} needs 'id', 'title' and 'regex'")
        if raw["id"] in known:
            raise InputError(f"{source}: rule id {raw['id']!r} is already defined")
        try:
            re.compile(str(raw["regex"]))
        except re.error as exc:
            raise InputError(f"{source}: rule {raw['id']!r}: bad regex: {exc}") from None
        rules.append(raw)
    allow = {k: list(v) for k, v in (base.get("allow") or {}).items()}
    for key in ("paths", "patterns"):
        for pattern in (user.get("allow") or {}).get(key) or []:
            try:  # paths are joined into alternations: a global flag such as (?i) must be scoped, (?i:...)
                re.compile(f"(?:{pattern})" if key == "paths" else str(pattern))
            except re.error as exc:
                raise InputError(f"{source}: allow.{key}: bad regex {pattern!r}: {exc}") from None
            allow.setdefault(key, []).append(str(pattern))
    return {"rules": rules, "allow": allow}


def load_rules(config: str | None) -> SecretRules:
    """The shipped rules, extended by the user's secret config file when one is given."""
    if not config:
        return builtin_rules()
    import yaml

    from hullscan.errors import InputError

    try:
        with open(config, encoding="utf-8") as fh:
            user = yaml.safe_load(fh)
    except OSError as exc:
        raise InputError(f"{config}: cannot read secret config: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{config}: not valid YAML: {str(exc).splitlines()[0]}") from None
    rules = compile_rules(merge_user_config(rule_yaml(RULES_FILE), user or {}, config))
    rules.allow_path_rules  # noqa: B018 - a user's bad path entry fails now, not in the middle of a scan
    return rules


def configured_rules(config: str) -> tuple[SecretRules, str]:
    """The rules of the user's secret config file ``config`` (:func:`load_rules`) and a short digest of the file,
    for the layer-cache salt. The secret and sensitive-file analyzers of a scan get the same rules object (so the
    allow list's last answer, kept by :meth:`SecretRules.path_allowed`, serves both); an edited file is read anew."""
    try:
        with open(config, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()[:16]
    except OSError:
        return load_rules(config), ""  # raises the InputError naming the file (unless it has just appeared)
    return _rules_of(config, digest), digest


@functools.lru_cache(maxsize=8)
def _rules_of(config: str, digest: str) -> SecretRules:
    return load_rules(config)


#: texts are searched keyword by keyword until this much work (bytes searched plus :data:`_SUBSTRING_CALL` per text,
#: times the number of keywords) is spent; then the automaton is built and searches every further text. One
#: substring test costs ~0.5 ns per byte (~60 us for a 100-byte text and the ~260 shipped keywords, ~8 ms for 64 KiB),
#: the automaton ~12 ms to import yara-x and compile, then ~35 us per small text: an image whose few scanned texts are
#: small (the libraries bench image: 21 files, 5 KB) never builds it, and one with more text spends at most ~4 ms first
_SUBSTRING_WORK = 8_000_000
#: the fixed cost of one substring test, in bytes searched
_SUBSTRING_CALL = 400
#: the keyword automaton is this many YARA rules (keywords dealt round-robin)
_KEYWORD_GROUPS = 16
#: UTF-8 of the only non-ASCII characters whose ``str.lower()`` holds ASCII letters (KELVIN SIGN -> ``k``,
#: LATIN CAPITAL LETTER I WITH DOT ABOVE -> ``i`` + U+0307): folded the same way by :func:`ascii_lower`
_FOLD_TO_ASCII = ((b"\xe2\x84\xaa", b"k"), (b"\xc4\xb0", b"i\xcc\x87"))


def ascii_lower(data: bytes) -> bytes:
    """``data`` lower-cased for the keyword search, without decoding it: the (ASCII) keywords occurring in the
    result are those occurring in ``data.decode("utf-8", "replace").lower()``."""
    if not data.isascii():
        for raw, folded in _FOLD_TO_ASCII:
            if raw in data:
                data = data.replace(raw, folded)
    return data.lower()


def _yara_text(data: bytes) -> str:
    """``data`` as the body of a YARA text string (printable ASCII as is, other bytes, quote and backslash as
    ``\\xNN``; text strings compile faster than hex strings: 4.7 ms instead of 7.4 for the shipped keywords)."""
    return "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\x{c:02x}" for c in data)


class _KeywordIndex:
    """Which rules may match a text: the rules owning a keyword that occurs in it, and the keyword-less ones.

    Keywords are found by one yara-x scan (a multi-pattern automaton, compiled on first use; at most one
    match kept per keyword, so a text full of one keyword costs no more than any other), or by one
    substring test per keyword for the first texts (until :data:`_SUBSTRING_WORK`) and when yara-x is
    unavailable."""

    def __init__(self, rules: list[SecretRule]) -> None:
        owners: dict[str, list[int]] = {}
        always: list[int] = []
        for i, rule in enumerate(rules):
            for kw in rule.keywords:
                owners.setdefault(kw, []).append(i)
            if not rule.keywords or "" in rule.keywords:  # no prefilter: runs on every text
                always.append(i)
        self.keywords = [kw for kw in owners if kw]
        #: all keywords ASCII (the shipped ones are): :func:`ascii_lower` of the raw bytes finds them exactly
        self.ascii = all(kw.isascii() for kw in self.keywords)
        self._encoded = [kw.encode("utf-8") for kw in self.keywords]
        self._owners = [owners[kw] for kw in self.keywords]
        self._always = always
        self._automaton: Any = None
        self._built = False
        self._substring_work = 0  # spent by substring tests so far (updated racily by layer threads: an estimate)

    def _build(self) -> Any:
        """The keyword automaton: yara-x rules with a pattern per keyword (compiled once), or None when yara-x is
        missing or refuses them."""
        if not self._built:
            try:
                import yara_x

                # a few rules of many patterns: a scan lists the patterns of matching rules only (one rule: every
                # pattern of it, ~40 % slower on real files; one rule per keyword: 3x slower to compile)
                groups = [range(g, len(self._encoded), _KEYWORD_GROUPS) for g in range(_KEYWORD_GROUPS)]
                self._automaton = yara_x.compile("\n".join(
                    f"rule g{g} {{\nstrings:\n" + "\n".join(f'$k{i} = "{_yara_text(self._encoded[i])}"' for i in group)
                    + "\ncondition: any of them\n}" for g, group in enumerate(groups) if group))
            except Exception:  # noqa: BLE001 - yara-x missing or unusable: fall back to plain substring tests
                self._automaton = None
            self._built = True  # a race builds it twice, harmlessly
        return self._automaton

    def present(self, lower: bytes) -> list[int]:
        """Positions (in :attr:`keywords`) of the keywords occurring in ``lower`` (see :func:`ascii_lower`)."""
        if not self._encoded:
            return []
        if not self._built:
            work = (len(lower) + _SUBSTRING_CALL) * len(self._encoded)
            if self._substring_work + work <= _SUBSTRING_WORK:
                self._substring_work += work
                return self.present_by_substring(lower)
        automaton = self._build()
        if automaton is None:
            return self.present_by_substring(lower)
        import yara_x

        # a Scanner per call, created and dropped on this thread (a Scanner dropped on another thread panics)
        scanner = yara_x.Scanner(automaton)
        scanner.max_matches_per_pattern(1)
        found = scanner.scan(lower).matching_rules
        return [int(p.identifier[2:]) for rule in found for p in rule.patterns if p.matches]

    def present_by_substring(self, lower: bytes) -> list[int]:
        """:meth:`present` by one substring test per keyword."""
        return [i for i, kw in enumerate(self._encoded) if kw in lower]

    def candidates(self, lower: bytes) -> _Candidates:
        """The rules that may match a text whose :func:`ascii_lower` form is ``lower``, and its keywords."""
        wanted = set(self._always)
        keywords = set()
        for k in self.present(lower):
            wanted.update(self._owners[k])
            keywords.add(self.keywords[k])
        return _Candidates(sorted(wanted), frozenset(keywords))


@dataclass(frozen=True, slots=True)
class _Candidates:
    """What the keyword search found in a text."""

    rules: list[int]  # positions in the rule list, in order
    keywords: frozenset[str]  # the keywords occurring in the text


#: how far before / after a keyword a line-scoped rule's match may start / end
_WINDOW_BEFORE, _WINDOW_AFTER = 48, 320


class _Lines:
    """Line numbers and line bounds of a text by bisecting its newline offsets (linear set-up; a per-match
    ``rfind``/``count`` was quadratic on long single-line files)."""

    def __init__(self, text: str) -> None:
        self.text = text

    @functools.cached_property
    def newlines(self) -> list[int]:
        """Offsets of the newlines (found on first use: most texts scanned hold no match)."""
        return [m.start() for m in re.finditer("\n", self.text)]

    def number(self, pos: int) -> int:
        """The 1-based line number of offset ``pos``."""
        return bisect.bisect_left(self.newlines, pos) + 1

    def bounds(self, pos: int) -> tuple[int, int]:
        """(start, end) offsets of the line holding ``pos`` (end excludes the newline)."""
        i = bisect.bisect_left(self.newlines, pos)
        start = self.newlines[i - 1] + 1 if i else 0
        return start, self.newlines[i] if i < len(self.newlines) else len(self.text)


def _keyword_windows(rule: SecretRule, lower: str, lines: _Lines | None = None,
                     present: frozenset[str] | None = None) -> list[tuple[int, int]]:
    """Merged (start, end) windows around each keyword occurrence, clipped to the keyword's line (``present``:
    the keywords known to occur in ``lower``; the others are not looked for).

    Linear in the text however often a keyword occurs: the occurrences whose windows would merge into the
    current one are jumped over (the last of them, found with ``rfind``, sets the window's end), so a line
    of nothing but the keyword costs one step per window length, not one per occurrence."""
    lines = lines or _Lines(lower)
    windows: list[tuple[int, int]] = []
    reach = _WINDOW_BEFORE + _WINDOW_AFTER  # an occurrence this far after another one extends its window
    for kw in rule.keywords:
        if present is not None and kw not in present:
            continue
        at = lower.find(kw)
        while at >= 0:
            line_start, line_end = lines.bounds(at)
            start = max(line_start, at - _WINDOW_BEFORE)
            while at + _WINDOW_AFTER < line_end:
                last = lower.rfind(kw, at + 1, min(line_end, at + reach + len(kw)))
                if last < 0:
                    break
                at = last
            end = min(line_end, at + _WINDOW_AFTER)
            windows.append((start, end))
            at = lower.find(kw, end if end == line_end else at + len(kw))
    windows.sort()
    merged: list[tuple[int, int]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _matches(rule: SecretRule, text: str, lower: str, lines: _Lines | None = None,
             present: frozenset[str] | None = None, ascii: bool | None = None) -> Iterator[re.Match[str]]:
    """The rule's matches in ``text``, as ``finditer`` gives them (``lower``: ``text.lower()``; ``present``: the
    keywords known to occur; ``ascii``: whether ``text`` is ASCII, when known)."""
    if rule.line_scope:
        for start, end in _keyword_windows(rule, lower, lines, present):
            yield from rule.regex.finditer(text, start, end)
    elif rule.anchors and (text.isascii() if ascii is None else ascii):
        yield from _anchored_matches(rule, text, lower, present)
    else:
        yield from rule.regex.finditer(text)


def _anchored_matches(rule: SecretRule, text: str, lower: str, present: frozenset[str] | None) -> Iterator[re.Match[str]]:
    """``finditer`` of a rule whose matches start with one of its keywords (:attr:`SecretRule.anchors`), on ASCII text
    (where ``lower`` has the same offsets): the regex is tried at each keyword occurrence only, not at every
    character (a case-insensitive pattern gets no fast literal search from ``re``: "lob" in every "global" made
    lob-api-key cost 4 ms per MB of code); with many occurrences, one ``finditer`` pass is cheaper."""
    limit = 16 + len(text) // 512  # a failed match costs about as much as ``finditer`` spends on 500 characters
    starts: set[int] = set()
    for kw in rule.anchors:
        if present is not None and kw not in present:
            continue
        at = lower.find(kw)
        while at >= 0:
            starts.add(at)
            if len(starts) > limit:
                yield from rule.regex.finditer(text)
                return
            at = lower.find(kw, at + 1)
    end = 0
    for at in sorted(starts):
        if at < end:  # inside the previous match: finditer goes on from its end
            continue
        m = rule.regex.match(text, at)
        if m:
            yield m
            end = m.end()


def _secret_span(m: re.Match[str]) -> tuple[int, int]:
    for name in SECRET_GROUPS:
        if name in m.re.groupindex and m.group(name) is not None:
            return m.span(name)
    return m.span(0)


def _evidence(text: str, m: re.Match[str], span: tuple[int, int]) -> str:
    """The match with the secret masked: at most 60 characters of context before it and 40 after."""
    s0, s1 = span
    before = text[max(m.start(), s0 - 60) : s0]
    after = text[s1 : min(m.end(), s1 + 40)]
    return " ".join((before + mask(text[s0:s1]) + after).split())


class _Spans:
    """Disjoint (start, end) spans already reported, kept sorted for a logarithmic overlap test."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, s0: int, s1: int) -> bool:
        """True when [s0, s1) overlaps a stored span."""
        i = bisect.bisect_right(self.starts, s0)
        if i and self.ends[i - 1] > s0:
            return True
        return i < len(self.starts) and self.starts[i] < s1

    def add(self, s0: int, s1: int) -> None:
        """Store [s0, s1) (it overlaps no stored span)."""
        i = bisect.bisect_right(self.starts, s0)
        self.starts.insert(i, s0)
        self.ends.insert(i, s1)


def scan_text(text: str, rules: SecretRules | None = None, rule_ids: frozenset[str] | None = None,
              code: bool = False) -> list[SecretMatch]:
    """All secrets in ``text``: one match per secret span (the first, most specific rule wins), sorted by place.

    ``code``: the text is source code, where rules with ``unquoted_in_code: false`` need a quoted value.
    """
    rules = rules or builtin_rules()
    lower = text.lower()
    candidates = rules.index.candidates(lower.encode("utf-8", "surrogatepass"))
    return _scan(text, lower, candidates, rules, rule_ids, code)


def scan_bytes(data: bytes, rules: SecretRules | None = None, code: bool = False) -> list[SecretMatch]:
    """:func:`scan_text` of ``data`` decoded as UTF-8 (invalid bytes replaced); a text holding no keyword is
    never decoded."""
    rules = rules or builtin_rules()
    if not rules.index.ascii:  # a user keyword with non-ASCII letters: upper-case ones only lower-case once decoded
        return scan_text(data.decode("utf-8", errors="replace"), rules, code=code)
    candidates = rules.index.candidates(ascii_lower(data))
    if not candidates.rules:
        return []
    text = data.decode("utf-8", errors="replace")
    return _scan(text, text.lower(), candidates, rules, None, code)


def _scan(text: str, lower: str, candidates: _Candidates, rules: SecretRules, rule_ids: frozenset[str] | None,
          code: bool) -> list[SecretMatch]:
    """The matches of the candidate rules in ``text`` (``lower``: ``text.lower()``)."""
    if not candidates.rules:
        return []
    lines = _Lines(text)
    ascii = text.isascii()
    found: list[SecretMatch] = []
    taken = _Spans()
    allowed_lines: dict[int, bool] = {}  # line start -> the line carries an inline allow marker
    for i in candidates.rules:
        rule = rules.rules[i]
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        for m in _matches(rule, text, lower, lines, candidates.keywords, ascii):
            if rule.boundary and m.start() > 0 and text[m.start() - 1].isalnum():
                continue
            if code and not rule.unquoted_in_code and m.groupdict().get("secret3") is not None:
                continue
            s0, s1 = _secret_span(m)
            value = text[s0:s1]
            # filters only (a match is kept when it passes them all), cheapest first: a span already reported (by
            # a more specific rule) or a value too plain is dropped before the ~30 placeholder regexes are tried
            if not value or taken.overlaps(s0, s1):
                continue
            if rule.entropy and entropy(value) < rule.entropy:
                continue
            if rules.value_allowed(value, m.group(0)):
                continue
            if rule.generic and any(p.search(value) for p in rules.generic_patterns):
                continue
            line_start, line_end = lines.bounds(s0)
            if line_start not in allowed_lines:
                line = text[line_start:line_end]
                allowed_lines[line_start] = any(marker in line for marker in INLINE_ALLOW)
            if allowed_lines[line_start]:
                continue
            taken.add(s0, s1)
            found.append(SecretMatch(rule, lines.number(m.start()), _evidence(text, m, (s0, s1)), s0, s1))
    found.sort(key=lambda f: (f.start, f.rule.id))
    return found


_SECRET_NAMED = re.compile(
    r"(?i)\b([A-Z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Z0-9_.-]*)=([^\s\"']{4,})"
)


def redact(text: str) -> str:
    """``text`` with every secret the rules find masked, and the values of secret-named ``KEY=value`` pairs
    (build arguments, ENV lines) masked too. For evidence and report fields that quote image metadata."""
    for m in reversed(scan_text(text)):
        text = text[: m.start] + mask(text[m.start : m.end]) + text[m.end :]
    return _SECRET_NAMED.sub(lambda m: f"{m.group(1)}={m.group(2) if '*' in m.group(2) else mask(m.group(2))}", text)


def is_code(path: str) -> bool:
    """True for source-code files (by extension), where ``name = other_name`` is code, not a secret."""
    return bool(_CODE_EXT.search(path))


def finding_for(match: SecretMatch, path: str, layer: str, where: str = "") -> Finding:
    """The report finding for one secret match (category sensitive, id ``secret-<rule id>``)."""
    place = where or f"{path}:{match.line}"
    return Finding(
        id=f"secret-{match.rule.id}",
        category=Category.SENSITIVE,
        severity=match.rule.severity,
        title=match.rule.title,
        description=f"{match.rule.title} found in {place} (rule {match.rule.id}); the value is masked.",
        location=Location(path=path, line=match.line, layer=layer),
        evidence=match.masked,
        remediation=REMEDIATION,
    )


class SecretAnalyzer(Analyzer):
    """Finds secrets in every text file of every layer."""

    name = "files/secrets"
    version = 3  # 2: UTF-16 text with a BOM is scanned; 3: at most MAX_FINDINGS_PER_FILE findings per file
    tags = frozenset({"secret"})
    kinds = frozenset({"file"})  # a hard link's content is its target's, scanned where the target is
    max_size = MAX_SECRET_FILE

    def __init__(self) -> None:
        self.rules: SecretRules | None = None  # None: the shipped rules
        self.config_digest = ""

    def configure(self, options: ScanOptions) -> None:
        """``plugin_settings["secret"]["config"]``: a YAML file adding rules, disabling rule ids and adding
        allow-listed paths and patterns (format: :func:`merge_user_config`)."""
        config = (options.plugin_settings.get("secret") or {}).get("config")
        if config:
            self.rules, self.config_digest = configured_rules(str(config))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Regular, non-empty files under the size limit, not allow-listed and not binary by extension. The allow
        list is asked first: it holds most paths of an image (libraries, documentation, binaries), and the
        sensitive-file analyzer asks it about the same path next (its last answer is kept)."""
        if info.kind != "file" or info.size == 0 or info.size > MAX_SECRET_FILE:
            return False
        return not ((self.rules or builtin_rules()).path_allowed(path) or _SKIP_EXT.search(path))

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Scan the file's text (UTF-8, or UTF-16 with a byte-order mark); binaries (a NUL byte in the first 8 KiB) are skipped."""
        try:
            data = file.read()
            if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark (Windows tools write these)
                matches = scan_text(data.decode("utf-16", errors="replace"), self.rules, code=is_code(file.path))
            elif is_binary(data):
                return None
            else:
                matches = scan_bytes(data, self.rules, code=is_code(file.path))
        except Exception as exc:  # noqa: BLE001 - malformed input never escapes an analyzer
            return AnalysisResult(warnings=[ScanWarning("malformed-file", f"secret scan failed: {exc}", file.path, file.layer)])
        if not matches:
            return None
        out = AnalysisResult(findings=[finding_for(m, file.path, file.layer) for m in matches[:MAX_FINDINGS_PER_FILE]])
        if len(matches) > MAX_FINDINGS_PER_FILE:
            rest = Counter(m.rule.id for m in matches[MAX_FINDINGS_PER_FILE:])
            out.warnings.append(ScanWarning("too-many-findings", f"{len(matches) - MAX_FINDINGS_PER_FILE} more secret matches not "
                                            f"reported (first {MAX_FINDINGS_PER_FILE} kept; rules: "
                                            f"{', '.join(f'{k} x{v}' for k, v in sorted(rest.items()))})", file.path, file.layer))
        return out

    def cache_salt(self) -> str:
        """Digest of ``rules/secrets.yaml`` (and of the user's secret config, when one is set)."""
        return rules_digest(RULES_FILE) + (f"+{self.config_digest}" if self.config_digest else "")
