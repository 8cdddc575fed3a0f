"""rpm's SQLite backend (rpm >= 4.16, ``lib/backend/sqlite.c``): table ``Packages(hnum, blob)``.

The file is opened in memory (``sqlite3`` ``deserialize``), never written to disk. A database left in
WAL mode is switched to the rollback-journal format in the in-memory copy (bytes 18-19 of the file
header), which SQLite needs to open a deserialized image; an un-checkpointed ``-wal`` file beside it
is not read.

A hostile file is a database like any other, so nothing in it is trusted: ``Packages`` must be a plain
table (a view could be an endless recursive query; a generated column could compute gigabytes per row),
no value may be longer than the file, the blobs read may not add up to more than the file, and the
query stops after :data:`MAX_VM_STEPS` SQLite instructions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(len(data), 1 << 16))  # no value longer than the file
    steps = [0]

    def over_budget() -> int:
        steps[0] += _STEP_CHECK
        return 1 if steps[0] > MAX_VM_STEPS else 0

    conn.set_progress_handler(over_budget, _STEP_CHECK)
    blobs: list[bytes] = []
    try:
        try:
            conn.deserialize(bytes(image))
            _check_schema(conn)
            total = 0
            for _hnum, blob in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
                if isinstance(blob, (bytes, bytearray, memoryview)):
                    total += len(blob)
                    if total > len(data):
                        raise RpmDbError("Packages holds more bytes than the file: not a real rpm database")
                    blobs.append(bytes(blob))
        except RpmDbError:
            raise
        except sqlite3.OperationalError as exc:
            if steps[0] > MAX_VM_STEPS:
                raise RpmDbError(f"SQLite: the query ran over {MAX_VM_STEPS} steps: not a real rpm database") from None
            raise RpmDbError(f"SQLite: {exc}") from None
        except (sqlite3.Error, ValueError, OverflowError, MemoryError) as exc:
            raise RpmDbError(f"SQLite: {exc}") from None
    finally:
        conn.close()
    yield from blobs


#: SQLite virtual-machine instructions one database may take (a real 3,000-package rpmdb needs ~100,000)
MAX_VM_STEPS = 50_000_000
_STEP_CHECK = 10_000


def _check_schema(conn: Any) -> None:
    """``Packages`` must be a plain table without generated columns (as rpm creates it)."""
    row = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
    if row is None:
        raise RpmDbError("SQLite: no Packages table")
    if row[0] != b"table":
        raise RpmDbError(f"SQLite: Packages is a {row[0].decode('ascii', 'replace')}, not a table")
    if any(col[6] for col in conn.execute("PRAGMA table_xinfo(Packages)")):  # hidden: 2/3 = generated
        raise RpmDbError("SQLite: Packages has generated or hidden columns")
