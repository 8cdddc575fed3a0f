"""``hullscan version``."""

import typer


def register(app: typer.Typer) -> None:
    """Add ``hullscan version``."""
    app.command("version")(version_cmd)


def version_cmd() -> None:
    """Print the version."""
    from hullscan import __version__

    print(__version__)
