"""deb822 stanzas (``Packages``, ``Release``, ``control``, ``status``, ``.sources``) through python-debian's
:class:`debian.deb822.Deb822`, which keeps the fields' spelling, order and continuation lines, so what is written
back looks as dpkg writes it; relation fields through :class:`debian.deb822.PkgRelation`. This module is a thin
adapter: the rest of the fix sees :class:`Stanza` (``get``, ``items``, ``render``) and tuples for relations.

Multi-line values keep python-debian's convention: the first line as written after the colon, then each
continuation line with its leading space (``"\\n /etc/hello.conf <md5>"`` for ``Conffiles``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from debian.deb822 import Deb822, PkgRelation


class Stanza:
    """One paragraph: fields in order, looked up case-insensitively."""

    __slots__ = ("_d",)

    def __init__(self, fields: list[tuple[str, str]] | Deb822 | None = None) -> None:
        if isinstance(fields, Deb822):
            self._d = fields
        else:
            self._d = Deb822()
            for key, value in fields or []:
                self._d[key] = value

    def get(self, key: str, default: str = "") -> str:
        """The value of ``key`` (any case), or ``default``."""
        return str(self._d.get(key, default))

    def __contains__(self, key: str) -> bool:
        return key in self._d

    def __getitem__(self, key: str) -> str:
        return str(self._d[key])

    def items(self) -> Iterator[tuple[str, str]]:
        """The fields in order."""
        return iter([(str(k), str(v)) for k, v in self._d.items()])

    def render(self) -> str:
        """The stanza as deb822 text (ends with a newline, no blank line)."""
        text = self._d.dump()
        return text if text.endswith("\n") else text + "\n"


def parse(text: str) -> list[Stanza]:
    """The stanzas of deb822 ``text`` (``#`` comment lines skipped)."""
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith("#")]
    return [Stanza(p) for p in Deb822.iter_paragraphs(lines, use_apt_pkg=False) if len(p)]


def relations(value: str) -> list[list[tuple[str, str, str, str]]]:
    """A ``Depends``-style field as groups of alternatives ``(name, arch qualifier, op, version)``; op and version
    are empty when unversioned. ``[arch]`` and ``<profile>`` restrictions are dropped."""
    return [list(group) for group in _relations(value.replace("\n", " ").strip())]


@functools.lru_cache(maxsize=4096)
def _relations(value: str) -> tuple[tuple[tuple[str, str, str, str], ...], ...]:
    """Parsed once per distinct field value (the planner asks for the same fields many times)."""
    if not value:
        return ()
    groups = []
    for group in PkgRelation.parse_relations(value):
        alts = []
        for rel in group:
            version = rel.get("version") or ("", "")
            op = {"<": "<=", ">": ">="}.get(version[0], version[0])
            alts.append((str(rel["name"]), str(rel.get("archqual") or ""), op, str(version[1])))
        if alts:
            groups.append(tuple(alts))
    return tuple(groups)
