"""The CLI process: how it is tuned for a scan and how it ends. The only module of hullscan that changes
interpreter-wide state, and only in a ``hullscan`` command's own process (never in the server or a library caller).

* A scan command (:data:`SCAN_COMMANDS`) makes hundreds of thousands of short-lived, acyclic objects (tar entries,
  names, findings) freed by reference counting: the cycle collector's default young-generation threshold (700)
  ran hundreds of collections for nothing, each older one walking every object the imports made. Those are frozen
  out of its way, and the threshold raised to 50,000.
* Layer digests are checked on helper threads that need the GIL back after each read: a 0.5 ms switch interval
  (default 5 ms) hands it over sooner (a 162 MB layer's SHA-256 took 0.29 s instead of 0.17 s).
* Every error a user can cause ends in one line on stderr naming the cause and a non-zero exit (2 for input
  errors, the error's own code otherwise); a Python traceback is shown only with ``HULLSCAN_DEBUG=1``. The process
  ends through ``sys.exit``: ``finally`` blocks and ``atexit`` handlers run.
"""

import gc
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from hullscan.errors import HullscanError, MissingDependencyError

#: exit codes (``hullscan --help`` and the README list them): 0 no finding (or ``--exit-code`` not given),
#: ``--exit-code N`` findings remain, 2 an error (input, image, registry, database...), 70 an internal error (a bug),
#: 130 interrupted. ``--exit-code`` refuses the reserved ones.
EXIT_ERROR = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
RESERVED_EXIT_CODES = {EXIT_ERROR: "an error (bad input, broken image, registry or database failure)",
                       EXIT_INTERNAL: "an internal error", EXIT_INTERRUPTED: "interrupted"}
EXIT_CODES_HELP = ("Exit codes: 0 success (no finding, or findings without --exit-code); N (--exit-code N) findings "
                   "remain after filtering; 2 error (bad input, broken image, registry or database failure); "
                   "70 internal error (a bug: please report it); 130 interrupted.")

#: the commands that scan an image (their process gets :func:`tune_for_scan`)
SCAN_COMMANDS = frozenset({"image", "sbom"})


def tune_for_scan() -> None:
    """Collector and switch-interval settings for a short-lived scan process (see the module docstring)."""
    sys.setswitchinterval(0.0005)
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def error_line(message: str) -> None:
    """Write ``message`` as one line on stderr (a library's multi-line message is folded, never shown raw)."""
    parts = (part.strip().removeprefix("- ").strip() for part in str(message).splitlines())  # "- " bullets
    one_line = "; ".join(part for part in parts if part)
    sys.stderr.write(f"hullscan: error: {one_line}\n")


def run(call: Callable[[], object], *, scan: bool = False) -> NoReturn:
    """Run ``call`` (the Typer app, ``standalone_mode=False``) and end the process with its exit code."""
    debug = bool(os.environ.get("HULLSCAN_DEBUG"))
    if scan:
        tune_for_scan()
    code = 0
    try:
        call()
    except HullscanError as exc:
        if debug:
            raise
        error_line(str(exc))
        code = exc.exit_code
    except SystemExit as exc:  # --exit-code, click's --help
        if isinstance(exc.code, str):
            sys.stderr.write(f"{exc.code}\n")
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        error_line("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001  click usage errors and anything unexpected: one line, no traceback
        # by class name: typer >= 0.26 raises the exceptions of its own vendored click (typer._click)
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        missing = MissingDependencyError.of(exc) if isinstance(exc, ModuleNotFoundError) else None
        if missing is not None and not debug:  # an optional dependency: name the extra that installs it
            error_line(str(missing))
            code = missing.exit_code
        elif "Exit" in kinds:
            code = getattr(exc, "exit_code", 0)
        elif "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            code = getattr(exc, "exit_code", 2)
        elif "Abort" in kinds:
            error_line("aborted")
            code = EXIT_ERROR
        elif debug:
            raise
        else:
            error_line(f"internal error: {type(exc).__name__}: {exc} (set HULLSCAN_DEBUG=1 for details)")
            code = EXIT_INTERNAL
    _flush_stdout()
    sys.exit(code)


def _flush_stdout() -> None:
    """Flush standard output now; when its reader is gone (``hullscan image ... | head``), point it at /dev/null so
    that the interpreter's own flush at exit does not fail again (the pattern of Python's ``signal`` docs)."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
