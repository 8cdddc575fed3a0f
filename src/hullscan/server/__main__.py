"""``python -m hullscan.server server|admin ...`` (the ``hullscan`` CLI)."""

from hullscan.cli import main

main()
