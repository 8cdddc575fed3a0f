"""``python -m hullscan.server server|admin ...``."""

from hullscan.server.cli import main

main()
