"""``python -m hullscan`` and the ``hullscan`` command: a repeated local scan is answered from the report cache
(:mod:`hullscan.resultcache`, standard library only) before the CLI and the scanner are imported."""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    """Serve ``hullscan image ...`` from the report cache when it can; otherwise run the CLI."""
    started = time.monotonic()
    argv = sys.argv[1:]
    if argv[:1] == ["image"] and "--no-cache" not in argv and not os.environ.get("HULLSCAN_NO_REPORT_CACHE"):
        from hullscan import resultcache

        code = resultcache.serve(argv, started)
        if code is not None:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
            os._exit(code)
    from hullscan.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
