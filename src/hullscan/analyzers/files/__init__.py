"""File-content risk analyzers: secrets, sensitive files, malware and baseline (rule-driven, rules in ``hullscan/rules``).

Shared helpers for these analyzers live here: loading rule files from the package, digesting them for the
layer-cache key, the binary sniff, and :class:`PathPatterns` (many path regexes tried at every layer entry).

A YAML rule file may ship with a JSON *sidecar* (``secrets.yaml`` -> ``secrets.json``): the same document,
written by ``python -m hullscan.analyzers.files secrets.yaml`` and stamped with the SHA-256 of the YAML bytes it
was built from. Loading it takes ~1 ms where importing PyYAML and parsing the YAML take ~30 ms at every start;
a sidecar whose stamp does not match the YAML (edited without rebuilding) is ignored, so the YAML stays the
one source of truth (and a test fails until the sidecar is rebuilt).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

#: text files are sniffed for a NUL byte in this many leading bytes
SNIFF_BYTES = 8192


def rule_bytes(name: str) -> bytes:
    """The raw bytes of ``hullscan/rules/<name>`` (``name`` may contain ``/``)."""
    node = resources.files("hullscan").joinpath("rules")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


def rule_names(folder: str, suffix: str) -> list[str]:
    """Sorted names (``folder/file``) of the rule files in ``hullscan/rules/<folder>`` ending in ``suffix``."""
    node = resources.files("hullscan").joinpath("rules").joinpath(folder)
    return sorted(f"{folder}/{p.name}" for p in node.iterdir() if p.name.endswith(suffix))


@functools.cache
def rule_yaml(name: str) -> Any:
    """A YAML rule file from ``hullscan/rules`` parsed once per process (from its JSON sidecar when that is
    current). Callers must not modify the returned document: it is shared."""
    raw = rule_bytes(name)
    document = _sidecar_document(name, raw)
    return document if document is not None else _parse_yaml(raw)


def _parse_yaml(raw: bytes) -> Any:
    import yaml

    # libyaml's C loader when built in: ~20x faster than the pure-Python one on the rule files
    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def sidecar_name(name: str) -> str:
    """The JSON sidecar of the YAML rule file ``name`` (``secrets.yaml`` -> ``secrets.json``)."""
    return name.rsplit(".", 1)[0] + ".json"


def _sidecar_document(name: str, raw: bytes) -> Any:
    """The document of ``name``'s sidecar when it exists and was built from ``raw``; else None."""
    try:
        sidecar = json.loads(rule_bytes(sidecar_name(name)))
    except (OSError, ValueError):  # no sidecar shipped (most rule files), or an unreadable one
        return None
    if not isinstance(sidecar, dict) or sidecar.get("source_sha256") != hashlib.sha256(raw).hexdigest():
        return None
    return sidecar.get("document")


def build_sidecar(name: str) -> str:
    """The JSON sidecar text for ``hullscan/rules/<name>`` (ValueError when the YAML holds values JSON cannot
    carry unchanged, such as dates)."""
    raw = rule_bytes(name)
    document = _parse_yaml(raw)
    if json.loads(json.dumps(document)) != document:
        raise ValueError(f"{name}: the document does not survive a JSON round trip")
    sidecar = {"source": name, "source_sha256": hashlib.sha256(raw).hexdigest(), "document": document}
    return json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n"


def rules_digest(*names: str) -> str:
    """A short SHA-256 over the named rule files, folded into analyzers' ``cache_salt``."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + rule_bytes(name) + b"\0")
    return h.hexdigest()[:16]


def is_binary(data: bytes) -> bool:
    """True when a NUL byte occurs in the first :data:`SNIFF_BYTES` bytes."""
    return b"\0" in data[:SNIFF_BYTES]


def _shape(pattern: str) -> tuple[bool, bool]:
    """(``pattern`` starts with ``^`` and has no ``|`` outside brackets and groups, so that ``^`` anchors all of
    it; ``pattern`` holds such a ``|``)."""
    depth, in_class, i = 0, False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # a leading ] is a member
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return False, True
        i += 1
    return pattern.startswith("^"), False


def _anchored_at_start(pattern: str) -> bool:
    """True when ``pattern`` starts with ``^`` and has no ``|`` outside brackets and groups."""
    return _shape(pattern)[0]


def _directory_only(pattern: str) -> bool:
    """True when every match of ``pattern`` lies in the directory part of a path (up to its last ``/``): it ends
    with ``/``, has no top-level ``|`` and no lookahead (which could look past the match)."""
    return pattern.endswith("/") and not _shape(pattern)[1] and "(?=" not in pattern and "(?!" not in pattern


class PathPatterns:
    """Path regexes (an allow list, the paths of sensitive-file types...) arranged to answer as ``search`` of all
    of them joined would, faster. Those that are plain strings (``^/etc/ssl/certs/``, ``/\\.aws/credentials$``,
    ``\\.(?:p12|pfx)$``: :func:`_literal_language`) are tested with ``startswith`` / ``endswith`` and never
    compiled; of the others, ``^``-anchored ones are tried with ``match`` (one attempt, not one per character),
    those whose matches lie in the last component of the path (``/\\.?htpasswd[^/]*$``: :func:`_in_last_component`)
    are tried there only, and those that depend on the directory only are answered once per directory (a layer
    lists a directory's files together). On this machine's 173,599 dpkg-listed paths with the secret allow list:
    845 ms joined, 187 ms arranged; the paths of the 27 sensitive-file types on the 3,460 files of the libraries
    bench image: ~25 ms joined, 3.5 ms arranged (built in 1.1 ms; the joined regex compiles in 1.4 ms)."""

    def __init__(self, sources: list[str]) -> None:
        by_directory = [_directory_only(p) for p in sources]
        self.directory = _alternatives([p for p, d in zip(sources, by_directory) if d])
        self.other = _alternatives([p for p, d in zip(sources, by_directory) if not d], by_component=True)
        self._by_directory = not self.directory.empty
        self._last_directory: tuple[str | None, bool] = (None, False)

    def search(self, path: str) -> bool:
        """True when one of the regexes matches somewhere in ``path``."""
        if not self._by_directory:
            return self.other.search(path)
        directory = path[: path.rfind("/") + 1]
        last = self._last_directory
        if last[0] == directory:
            by_directory = last[1]
        else:
            by_directory = self.directory.search(directory)
            self._last_directory = (directory, by_directory)  # one tuple, replaced whole: safe across threads
        return by_directory or self.other.search(path)


class _Alternatives:
    """Regexes tried together: the plain strings of :func:`_literal_language` as ``prefixes`` (``^``),
    ``suffixes`` (``$``) and ``whole`` texts (both); of the others, the ``^``-anchored
    ones with ``match``, those whose matches are the path's last ``/`` and what follows it (``names``) with
    ``match`` there, those whose matches lie after it (``parts``) with ``search`` from there, the rest with
    ``search``. ``search`` runs only the tests there is something for (it is called for most entries of a layer)."""

    def __init__(self, anchored: re.Pattern[str] | None, floating: re.Pattern[str] | None,
                 names: re.Pattern[str] | None = None, parts: re.Pattern[str] | None = None,
                 literals: tuple[tuple[bool, bool, tuple[str, ...]], ...] = ()) -> None:
        self.anchored = anchored
        self.floating = floating
        self.names = names
        self.parts = parts
        self.prefixes = tuple(sorted({t for start, end, texts in literals if start and not end for t in texts}))
        self.suffixes = tuple(sorted({t for start, end, texts in literals if end and not start for t in texts}))
        self.whole = frozenset(t for start, end, texts in literals if start and end for t in texts)
        self.empty = not (anchored or floating or names or parts or literals)
        self.search = self._searcher()  # type: ignore[method-assign]

    def search(self, text: str) -> bool:
        """True when one of the regexes matches somewhere in ``text`` (replaced by :meth:`_searcher`'s)."""
        return self._searcher()(text)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "search"}  # the closure is made anew on loading

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.search = self._searcher()  # type: ignore[method-assign]

    def _searcher(self) -> Callable[[str], bool]:
        prefixes, suffixes, whole = self.prefixes, self.suffixes, self.whole
        anchored, floating, names, parts = self.anchored, self.floating, self.names, self.parts
        # the suffixes' last characters (as many as the shortest has, at most 3): one set look-up turns most texts away
        tail = min(3, *(len(t) for t in suffixes)) if suffixes else 0
        tails = frozenset(t[len(t) - tail :] for t in suffixes)

        def slow(text: str) -> bool:  # a text ending with a newline, before which ``$`` matches too
            if any(t.endswith(suffixes) or t in whole for t in (text, text[:-1])):
                return True
            return bool((names and names.search(text)) or (parts and parts.search(text)))

        def search(text: str) -> bool:
            if prefixes and text.startswith(prefixes):
                return True
            if text[-1:] == "\n":
                if slow(text):
                    return True
            else:
                if suffixes and (not tail or text[-tail:] in tails) and text.endswith(suffixes):
                    return True
                if whole and text in whole:
                    return True
                if names or parts:
                    if "\n" in text:  # ``$`` matches before a newline ending the text only
                        if (names and names.search(text)) or (parts and parts.search(text)):
                            return True
                    else:
                        slash = text.rfind("/")
                        if names and slash >= 0 and names.match(text, slash):
                            return True
                        if parts and parts.search(text, slash + 1):
                            return True
            return bool((anchored and anchored.match(text)) or (floating and floating.search(text)))

        return search


def _alternatives(patterns: list[str], by_component: bool = False) -> _Alternatives:
    """``patterns`` arranged (``by_component``: those of :func:`_in_last_component` apart)."""
    literals = []
    anchored: list[str] = []
    floating: list[str] = []
    for p in patterns:
        language = _literal_language(p)
        if language is not None and (language[0] or language[1]):  # plain strings anywhere: a regex finds them faster
            literals.append(language)
        elif _anchored_at_start(p):
            anchored.append(p[1:])
        else:
            floating.append(p)
    names: list[str] = []
    parts: list[str] = []
    if by_component:
        kinds = [_in_last_component(p) for p in floating]
        names = [p for p, kind in zip(floating, kinds) if kind == "name"]
        parts = [p for p, kind in zip(floating, kinds) if kind == "part"]
        floating = [p for p, kind in zip(floating, kinds) if kind is None]
    return _Alternatives(_joined(anchored), _joined(floating), _joined(names), _joined(parts), tuple(literals))


#: a regex is read as plain strings only when it has at most this many
_MAX_LITERALS = 256
#: characters that are not themselves in a regex (outside brackets)
_SPECIAL = frozenset(".^$*+?{}[]()|\\")
#: a run of characters that are themselves, and what may follow an item
_PLAIN_RUN = re.compile(r"[^.^$*+?{}\[\]()|\\]+")
_QUANTIFIERS = ("?", "*", "+", "{")


class _NotLiteral(Exception):
    """The regex is not a finite set of plain strings (as :func:`_literal_language` reads them)."""


def _literal_language(pattern: str) -> tuple[bool, bool, tuple[str, ...]] | None:
    """(``pattern`` starts with ``^``, ends with ``$``, the strings between) when the rest is a finite set of plain
    strings: characters other than ``.^$*+?{}[]()|\\``, escaped punctuation (``\\.``), ``(?:a|b)`` groups and ``?``
    after a character or group (``^/(?:usr/)?s?bin/`` -> (True, False, ``/bin/``, ``/sbin/``, ``/usr/bin/``,
    ``/usr/sbin/``)); else None (classes, repeats, other escapes, flags, a top-level ``|``...). Read without the
    regex parser (cheap), so that such regexes are never compiled."""
    start = pattern.startswith("^")
    body = pattern[1:] if start else pattern
    end = body.endswith("$") and (len(body) - len(body[:-1].rstrip("\\")) - 1) % 2 == 0  # an unescaped $
    if end:
        body = body[:-1]
    try:
        texts, i = _literal_sequence(body, 0)
    except _NotLiteral:
        return None
    if i != len(body):  # a top-level | (or an unbalanced ")")
        return None
    return start, end, tuple(sorted(texts))


def _literal_sequence(body: str, i: int) -> tuple[set[str], int]:
    """The strings of the items of ``body`` from ``i`` up to a ``|``, a ``)`` or its end, and where they stop."""
    texts = {""}
    run = ""  # plain characters since the last group or optional item (added to every string at once)
    while i < len(body) and body[i] not in "|)":
        c = body[i]
        item: set[str] | None = None
        if c == "\\":
            char = body[i + 1 : i + 2]
            if not char or char.isalnum() or not char.isascii() or char.isspace():
                raise _NotLiteral  # \d, \1, \A...: not a plain character
            i += 2
        elif c == "(":
            if body[i : i + 3] != "(?:":
                raise _NotLiteral  # a capture group could be referred to, a flag group changes the matching
            item, i = _literal_sequence(body, i + 3)
            while body[i : i + 1] == "|":
                more, i = _literal_sequence(body, i + 1)
                item |= more
            if body[i : i + 1] != ")":
                raise _NotLiteral
            i += 1
        elif c in _SPECIAL:
            raise _NotLiteral
        else:
            plain = _PLAIN_RUN.match(body, i).group()  # type: ignore[union-attr]
            i += len(plain)
            if body[i : i + 1] in _QUANTIFIERS and len(plain) > 1:  # the quantifier is the last character's only
                run += plain[:-1]
                plain = plain[-1]
            char = plain
        quantifier = body[i : i + 1]
        if quantifier in ("*", "+", "{") or (quantifier == "?" and body[i + 1 : i + 2] in ("?", "+")):
            raise _NotLiteral
        if item is None and quantifier != "?":
            run += char  # (a whole run of plain characters)
            continue
        item = ({char} if item is None else item) | ({""} if quantifier == "?" else set())
        i += quantifier == "?"
        texts = {t + run + b for t in texts for b in item}
        run = ""
        if len(texts) > _MAX_LITERALS:
            raise _NotLiteral
    return ({t + run for t in texts} if run else texts), i


def _joined(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


_SLASH = ord("/")


def _in_last_component(pattern: str) -> str | None:
    """Where every match of ``pattern`` in a path holding no newline lies, when that is plain from the parsed
    regex: ``"name"`` when each ends the path, starts with a ``/`` and holds no other (so it starts at the
    path's last ``/``: ``/\\.npmrc$``), ``"part"`` when each ends the path and holds no ``/`` (so it lies after
    the last one: ``\\.(?:key|pem)$``); else None (``/\\.ssh/[^/]+$``, ``\\.json``, a back reference...)."""
    if "$" not in pattern and "\\Z" not in pattern:
        return None  # not worth parsing: no match is tied to the end of the path
    try:
        from re import _parser  # the parser re.compile uses (private: any failure only means "not known")

        items = _parser.parse(pattern).data
        if not _ends_at_end(items):
            return None
        slashes = _max_slashes(items)
        if slashes == 0:
            return "part"
        return "name" if slashes == 1 and _starts_with_slash(items) else None
    except Exception:  # noqa: BLE001 - a bad regex, or another Python's parser: search the whole path
        return None


def _ends_at_end(items: list[tuple[Any, Any]]) -> bool:
    """True when a match of the parsed sequence ``items`` can only end where ``$`` (or ``\\Z``) matches."""
    from re import _constants as c

    if not items:
        return False
    op, av = items[-1]
    if op is c.AT:
        return av in (c.AT_END, c.AT_END_STRING)
    if op is c.BRANCH:
        return all(_ends_at_end(list(branch)) for branch in av[1])
    if op is c.SUBPATTERN:
        return _ends_at_end(list(av[3]))
    return False


def _starts_with_slash(items: list[tuple[Any, Any]]) -> bool:
    """True when the first character a match of the parsed sequence ``items`` takes is a ``/``."""
    from re import _constants as c

    for op, av in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):  # takes no character
            continue
        return op is c.LITERAL and av == _SLASH
    return False


def _max_slashes(items: list[tuple[Any, Any]]) -> int | None:
    """The most ``/`` a match of the parsed sequence ``items`` may take; None: no bound, or not known."""
    from re import _constants as c

    total = 0
    for op, av in items:
        n: int | None
        if op is c.LITERAL:
            n = int(av == _SLASH)
        elif op is c.NOT_LITERAL:
            n = int(av != _SLASH)
        elif op is c.ANY:
            n = 1
        elif op is c.IN:
            n = int(_set_may_hold_slash(av))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):  # a look-around takes no character (a look-behind may look
            n = 0  # before the search's start position: re sees the whole text, so it answers as on the whole path)
        elif op is c.BRANCH:
            counts = [_max_slashes(list(branch)) for branch in av[1]]
            n = None if None in counts else max(counts)  # type: ignore[type-var]
        elif op is c.SUBPATTERN:
            n = _max_slashes(list(av[3]))
        elif op is c.ATOMIC_GROUP:
            n = _max_slashes(list(av))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            _low, high, sub = av
            inner = _max_slashes(list(sub))
            n = None if inner is None else 0 if inner == 0 else None if high == c.MAXREPEAT else inner * high
        else:  # back references, conditionals...: not known
            n = None
        if n is None:
            return None
        total += n
    return total


def _set_may_hold_slash(members: list[tuple[Any, Any]]) -> bool:
    """True when the parsed character set ``[...]`` may match ``/``."""
    from re import _constants as c

    negate, holds = False, False
    for op, av in members:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            holds = holds or av == _SLASH
        elif op is c.RANGE:
            holds = holds or av[0] <= _SLASH <= av[1]
        elif op is c.CATEGORY:  # \\D, \\S, \\W hold "/"; \\d, \\s, \\w do not
            holds = holds or av in (c.CATEGORY_NOT_DIGIT, c.CATEGORY_NOT_SPACE, c.CATEGORY_NOT_WORD,
                                    c.CATEGORY_NOT_LINEBREAK)
        else:  # not known: assume it may
            return True
    return holds != negate
