"""The ``hullscan`` command line: thin adapters over the library (no logic here).

One module per command (or command group), each with a ``register(app)`` function; :data:`COMMANDS` lists them.
Adding a command is one module plus one line in that table. Only the module of the command being run is imported
(``hullscan image`` never loads the server, the database tools or the SBOM reader); ``hullscan --help`` loads all.

Options shared by several commands are defined once, as groups (:mod:`hullscan.cli.groups`); the report writer is
:mod:`hullscan.cli.output`; how the process starts and ends (errors as one line and an exit code, the tuning of a
scan's process) is :mod:`hullscan.cli.process`, the only module that touches interpreter-wide state.
"""

import importlib
import os
import sys
from typing import Annotated

import typer

from hullscan.cli.process import EXIT_CODES_HELP

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
    "completion": "hullscan.cli.completion",
    "config": "hullscan.cli.config",
}


def build_app(*commands: str | None) -> typer.Typer:
    """The Typer app with ``commands`` registered, or every command when none of them is one."""
    from hullscan.cli.version import print_version

    app = typer.Typer(
        name="hullscan",
        help="Container image security center: vulnerabilities, packages, secrets, malware, baseline and build "
             f"risks.\n\n{EXIT_CODES_HELP}\n\nEvery option of image, sbom, sbom-scan and fix can be set in "
             "hullscan.yaml (or --config FILE) and as HULLSCAN_<OPTION>; a flag wins over the environment, which "
             "wins over the file (`hullscan config image ...` shows what applies).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(
        version: Annotated[bool, typer.Option("--version", is_eager=True, callback=print_version,
                                              help="Print the version and the vulnerability database's, then exit.")] = False,
    ) -> None:
        """(A callback keeps the app a group of commands even when only one command is registered.)"""

    named = [COMMANDS[c] for c in commands if c in COMMANDS]
    modules = list(dict.fromkeys(named)) if named else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    """Console entry point (``hullscan``, ``python -m hullscan``): run the command the arguments name."""
    from hullscan.cli import process
    from hullscan.cli.completion import COMPLETE_VAR

    argv = sys.argv[1:]
    completing = bool(os.environ.get(COMPLETE_VAR))
    command = None if completing else next((a for a in argv if not a.startswith("-")), None)
    if command is None and "--version" in argv:
        command = "version"

    def call() -> object:
        from typer.main import get_command

        from hullscan.cli import config

        if completing:
            from typer.completion import completion_init

            completion_init()  # Typer's completion classes answer the shell (bash, zsh, fish, powershell)
        group = get_command(build_app(command))
        config.prepare(group)
        default_map = None if completing else config.resolve(group, argv)
        return group.main(args=argv, prog_name="hullscan", complete_var=COMPLETE_VAR, standalone_mode=False,
                          default_map=default_map)

    process.run(call, scan=command in process.SCAN_COMMANDS)
