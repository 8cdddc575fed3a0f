"""hullscan: a self-hosted container image security center."""

__version__ = "0.1.0"
