"""``hullscan cache clean``: empty the layer analysis cache."""

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``hullscan cache``."""
    cache_app = typer.Typer(help="The layer analysis cache.", no_args_is_help=True)
    cache_app.command("clean")(cache_clean)
    app.add_typer(cache_app, name="cache")


def cache_clean(
    cache_dir: Annotated[Optional[Path], typer.Option(envvar="HULLSCAN_CACHE_DIR", help="Cache folder.")] = None,
) -> None:
    """Remove every cached layer analysis."""
    from hullscan.cache import clean
    from hullscan.options import default_cache_dir

    entries, size = clean(cache_dir or default_cache_dir())
    print(f"removed {entries} cached layer result(s), {size} bytes")
