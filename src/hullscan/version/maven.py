"""Maven artifact versions, ordered as Maven's ``ComparableVersion`` (maven-artifact 3.8).

The version is lower-cased and split on ``.`` and ``-`` and on every digit/letter transition.
Numbers compare numerically; a ``-`` (or a digit/letter transition) opens a nested list, which
sorts below a number at the same position (``1-1`` < ``1.1``) and above a string. Strings are
qualifiers: ``alpha`` (``a1`` = alpha-1) < ``beta`` (``b1``) < ``milestone`` (``m1``) < ``rc`` =
``cr`` < ``snapshot`` < release (``""`` = ``ga`` = ``final``) < ``sp`` < any other string, other
strings in lexical order. Trailing "null" items (``0``, ``""``/``ga``/``final``, empty lists) are
dropped, so ``1`` == ``1.0`` == ``1-ga`` == ``1.0.0``.

A qualifier after a dot is treated like one after a hyphen (``1.0.RC1`` == ``1.0-RC1``), and a
list compares with a missing item through all of its items (MNG-6964). The reference is
``org.apache.maven.artifact.versioning.ComparableVersion`` of maven-artifact 3.8.7 (Debian's
``libmaven3-core-java``); the tests compare against it when Java is present.
"""

from __future__ import annotations

from typing import Union

from .base import CmpKey, KeyedScheme

# Item encodings: ("i", int) number, ("s", str) qualifier, ("l", list) nested list.
Item = tuple[str, Union[int, str, list]]  # noqa: UP007 - recursive alias stays readable

#: Deepest nesting of sub-lists accepted (each ``-`` or digit/letter change opens one).
MAX_DEPTH = 200

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = str(_QUALIFIERS.index(""))


def _comparable_qualifier(q: str) -> str:
    """Maven's ``comparableQualifier``: known qualifiers by index, then others lexically."""
    try:
        return str(_QUALIFIERS.index(q))
    except ValueError:
        return f"{len(_QUALIFIERS)}-{q}"


def _string_item(value: str, followed_by_digit: bool) -> Item:
    if followed_by_digit and len(value) == 1:
        value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
    return ("s", _ALIASES.get(value, value))


def _is_null(item: Item) -> bool:
    kind, value = item
    if kind == "i":
        return value == 0
    if kind == "s":
        return _comparable_qualifier(value) == _RELEASE_INDEX  # type: ignore[arg-type]
    return len(value) == 0  # type: ignore[arg-type]


def _normalize(items: list[Item]) -> None:
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif items[i][0] != "l":
            break


def _cmp_str(a: str, b: str) -> int:
    return (a > b) - (a < b)


def compare_items(a: Item | None, b: Item | None) -> int:
    """``a.compareTo(b)`` of ComparableVersion items (``None`` = missing item)."""
    if a is None:
        return 0 if b is None else -compare_items(b, None)
    kind, value = a
    if kind == "i":
        if b is None:
            return 0 if value == 0 else 1
        if b[0] == "i":
            return (value > b[1]) - (value < b[1])  # type: ignore[operator]
        return 1  # 1.1 > 1-sp, 1.1 > 1-1
    if kind == "s":
        if b is None:
            return _cmp_str(_comparable_qualifier(value), _RELEASE_INDEX)  # type: ignore[arg-type]
        if b[0] == "s":
            return _cmp_str(_comparable_qualifier(value), _comparable_qualifier(b[1]))  # type: ignore[arg-type]
        return -1  # 1.any < 1.1, 1.any < 1-1
    # list
    items: list[Item] = value  # type: ignore[assignment]
    if b is None:
        # MNG-6964: the whole list is compared with "nothing", not just its first item.
        for item in items:
            result = compare_items(item, None)
            if result:
                return result
        return 0
    if b[0] == "i":
        return -1  # 1-1 < 1.0.x
    if b[0] == "s":
        return 1  # 1-1 > 1-sp
    other: list[Item] = b[1]  # type: ignore[assignment]
    for i in range(max(len(items), len(other))):
        left = items[i] if i < len(items) else None
        right = other[i] if i < len(other) else None
        result = (
            compare_items(left, right) if left is not None else (0 if right is None else -compare_items(right, None))
        )
        if result:
            return result
    return 0


def _parse_item(is_digit: bool, buf: str) -> Item:
    return ("i", int(buf)) if is_digit else _string_item(buf, False)


class _ListBuilder:
    """The item tree under construction: the current list and the stack of open lists."""

    def __init__(self) -> None:
        self.root: list[Item] = []
        self.current = self.root
        self.stack = [self.root]

    def add(self, item: Item) -> None:
        self.current.append(item)

    def nest(self) -> None:
        """Open a sub-list inside the current list and make it current."""
        if len(self.stack) > MAX_DEPTH:
            # Comparison recurses per level; no real version nests this deep.
            raise ValueError(f"more than {MAX_DEPTH} nested sub-versions")
        new: list[Item] = []
        self.current.append(("l", new))
        self.current = new
        self.stack.append(new)

    def finish(self) -> Item:
        while self.stack:
            _normalize(self.stack.pop())
        return ("l", self.root)


def parse(version: str) -> Item:
    """Parse ``version`` into ComparableVersion's item tree (a top-level list item)."""
    v = version.lower()
    tree = _ListBuilder()
    is_digit = False
    start = 0
    for i, c in enumerate(v):
        if c in ".-":
            tree.add(("i", 0) if i == start else _parse_item(is_digit, v[start:i]))
            start = i + 1
            if c == "-":
                tree.nest()
        elif c.isdecimal():
            if not is_digit and i > start:
                # 1.0.0.X1 < 1.0.0-X2: a qualifier after a dot opens a sub-list like a hyphen.
                if tree.current:
                    tree.nest()
                tree.add(_string_item(v[start:i], True))
                start = i
                tree.nest()
            is_digit = True
        else:
            if is_digit and i > start:
                tree.add(_parse_item(True, v[start:i]))
                start = i
                tree.nest()
            is_digit = False
    if len(v) > start:
        if not is_digit and tree.current:  # treat .X as -X for any string qualifier X
            tree.nest()
        tree.add(_parse_item(is_digit, v[start:]))
    return tree.finish()


class MavenScheme(KeyedScheme):
    """Maven ComparableVersion ordering."""

    name = "maven"

    def _parse(self, version: str) -> CmpKey:
        v = version.strip()
        if not v or any(c.isspace() for c in v):
            raise self.invalid(version, "empty or contains whitespace")
        return CmpKey(parse(v), compare_items)


SCHEME = MavenScheme()
