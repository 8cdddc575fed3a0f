"""The report cache: a repeated ``hullscan image`` scan of the same local image archive is answered at once.

A CI pipeline re-run, or a second look at the same ``docker save`` archive, asks the same question again. A run
that scans a local archive file into a JSON report stores what it wrote under ``<cache dir>/reports/``, keyed by
everything the answer could depend on:

* the command line as given, the working folder, the ``HULLSCAN_*`` (and ``CI``) environment, today's date (ignore
  entries expire by the day), the Python version, and the identity of hullscan's own files and of every folder on
  ``sys.path`` (installing, upgrading or removing any package changes its folder);
* the identity of every file the report was made from, checked again at every use: the archive, the vulnerability
  database, and the ignore, VEX, check and secret-rule files, default ones that were absent included (one that
  appears later is a miss).

A file's identity is its device, inode, size, and modification and change times in nanoseconds: a rewritten,
touched, replaced or removed file misses (no user can set a change time back). Anything else that differs, or a
broken entry, is a miss, and the scan runs as usual. An answer is the stored report with this run's
``scanned_at`` and ``duration_seconds``, on the same output, with the same exit code.

This module imports only the standard library: a hit is served before the scanner (or Typer) is imported.
Layer analyses stay cached as before (:mod:`hullscan.cache`): a miss still reads no layer twice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

# (hashlib, json and datetime are imported once there are reports to look at, and no pathlib, tempfile or
# platformdirs at all on the way to an answer: each costs milliseconds that a first scan would spend for nothing)

#: bump when the entry's shape or the report's tail changes
FORMAT = 1
#: the environment a report can depend on (credentials and paths of ``hullscan image``; CI quiets the progress bar)
_ENV_PREFIXES = ("HULLSCAN_",)
_ENV_NAMES = ("CI",)
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def identity(path: str | os.PathLike[str]) -> list[int] | None:
    """A file's identity (device, inode, size, mtime and ctime in ns), or None when there is no such file."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _code_identity() -> str:
    """A digest of hullscan's own files (sizes and times) and of the folders on ``sys.path``."""
    import hashlib

    h = hashlib.sha256(f"{FORMAT}|{sys.version}|{sys.executable}".encode())
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith((".pyc", ".tmp")):
                h.update(f"{os.path.relpath(os.path.join(root, name), _PACKAGE)}:{identity(os.path.join(root, name))}\n".encode())
    here = os.getcwd()
    for entry in sys.path:  # (not the working folder that ``python -m`` puts first: a report written there changes it)
        if entry and os.path.abspath(entry) != here:
            h.update(f"{entry}:{identity(entry)}\n".encode())
    return h.hexdigest()


def request_key(argv: Sequence[str]) -> str:
    """The key of one ``hullscan image`` request (``argv``: the arguments after the program name)."""
    import hashlib
    import json
    from datetime import date

    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    parts = [list(argv), os.getcwd(), env, date.today().isoformat(), _code_identity()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def cache_dir(argv: Sequence[str]) -> str:
    """The cache folder ``hullscan image`` would use: ``--cache-dir``, ``$HULLSCAN_CACHE_DIR`` or the user's."""
    for i, arg in enumerate(argv):
        if arg == "--cache-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--cache-dir="):
            return arg.split("=", 1)[1]
    return default_cache_dir()


def default_cache_dir() -> str:
    """``$HULLSCAN_CACHE_DIR`` or the user's cache dir (``~/.cache/hullscan``). (Kept here, not in
    :mod:`hullscan.options`, which says the same through this: the report cache answers without importing it.)"""
    env = os.environ.get("HULLSCAN_CACHE_DIR")
    if env:
        return env
    from platformdirs import user_cache_dir

    return str(user_cache_dir("hullscan"))


def _entry_path(argv: Sequence[str]) -> str:
    key = request_key(argv)
    return os.path.join(cache_dir(argv), "reports", key[:2], f"{key}.json")


def eligible(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a request the cache may answer: ``image``, layer cache not turned off."""
    return bool(argv) and argv[0] == "image" and "--no-cache" not in argv


def report_tail(scanned_at: str, duration: float) -> str:
    """How the JSON report ends: its two per-run fields (what an answer from the cache replaces)."""
    import json

    return f'  "scanned_at": {json.dumps(scanned_at)},\n  "duration_seconds": {json.dumps(duration)}\n}}\n'


def write_output(output: str | os.PathLike[str] | None, write: Callable[[TextIO], None], stdout: TextIO | None = None) -> None:
    """Write a report with ``write`` to ``output`` (``stdout`` when None). A regular file is written beside and
    swapped in (never half-written); a device, FIFO or symlink (``/dev/null``, ``/dev/stdout``) is written through,
    never replaced (``os.replace`` over ``/dev/null``, as root, would turn the device into a file). OSError when
    it cannot be written (nothing is left beside the target)."""
    if output is None:
        out = stdout or sys.stdout
        if out is None:  # the process was started with standard output closed
            raise OSError(9, "standard output is closed")
        write(out)
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


def store(argv: Sequence[str], report_text: str, scanned_at: str, duration: float, exit_code: int,
          output: str | os.PathLike[str] | None, depends_on: Iterable[str | os.PathLike[str]]) -> bool:
    """Remember the JSON report one ``image`` run wrote (``report_text``, ending with :func:`report_tail` of its
    ``scanned_at`` and ``duration``) and the files it was made from. False when it is not stored (a report of
    another shape, an unwritable cache): storing is never an error."""
    import json

    tail = report_tail(scanned_at, duration)
    if not eligible(argv) or not report_text.endswith(tail):
        return False
    entry = {
        "format": FORMAT,
        "prefix": report_text[: -len(tail)],
        "exit_code": exit_code,
        "output": os.fspath(output) if output is not None else None,
        "depends_on": [[str(p), identity(p)] for p in depends_on],
    }
    import tempfile

    try:
        path = _entry_path(argv)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        return False
    return True


def serve(argv: Sequence[str], started: float | None = None, stdout: TextIO | None = None) -> int | None:
    """Answer ``hullscan image ARGV`` from the cache: write the report and return the exit code, or None when
    there is no valid entry (nothing written: the caller scans)."""
    started = time.monotonic() if started is None else started
    if (stdout or sys.stdout) is None:  # started with no standard output at all: the scan says what is wrong
        return None
    if not eligible(argv) or not os.path.isdir(os.path.join(cache_dir(argv), "reports")):
        return None  # (a first scan with this cache folder pays no more than this)
    import json
    from datetime import datetime, timezone

    try:
        path = _entry_path(argv)
        with open(path, encoding="utf-8") as fh:
            entry: dict[str, Any] = json.load(fh)
        if entry.get("format") != FORMAT:
            return None
        for name, ident in entry["depends_on"]:
            if identity(name) != ident:
                return None
        prefix, exit_code, output = str(entry["prefix"]), int(entry["exit_code"]), entry["output"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    scanned_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    text = prefix + report_tail(scanned_at, round(time.monotonic() - started, 3))
    try:
        write_output(output, lambda fh: fh.write(text), stdout)
    except OSError:
        return None  # (a regular file is never left half-written) the scan runs and says what is wrong
    return exit_code


def clean(directory: str | os.PathLike[str]) -> tuple[int, int]:
    """Remove the stored reports under ``directory``; returns (entries, bytes) removed."""
    import shutil

    root = os.path.join(directory, "reports")
    entries = size = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            entries += 1
            try:
                size += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    shutil.rmtree(root, ignore_errors=True)
    return entries, size
