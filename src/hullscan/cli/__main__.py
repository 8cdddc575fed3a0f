"""``python -m hullscan.cli``: the ``hullscan`` command."""

from hullscan.cli import main

main()
