"""deb822 stanzas that keep their fields' spelling and order (``Packages``, ``Release``, ``control``, ``status``,
``.sources``): what dpkg writes back must look as dpkg writes it. :func:`hullscan.analyzers.os.dpkg.parse_stanzas`
title-cases field names for lookup, which is right for reading a database but not for writing one."""

from __future__ import annotations

from collections.abc import Iterator


class Stanza:
    """One paragraph: fields in order, looked up case-insensitively; multi-line values keep their lines
    (the first line as written after the colon, continuation lines without their leading space)."""

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._fields: list[tuple[str, str]] = list(fields or [])
        self._index = {k.lower(): i for i, (k, _) in enumerate(self._fields)}

    def get(self, key: str, default: str = "") -> str:
        """The value of ``key`` (any case), or ``default``."""
        i = self._index.get(key.lower())
        return self._fields[i][1] if i is not None else default

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._index

    def __getitem__(self, key: str) -> str:
        i = self._index.get(key.lower())
        if i is None:
            raise KeyError(key)
        return self._fields[i][1]

    def set(self, key: str, value: str) -> None:
        """Replace ``key``'s value in place, or append the field."""
        i = self._index.get(key.lower())
        if i is None:
            self._index[key.lower()] = len(self._fields)
            self._fields.append((key, value))
        else:
            self._fields[i] = (self._fields[i][0], value)

    def remove(self, key: str) -> None:
        """Drop ``key`` when present."""
        if key.lower() in self._index:
            self._fields = [(k, v) for k, v in self._fields if k.lower() != key.lower()]
            self._index = {k.lower(): i for i, (k, _) in enumerate(self._fields)}

    def items(self) -> Iterator[tuple[str, str]]:
        """The fields in order."""
        return iter(list(self._fields))

    def render(self) -> str:
        """The stanza as deb822 text (ends with a newline, no blank line)."""
        out = []
        for key, value in self._fields:
            first, *rest = value.split("\n")
            out.append(f"{key}: {first}".rstrip(" ") if first else f"{key}:")
            out.extend(" " + line if line else " ." for line in rest)
        return "\n".join(out) + "\n"


def parse(text: str) -> list[Stanza]:
    """The stanzas of deb822 ``text``; ``#`` comment lines are skipped. Raises ValueError on a malformed line."""
    stanzas: list[Stanza] = []
    fields: list[tuple[str, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if fields:
                stanzas.append(Stanza(fields))
                fields = []
            continue
        if line[0] in " \t":
            if not fields:
                raise ValueError(f"line {n}: continuation line outside a field")
            key, value = fields[-1]
            cont = line[1:] if line[0] == " " else line.lstrip("\t")
            fields[-1] = (key, value + "\n" + ("" if cont.strip() == "." else cont))
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key.strip():
            raise ValueError(f"line {n}: not a 'Field: value' line")
        fields.append((key.strip(), value.strip()))
    if fields:
        stanzas.append(Stanza(fields))
    return stanzas


def relations(value: str) -> list[list[tuple[str, str, str, str]]]:
    """A ``Depends``-style field as groups of alternatives ``(name, arch qualifier, op, version)``;
    op and version are empty when unversioned. ``[arch]`` and ``<profile>`` restrictions are dropped."""
    import re

    groups: list[list[tuple[str, str, str, str]]] = []
    for group in value.replace("\n", " ").split(","):
        alts = []
        for alt in group.split("|"):
            alt = re.sub(r"\[[^\]]*\]|<[^>]*>", "", alt).strip()
            if not alt:
                continue
            m = re.match(r"^([^\s(:]+)(?::(\S+?))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?$", alt)
            if m is None:
                raise ValueError(f"malformed relation {alt!r}")
            op = {"<": "<=", ">": ">="}.get(m.group(3) or "", m.group(3) or "")
            alts.append((m.group(1), m.group(2) or "", op, m.group(4) or ""))
        if alts:
            groups.append(alts)
    return groups
