"""``hullscan completion bash|zsh|fish|powershell``: print the shell completion script (Typer's scripts; the
completions themselves are answered by ``hullscan`` when the shell runs it with ``_HULLSCAN_COMPLETE`` set, see
:func:`hullscan.cli.main`). Load it with ``source <(hullscan completion bash)`` or write it where the shell
reads completions (``hullscan completion fish > ~/.config/fish/completions/hullscan.fish``)."""

from typing import Annotated

import typer

SHELLS = ("bash", "zsh", "fish", "powershell")
COMPLETE_VAR = "_HULLSCAN_COMPLETE"


def register(app: typer.Typer) -> None:
    """Add ``hullscan completion``."""
    app.command("completion")(completion_cmd)


def completion_cmd(
    shell: Annotated[str, typer.Argument(help="bash, zsh, fish or powershell.")],
) -> None:
    """Print the shell completion script of hullscan for SHELL."""
    from typer.completion import get_completion_script

    from hullscan.errors import InputError

    if shell not in SHELLS:
        raise InputError(f"unknown shell {shell!r}: choose from {', '.join(SHELLS)}")
    print(get_completion_script(prog_name="hullscan", complete_var=COMPLETE_VAR, shell=shell))
