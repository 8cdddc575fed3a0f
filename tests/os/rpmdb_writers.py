"""Test-side writers for rpm's Berkeley DB and NDB package databases.

Debian's ``rpm`` writes only SQLite databases, so the other two formats are produced here from the
real header blobs of an SQLite database built by ``rpm`` itself:

* Berkeley DB hash ``Packages``: written by Berkeley DB's own ``db5.3_load -t hash`` (Debian package
  ``db5.3-util``) from a ``db_dump`` style text, keys = 4-byte native-order header numbers as rpm
  stores them; :func:`read_back_with_rpm` lets the real ``rpm`` (its ``bdb_ro`` backend) list it.
* NDB ``Packages.db``: written by :func:`write_ndb` following rpm ``lib/backend/ndb/rpmpkg.c``
  (header page, slot pages, 16-byte blocks, blob head/tail with adler32).
"""

from __future__ import annotations

import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path


def sqlite_blobs(path: Path) -> list[tuple[int, bytes]]:
    """``(hnum, blob)`` rows of an rpm ``rpmdb.sqlite``."""
    wal = path.with_name(path.name + "-wal")
    # immutable: read without creating -shm/-wal files beside a committed fixture
    immutable = "" if wal.exists() and wal.stat().st_size else "&immutable=1"
    conn = sqlite3.connect(f"file:{path}?mode=ro{immutable}", uri=True)
    try:
        return [(int(h), bytes(b)) for h, b in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()


def write_bdb(blobs: list[tuple[int, bytes]], out: Path, pagesize: int = 4096, big_endian: bool = False,
              tool: str = "db5.3_load") -> None:
    """Write a Berkeley DB hash database with ``db_load`` (instance counter under key 0, as rpm does).

    ``big_endian`` writes the file as a big-endian machine would (``db_lorder=4321``), keys included.
    """
    order = ">" if big_endian else "<"
    records = [(0, struct.pack(order + "I", max(h for h, _ in blobs) + 1))] + blobs
    lines = ["VERSION=3", "format=bytevalue", "type=hash", f"db_pagesize={pagesize}",
             f"db_lorder={4321 if big_endian else 1234}", "HEADER=END"]
    for hnum, value in records:
        lines.append(" " + struct.pack(order + "I", hnum).hex())
        lines.append(" " + value.hex())
    lines.append("DATA=END")
    out.unlink(missing_ok=True)
    subprocess.run([tool, "-t", "hash", str(out)], input="\n".join(lines) + "\n", text=True, check=True)


def read_back_with_rpm(dbdir: Path, queryformat: str) -> str:
    """List a Berkeley DB ``Packages`` with the real rpm (``bdb_ro`` backend)."""
    result = subprocess.run(
        ["rpm", "--dbpath", str(dbdir), "--define", "_db_backend bdb_ro", "-qa", "--qf", queryformat],
        capture_output=True, text=True, check=True,
    )
    return result.stdout


def write_ndb(blobs: list[tuple[int, bytes]], out: Path, timestamp: int = 1700000000) -> None:
    """Write an NDB ``Packages.db`` holding ``blobs`` (pkgidx = hnum)."""
    page, slot_size, blk = 4096, 16, 16
    slots_per_page = page // slot_size
    slotnpages = max(1, -(-(len(blobs) + 2) // slots_per_page))
    body = bytearray()
    slots = []
    blkoff = slotnpages * page // blk
    for hnum, blob in blobs:
        blkcnt = (16 + len(blob) + 12 + blk - 1) // blk
        pad = blkcnt * blk - (16 + len(blob) + 12)
        head = b"BlbS" + struct.pack("<III", hnum, timestamp, len(blob))
        chunk = head + blob + b"\x00" * pad
        chunk += struct.pack("<II", zlib.adler32(chunk), len(blob)) + b"BlbE"
        slots.append(b"Slot" + struct.pack("<III", hnum, blkoff, blkcnt))
        body += chunk
        blkoff += blkcnt
    nextpkgidx = max((h for h, _ in blobs), default=0) + 1
    header = b"RpmP" + struct.pack("<IIII", 0, len(blobs) + 1, slotnpages, nextpkgidx) + b"\x00" * 12
    slot_area = b"".join(slots)
    free = slotnpages * slots_per_page - 2 - len(slots)
    slot_area += (b"Slot" + b"\x00" * 12) * free
    out.write_bytes(header + slot_area + bytes(body))
