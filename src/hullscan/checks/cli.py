"""``hullscan checks``: list every check id with its category, severity and title (a thin adapter)."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def register(app: Any) -> None:
    """Add ``hullscan checks`` to the Typer app."""

    @app.command("checks")
    def checks_cmd(
        category: Annotated[str | None, typer.Option(help="Only this category: sensitive, malicious, baseline, history.")] = None,
    ) -> None:
        """List the check ids usable with --checks / --skip-checks and in hullscan.yaml whitelists."""
        from hullscan.checks import catalog

        for meta in catalog().values():
            if category and meta.category != category.lower():
                continue
            default = "" if meta.default else "  (off by default)"
            typer.echo(f"{meta.id:48} {meta.category:10} {meta.severity:9} {meta.title}{default}")
