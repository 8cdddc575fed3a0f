"""The security center server: registries, asset sync, scan tasks, results store and REST API.

Embedded default: one process, SQLite, in-process workers and scheduler. Heavy libraries
(SQLAlchemy, FastAPI...) are imported by the modules of this package only, never by ``hullscan image``.
"""
