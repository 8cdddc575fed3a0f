"""Scan progress on a terminal (stderr): layers done of all, and the layer bytes pulled/read so far."""

import os
import sys
import threading
from typing import Any


def interactive() -> bool:
    """Whether progress is shown: stderr is a terminal and this is not a CI job."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class RichProgress:
    """A :class:`hullscan.scan.Progress` drawn with Rich; use as a context manager."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[read]}"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self._task: TaskID | None = None
        self._bytes = 0
        self._lock = threading.Lock()
        self._feeds: dict[str, TaskID] = {}

    def __enter__(self) -> "RichProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start(self, total_layers: int) -> None:
        self._task = self._progress.add_task("pulling and analysing layers", total=total_layers, read="")

    def blob_bytes(self, n: int) -> None:
        """``n`` more stored layer bytes were read (pulled from the registry or read from the archive)."""
        with self._lock:
            self._bytes += n
            read = self._bytes
        if self._task is not None:
            self._progress.update(self._task, read=human_bytes(read))

    def feed(self, name: str, count: int, done: bool) -> None:
        """Progress of a vulnerability database download (:data:`hullscan.vulndb.manage.Progress`), one line per
        source, in the same display as the scan's."""
        with self._lock:
            task = self._feeds.get(name)
            if task is None:
                task = self._feeds[name] = self._progress.add_task(f"vulnerability database: {name}", total=1,
                                                                   read="")
        self._progress.update(task, completed=1 if done else 0, read=f"{count} records")

    def layer_done(self, layer: object, cached: bool) -> None:
        if self._task is not None:
            self._progress.advance(self._task)


def human_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KiB`` (binary units, one decimal)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
