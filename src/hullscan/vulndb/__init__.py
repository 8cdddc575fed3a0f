"""The local vulnerability database: feeds (``feeds/``) parsed into :class:`~hullscan.vulndb.records.Record`
objects, stored in one SQLite file (``db.py``) and queried by the matchers (``hullscan.match``)."""
