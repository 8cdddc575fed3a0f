"""One small registry type for every plugin kind (analyzers, matchers, checks, feeds, formats, vendors).

Each registry is a module-level :class:`Registry` holding an explicit list of entries; registering a
name twice fails at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class DuplicatePluginError(ValueError):
    """Raised when two plugins of one kind share a name."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin: a stable name, an integer version, tags for selection and a factory."""

    name: str
    version: int
    factory: Callable[..., T]
    tags: frozenset[str] = field(default_factory=frozenset)


class Registry(Generic[T]):
    """Named, versioned plugin entries of one kind."""

    def __init__(self, kind: str, entries: Iterable[Entry[T]] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry[T]) -> None:
        """Register one entry; a second entry with the same name is an error."""
        if entry.name in self._entries:
            raise DuplicatePluginError(f"{self.kind} plugin {entry.name!r} registered twice")
        self._entries[entry.name] = entry

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Entry[T]:
        """The entry called ``name``; KeyError naming the known ones otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """All registered names, in registration order."""
        return list(self._entries)

    def select(self, tags: Iterable[str] | None = None, names: Iterable[str] | None = None) -> list[Entry[T]]:
        """Entries having any of ``tags`` or named in ``names`` (all entries when both are None)."""
        if tags is None and names is None:
            return list(self._entries.values())
        wanted_tags = set(tags or ())
        wanted_names = set(names or ())
        for name in wanted_names:
            self.get(name)  # unknown names fail loudly
        return [e for e in self._entries.values() if e.name in wanted_names or (e.tags & wanted_tags)]
