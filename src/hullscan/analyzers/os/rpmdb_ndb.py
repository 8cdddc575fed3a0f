"""rpm's NDB ``Packages.db`` (SUSE since 15 SP3 / Leap 15.3, Tumbleweed), read-only.

Format from rpm ``lib/backend/ndb/rpmpkg.c`` (all integers little-endian):

* header (32 bytes): magic ``RpmP`` @0, version (0) @4, generation @8, ``slotnpages`` @12,
  ``nextpkgidx`` @16;
* slots (16 bytes each) fill ``slotnpages`` pages of 4096 bytes after the header: magic ``Slot``,
  ``pkgidx``, ``blkoff``, ``blkcnt`` (``blkoff == 0``: free slot);
* a blob starts at ``blkoff * 16``: head (magic ``BlbS``, ``pkgidx``, timestamp, ``bloblen``), the
  header blob, zero padding to a 16-byte block, then the tail (adler32 of head+blob+padding,
  ``bloblen``, magic ``BlbE``); ``blkcnt`` blocks in all.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from hullscan.analyzers.os.rpmheader import RpmDbError

DB_MAGIC = b"RpmP"
SLOT_MAGIC = b"Slot"
BLOB_HEAD_MAGIC = b"BlbS"
BLOB_TAIL_MAGIC = b"BlbE"
PAGE_SIZE, SLOT_SIZE, BLK_SIZE, HEADER_SIZE = 4096, 16, 16, 32
BLOB_HEAD, BLOB_TAIL = 16, 12


def _slots(data: bytes) -> list[tuple[int, int, int]]:
    """Used slots as ``(pkgidx, blkoff, blkcnt)``."""
    if len(data) < HEADER_SIZE or data[:4] != DB_MAGIC:
        raise RpmDbError("not an rpm NDB Packages.db (bad magic)")
    version, _generation, slotnpages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise RpmDbError(f"unsupported NDB version {version}")
    if slotnpages == 0 or slotnpages * PAGE_SIZE > len(data):
        raise RpmDbError(f"slot pages ({slotnpages}) run past the end of the file")
    slots = []
    for off in range(HEADER_SIZE, slotnpages * PAGE_SIZE, SLOT_SIZE):
        magic = data[off:off + 4]
        if magic != SLOT_MAGIC:
            raise RpmDbError(f"bad slot magic at offset {off}")
        pkgidx, blkoff, blkcnt = struct.unpack_from("<III", data, off + 4)
        if blkoff:
            slots.append((pkgidx, blkoff, blkcnt))
    end = slotnpages * PAGE_SIZE // BLK_SIZE  # blobs start after the slot pages and never overlap
    for pkgidx, blkoff, blkcnt in sorted(slots, key=lambda s: s[1]):
        if blkoff < end:
            raise RpmDbError(f"package {pkgidx}: blob overlaps the slot pages or another blob")
        end = blkoff + blkcnt
    return slots


def _blob(data: bytes, pkgidx: int, blkoff: int, blkcnt: int) -> bytes:
    start, end = blkoff * BLK_SIZE, (blkoff + blkcnt) * BLK_SIZE
    if end > len(data) or blkcnt * BLK_SIZE < BLOB_HEAD + BLOB_TAIL:
        raise RpmDbError(f"package {pkgidx}: blob outside the file (truncated database?)")
    if data[start:start + 4] != BLOB_HEAD_MAGIC:
        raise RpmDbError(f"package {pkgidx}: bad blob magic")
    idx, _tstamp, bloblen = struct.unpack_from("<III", data, start + 4)
    if idx != pkgidx or blkcnt != (BLOB_HEAD + bloblen + BLOB_TAIL + BLK_SIZE - 1) // BLK_SIZE:
        raise RpmDbError(f"package {pkgidx}: blob head does not match its slot")
    adler, taillen = struct.unpack_from("<II", data, end - BLOB_TAIL)
    if data[end - 4:end] != BLOB_TAIL_MAGIC or taillen != bloblen:
        raise RpmDbError(f"package {pkgidx}: bad blob tail")
    if zlib.adler32(data[start:end - BLOB_TAIL]) != adler:
        raise RpmDbError(f"package {pkgidx}: checksum mismatch")
    return data[start + BLOB_HEAD:start + BLOB_HEAD + bloblen]


def iter_blobs(data: bytes) -> Iterator[bytes | RpmDbError]:
    """Header blobs in package-index order.

    A broken file raises :class:`RpmDbError`; a single broken blob is yielded as an
    :class:`RpmDbError` in its place so the other packages are still read.
    """
    for pkgidx, blkoff, blkcnt in sorted(_slots(data)):
        try:
            yield _blob(data, pkgidx, blkoff, blkcnt)
        except RpmDbError as exc:
            yield exc
