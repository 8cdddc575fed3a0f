"""rpm's Berkeley DB ``Packages`` file (rpm < 4.16; CentOS 7/8, RHEL 7/8, Amazon Linux 2), read-only.

Berkeley DB hash access method on-disk format (BDB ``dbinc/db_page.h``; rpm's own reader is
``lib/backend/bdb_ro.c``). Integers are in the byte order of the machine that wrote the file; the
meta page's magic tells which.

Meta page (page 0): ``magic`` @12, ``version`` @16, ``pagesize`` @20, ``last_pgno`` @32,
``max_bucket`` @72, ``high_mask`` @76, ``low_mask`` @80, ``spares[32]`` @96.
Bucket ``b`` lives on page ``b + spares[bit_length(b)]``; more pages of a bucket follow ``next_pgno``.

Page header (26 bytes): ``pgno`` @8, ``prev_pgno`` @12, ``next_pgno`` @16, ``entries`` (u16) @20,
``hf_offset`` (u16) @22, ``level`` @24, ``type`` @25; then ``entries`` u16 item offsets. Items come
in key/value pairs; an item's length is the distance to the previous item (the first one runs to the
page end). Item types: ``H_KEYDATA`` (1: the bytes follow) and ``H_OFFPAGE`` (3: ``pgno`` @4 and
``tlen`` @8 of a chain of overflow pages, type 7, each holding ``hf_offset`` bytes from offset 26).

The keys are 4-byte header numbers (native order); key 0 is rpm's instance counter, not a header.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from hullscan.analyzers.os.rpmheader import RpmDbError

HASH_MAGIC = 0x00061561
BTREE_MAGIC = 0x00053162
P_HASH_UNSORTED, P_HASHMETA, P_OVERFLOW, P_HASH = 2, 8, 7, 13
H_KEYDATA, H_OFFPAGE = 1, 3
PAGE_HEADER = 26


class _HashDb:
    """A Berkeley DB hash database over an in-memory image."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise RpmDbError("file shorter than a Berkeley DB meta page")
        magic_le = struct.unpack_from("<I", data, 12)[0]
        if magic_le == HASH_MAGIC:
            self.order = "<"
        elif struct.unpack_from(">I", data, 12)[0] == HASH_MAGIC:
            self.order = ">"
        elif BTREE_MAGIC in (magic_le, struct.unpack_from(">I", data, 12)[0]):
            raise RpmDbError("Berkeley DB btree database: rpm's Packages is a hash database")
        else:
            raise RpmDbError("not a Berkeley DB hash database")
        self.data = data
        version, self.pagesize = self._u32(data, 16), self._u32(data, 20)
        if version < 8 or version > 10:
            raise RpmDbError(f"unsupported Berkeley DB hash version {version}")
        if self.pagesize < 512 or self.pagesize > 65536 or self.pagesize & (self.pagesize - 1):
            raise RpmDbError(f"implausible page size {self.pagesize}")
        self.last_pgno = self._u32(data, 32)
        self.max_bucket = self._u32(data, 72)
        self.spares = [self._u32(data, 96 + 4 * i) for i in range(32)]
        if self.max_bucket > self.last_pgno:
            raise RpmDbError(f"max bucket {self.max_bucket} beyond last page {self.last_pgno}")
        #: every page belongs to one bucket chain or one overflow chain: a second visit means a
        #: hostile or corrupt file (and would make the walk quadratic), so it is an error
        self.visited: set[int] = set()

    def _visit(self, pgno: int) -> None:
        if pgno in self.visited:
            raise RpmDbError(f"page {pgno} is linked twice")
        self.visited.add(pgno)

    def _u32(self, buf: bytes, off: int) -> int:
        value: int = struct.unpack_from(self.order + "I", buf, off)[0]
        return value

    def _u16(self, buf: bytes, off: int) -> int:
        value: int = struct.unpack_from(self.order + "H", buf, off)[0]
        return value

    def page(self, pgno: int) -> bytes:
        """Page ``pgno``; :class:`RpmDbError` when it is missing or mislabelled."""
        if pgno == 0 or pgno > self.last_pgno:
            raise RpmDbError(f"page {pgno} out of range (last page {self.last_pgno})")
        start = pgno * self.pagesize
        page = self.data[start:start + self.pagesize]
        if len(page) != self.pagesize:
            raise RpmDbError(f"file truncated at page {pgno}")
        if self._u32(page, 8) != pgno:
            raise RpmDbError(f"page {pgno} carries page number {self._u32(page, 8)}")
        return page

    def overflow(self, pgno: int, total: int) -> bytes:
        """The bytes of an overflow chain starting at ``pgno``."""
        parts: list[bytes] = []
        got = 0
        for _ in range(self.last_pgno + 1):
            if got >= total:
                break
            self._visit(pgno)
            page = self.page(pgno)
            if page[25] != P_OVERFLOW:
                raise RpmDbError(f"page {pgno} is not an overflow page")
            length = self._u16(page, 22)
            if PAGE_HEADER + length > self.pagesize or got + length > total:
                raise RpmDbError(f"overflow page {pgno} has a bad length")
            parts.append(page[PAGE_HEADER:PAGE_HEADER + length])
            got += length
            pgno = self._u32(page, 16)
            if got < total and pgno == 0:
                raise RpmDbError("overflow chain ends early")
        if got != total:
            raise RpmDbError("overflow chain longer than the file")
        return b"".join(parts)

    def item(self, page: bytes, off: int, length: int) -> bytes:
        """The bytes of one key or value item."""
        if length <= 0 or off + length > self.pagesize:
            raise RpmDbError("item outside its page")
        if page[off] == H_KEYDATA:
            return page[off + 1:off + length]
        if page[off] == H_OFFPAGE:
            if length != 12:
                raise RpmDbError("bad off-page item")
            return self.overflow(self._u32(page, off + 4), self._u32(page, off + 8))
        raise RpmDbError(f"unsupported hash item type {page[off]}")

    def bucket_items(self, bucket: int) -> Iterator[tuple[bytes, bytes]]:
        """Key/value pairs of one bucket, following its page chain."""
        pgno = bucket + self.spares[bucket.bit_length()]
        while pgno:
            self._visit(pgno)
            page = self.page(pgno)
            if page[25] not in (P_HASH, P_HASH_UNSORTED, P_HASHMETA):
                raise RpmDbError(f"page {pgno} is not a hash page (type {page[25]})")
            entries = self._u16(page, 20)
            if PAGE_HEADER + 2 * entries > self.pagesize:
                raise RpmDbError(f"page {pgno} claims {entries} entries")
            offsets = [self._u16(page, PAGE_HEADER + 2 * i) for i in range(entries)]
            for i in range(0, entries - 1, 2):
                koff, voff = offsets[i], offsets[i + 1]
                klen = (self.pagesize if i == 0 else offsets[i - 1]) - koff
                yield self.item(page, koff, klen), self.item(page, voff, koff - voff)
            pgno = self._u32(page, 16)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key/value pair, bucket by bucket."""
        for bucket in range(self.max_bucket + 1):
            yield from self.bucket_items(bucket)


def iter_blobs(data: bytes) -> Iterator[bytes]:
    """Header blobs in header-number order; :class:`RpmDbError` when the file cannot be read."""
    db = _HashDb(data)
    records: list[tuple[int, bytes]] = []
    for key, value in db.items():
        if len(key) != 4:
            continue
        hnum = struct.unpack(db.order + "I", key)[0]
        if hnum == 0:
            continue
        records.append((hnum, value))
    for _hnum, blob in sorted(records, key=lambda r: r[0]):
        yield blob
