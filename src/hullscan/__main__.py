"""``python -m hullscan`` and the ``hullscan`` console script."""

from hullscan.cli import main

if __name__ == "__main__":
    main()
