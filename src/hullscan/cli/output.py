"""Writing a report: the format's writer, and the destination (standard output or a file written beside and
swapped in, never half-written). Errors are :class:`~hullscan.errors.InputError`: one line, exit 2."""

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from hullscan.errors import InputError
from hullscan.model import ScanReport
from hullscan.report import Writer


def load_writer(name: str, allowed: Iterable[str] | None = None, kind: str = "format",
                template: str | None = None) -> Writer:
    """The writer of format ``name`` (one of ``allowed`` when given); InputError naming the ``kind`` of format and
    the choices otherwise. ``template``: the ``--template`` of ``--format template``."""
    from hullscan.report import FORMATS, writer

    choices = tuple(allowed) if allowed is not None else None
    if choices is not None and name not in choices:
        raise InputError(f"unknown {kind} {name!r}: choose from {', '.join(choices)}")
    if name not in FORMATS:
        raise InputError(f"unknown {kind} {name!r}: choose from {', '.join(FORMATS.names())}")
    if name == "template":
        from hullscan.report.template import renderer

        if not template:
            raise InputError("--format template needs --template FILE (or @html, @junit, @gitlab)")
        return renderer(template)
    return writer(name)


def write_report(writer: Writer, report: ScanReport, output: Path | None) -> None:
    """Write ``report`` with ``writer`` to ``output`` (standard output when None)."""
    try:
        write_text(output, lambda fh: writer(report, fh))
    except OSError as exc:
        raise InputError(f"cannot write {output or 'the report to standard output'}: {exc.strerror}") from None


def write_text(output: str | os.PathLike[str] | None, write: Callable[[TextIO], object]) -> None:
    """Call ``write`` on ``output`` opened for text (standard output when None). A regular file is written beside
    and swapped in; a device, FIFO or symlink (``/dev/null``, ``/dev/stdout``) is written through, never replaced
    (``os.replace`` over ``/dev/null``, as root, would turn the device into a file). OSError when it cannot be
    written (nothing is left beside the target)."""
    if output is None:
        if sys.stdout is None:  # the process was started with standard output closed
            raise OSError(9, "standard output is closed")
        write(sys.stdout)
        return
    if os.path.isdir(output):
        raise IsADirectoryError(21, "it is a directory")
    through = os.path.exists(output) and not os.path.isfile(output) or os.path.islink(output)
    dest = output if through else f"{os.fspath(output)}.tmp"
    try:
        with open(dest, "w", encoding="utf-8") as fh:
            write(fh)
        if not through:
            os.replace(dest, output)
    except OSError:
        if not through:
            try:
                os.unlink(dest)
            except OSError:
                pass
        raise
