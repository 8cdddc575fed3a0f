"""Path rules of the rule files, and many of them tried together at every layer entry.

A path entry in a YAML rule file (``allow.paths`` of ``secrets.yaml``, ``paths`` / ``exclude`` of
``sensitive.yaml``, and the same keys in a user's ``--secret-config``) is one of:

* a string: a regular expression searched in the absolute path;
* a mapping of literal strings, with no ``regex``: ``prefix`` (the path starts with it), ``suffix`` (ends with
  it), ``name`` (the last component is it: ``/`` + name ends the path), ``contains`` (occurs in it); each a
  string or a list, any of them may match. These are tested with ``str.startswith`` / ``str.endswith`` / one
  search of the literals, never as a regex;
* a mapping with a ``regex`` and, beside it, the literals every match of that regex holds (``prefix``,
  ``suffix``, ``name``, ``contains``, as above). The literals are then a cheap necessary condition (like the
  keywords of Trivy's and gitleaks' rules): the regex is tried only on paths that hold one of them. The tests
  check, on real file lists, that no match is lost this way.

As in a regex, a suffix also matches before a newline that ends the path (``$``). :class:`PathPatterns` answers
as ``re.search`` of every entry's equivalent regex (:attr:`PathRule.source`) joined would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: the keys of a path entry mapping
KEYS = frozenset({"regex", "prefix", "suffix", "name", "contains"})


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"path entry: {key!r} must be a non-empty string or a list of them, not {value!r}")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class PathRule:
    """One path entry: a regex and/or literal strings (see the module docstring)."""

    regex: str | None = None
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> PathRule:
        """A path entry as written in a rule file; ValueError naming what is wrong."""
        if isinstance(raw, str):
            re.compile(raw)  # a bad regex fails here, with re's message
            return cls(regex=raw)
        if not isinstance(raw, dict):
            raise ValueError(f"path entry {raw!r}: a regex string or a mapping of {', '.join(sorted(KEYS))}")  # noqa: TRY004 - a rule file mistake, reported as ValueError like the others
        unknown = set(raw) - KEYS
        if unknown:
            raise ValueError(f"path entry {raw!r}: unknown key(s) {', '.join(sorted(unknown))}")
        regex = raw.get("regex")
        if regex is not None:
            if not isinstance(regex, str):
                raise ValueError(f"path entry {raw!r}: 'regex' must be a string")
            re.compile(regex)
        rule = cls(
            regex=regex,
            prefixes=_strings(raw.get("prefix"), "prefix"),
            suffixes=_strings(raw.get("suffix"), "suffix") + tuple("/" + n for n in _strings(raw.get("name"), "name")),
            contains=_strings(raw.get("contains"), "contains"),
        )
        if regex is None and not rule.literals:
            raise ValueError(f"path entry {raw!r}: neither a regex nor literal strings")
        return rule

    @property
    def literals(self) -> bool:
        """True when the entry declares literal strings."""
        return bool(self.prefixes or self.suffixes or self.contains)

    @property
    def source(self) -> str:
        """The regex this entry answers as: its own, or the one its literals spell."""
        if self.regex is not None:
            return self.regex
        parts = [f"^{re.escape(p)}" for p in self.prefixes] + [f"{re.escape(s)}$" for s in self.suffixes]
        parts += [re.escape(c) for c in self.contains]
        return "|".join(parts)


def path_rules(raw: Iterable[Any]) -> tuple[PathRule, ...]:
    """Every entry of a ``paths`` list parsed."""
    return tuple(PathRule.parse(r) for r in raw)


def _joined(patterns: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _literal_search(texts: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted(set(texts))
    return re.compile("|".join(re.escape(t) for t in unique)) if unique else None


class PathPatterns:
    """Path rules tried together: the literal-only entries by ``startswith`` / ``endswith`` / one search of the
    literals; the regexes that declare literals only on paths holding one of them (one joined regex); the other
    regexes joined. ``search`` answers as the entries' :attr:`PathRule.source` joined would."""

    def __init__(self, rules: Sequence[PathRule | str]) -> None:
        parsed = [r if isinstance(r, PathRule) else PathRule.parse(r) for r in rules]
        exact = [r for r in parsed if r.regex is None]
        guarded = [r for r in parsed if r.regex is not None and r.literals]
        free = [r for r in parsed if r.regex is not None and not r.literals]
        self.rules = tuple(parsed)
        self.prefixes = tuple(sorted({p for r in exact for p in r.prefixes}))
        self.suffixes = tuple(sorted({s for r in exact for s in r.suffixes}))
        self.contains = _literal_search(c for r in exact for c in r.contains)
        self.guard_prefixes = tuple(sorted({p for r in guarded for p in r.prefixes}))
        self.guard_suffixes = tuple(sorted({s for r in guarded for s in r.suffixes}))
        self.guard_contains = _literal_search(c for r in guarded for c in r.contains)
        self.guarded = _joined([r.regex for r in guarded if r.regex is not None])
        self.free = _joined([r.regex for r in free if r.regex is not None])

    def _guard(self, path: str) -> bool:
        """Whether ``path`` holds a literal of a guarded regex (always, for a path holding a newline)."""
        return bool(
            (self.guard_prefixes and path.startswith(self.guard_prefixes))
            or (self.guard_suffixes and path.endswith(self.guard_suffixes))
            or (self.guard_contains and self.guard_contains.search(path))
            or "\n" in path
        )

    def search(self, path: str) -> bool:
        """True when one of the entries matches ``path``."""
        if self.prefixes and path.startswith(self.prefixes):
            return True
        if self.suffixes and (path.endswith(self.suffixes) or (path[-1:] == "\n" and path[:-1].endswith(self.suffixes))):
            return True
        if self.contains and self.contains.search(path):
            return True
        if self.guarded and self._guard(path) and self.guarded.search(path):
            return True
        return bool(self.free and self.free.search(path))
