"""rpm's SQLite backend (rpm >= 4.16, ``lib/backend/sqlite.c``): table ``Packages(hnum, blob)``.

The file is opened in memory (``sqlite3`` ``deserialize``), never written to disk. A database left in
WAL mode is switched to the rollback-journal format in the in-memory copy (bytes 18-19 of the file
header), which SQLite needs to open a deserialized image; an un-checkpointed ``-wal`` file beside it
is not read.
"""

from __future__ import annotations

from collections.abc import Iterator

from hullscan.analyzers.os.rpmheader import RpmDbError

SQLITE_MAGIC = b"SQLite format 3\x00"


def iter_blobs(data: bytes) -> Iterator[bytes]:
    """Header blobs in ``hnum`` order; :class:`RpmDbError` when the database cannot be read."""
    import sqlite3

    if not data.startswith(SQLITE_MAGIC):
        raise RpmDbError("not an SQLite database")
    image = bytearray(data)
    if len(image) > 19 and (image[18] == 2 or image[19] == 2):
        image[18] = image[19] = 1
    if not hasattr(sqlite3.Connection, "deserialize"):  # SQLite built without it (before 3.36 / Python 3.11)
        raise RpmDbError("this Python's sqlite3 cannot open a database from memory")
    conn = sqlite3.connect(":memory:")
    conn.text_factory = bytes  # a damaged file may hold any bytes in a TEXT column
    try:
        try:
            conn.deserialize(bytes(image))
            rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
        except (sqlite3.Error, ValueError, OverflowError, MemoryError) as exc:
            raise RpmDbError(f"SQLite: {exc}") from None
    finally:
        conn.close()
    for _hnum, blob in rows:
        if isinstance(blob, (bytes, bytearray, memoryview)):
            yield bytes(blob)
