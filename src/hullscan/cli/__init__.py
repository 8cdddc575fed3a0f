"""The ``hullscan`` command line: thin adapters over the library (no logic here).

One module per command (or command group), each with a ``register(app)`` function; :data:`COMMANDS` lists them.
Adding a command is one module plus one line in that table. Only the module of the command being run is imported
(``hullscan image`` never loads the server, the database tools or the SBOM reader); ``hullscan --help`` loads all.

Options shared by several commands are defined once, as groups (:mod:`hullscan.cli.groups`); the report writer is
:mod:`hullscan.cli.output`; how the process starts and ends (errors as one line and an exit code, the tuning of a
scan's process) is :mod:`hullscan.cli.process`, the only module that touches interpreter-wide state.
"""

import importlib
import sys

import typer

#: command name -> the module whose ``register(app)`` adds it (one module may add several)
COMMANDS: dict[str, str] = {
    "image": "hullscan.cli.image",
    "sbom": "hullscan.cli.sbom",
    "sbom-scan": "hullscan.cli.sbom",
    "db": "hullscan.vulndb.cli",
    "server": "hullscan.server.cli",
    "worker": "hullscan.server.cli",
    "scheduler": "hullscan.server.cli",
    "admin": "hullscan.server.cli",
    "checks": "hullscan.checks.cli",
    "fix": "hullscan.cli.fix",
    "runtime": "hullscan.cli.runtime",
    "cache": "hullscan.cli.cache",
    "version": "hullscan.cli.version",
}


def build_app(command: str | None = None) -> typer.Typer:
    """The Typer app with ``command`` registered, or every command when ``command`` is not one of them."""
    app = typer.Typer(
        name="hullscan",
        help="Container image security center: vulnerabilities, packages, secrets, malware, baseline and build risks.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root() -> None:
        """(A callback keeps the app a group of commands even when only one command is registered.)"""

    modules = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    """Console entry point (``hullscan``, ``python -m hullscan``): run the command the arguments name."""
    from hullscan.cli import process

    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)
    process.run(lambda: build_app(command)(args=argv, standalone_mode=False),
                scan=command in process.SCAN_COMMANDS)
