"""One small registry type for every plugin kind.

Analyzers, matchers, feeds, registry providers, post-inventory stages, report formats and server task
kinds are each one module-level :class:`Registry` holding an explicit list of entries; registering a name
twice fails at once. An entry's ``factory`` makes the plugin. Where import cost matters the factory is
lazy: :func:`lazy` (a class or constructor, called with the factory's arguments) and :func:`lazy_object`
(a function plugin, returned as is) import ``"module:attr"`` on first use, so listing, selecting and
validating names never imports the plugin modules.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def load(target: str) -> Any:
    """The object named by ``"module:attr"`` (importing the module)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"plugin target {target!r} is not 'module:attr'")
    return getattr(importlib.import_module(module), attr)


class _Lazy:
    """``"module:attr"`` imported on first use and kept."""

    __slots__ = ("_lock", "_obj", "target")

    def __init__(self, target: str) -> None:
        self.target = target
        self._obj: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The imported object."""
        if self._obj is None:
            with self._lock:
                if self._obj is None:
                    self._obj = load(self.target)
        return self._obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"


class LazyFactory(_Lazy):
    """A factory that imports ``"module:attr"`` on first use and calls it with its arguments."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.get()(*args, **kwargs)


class LazyObject(_Lazy):
    """A factory that imports ``"module:attr"`` on first use and returns it (for plugins that are functions)."""

    __slots__ = ()

    def __call__(self) -> Any:
        return self.get()


def lazy(target: str) -> LazyFactory:
    """A lazy factory for a class or constructor named ``"module:attr"``."""
    return LazyFactory(target)


def lazy_object(target: str) -> LazyObject:
    """A lazy factory returning the function (or other object) named ``"module:attr"``."""
    return LazyObject(target)


class DuplicatePluginError(ValueError):
    """Raised when two plugins of one kind share a name."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin: a stable name, an integer version, tags for selection and a factory
    (which may be :func:`lazy`)."""

    name: str
    version: int
    factory: Callable[..., T]
    tags: frozenset[str] = field(default_factory=frozenset)
    description: str = ""

    @property
    def target(self) -> str:
        """``"module:attr"`` of a lazy factory, else the factory's qualified name."""
        if isinstance(self.factory, _Lazy):
            return self.factory.target
        return f"{getattr(self.factory, '__module__', '?')}:{getattr(self.factory, '__qualname__', repr(self.factory))}"


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
