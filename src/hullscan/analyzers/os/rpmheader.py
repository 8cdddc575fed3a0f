"""rpm header blobs, as stored in every rpm database backend.

Layout (rpm ``doc/manual/format.md``, ``lib/header.c`` ``hdrblobInit``), all integers big-endian::

    il (u32)  dl (u32)  il x index entry (tag u32, type u32, offset u32, count u32)  dl bytes of data

Blobs read from a package file carry the 8-byte header magic ``8e ad e8 01 00 00 00 00`` first;
database blobs do not (both are accepted). Offsets are relative to the start of the data store.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER_MAGIC = b"\x8e\xad\xe8\x01"

# tags (rpm include/rpm/rpmtag.h)
NAME, VERSION, RELEASE, EPOCH = 1000, 1001, 1002, 1003
LICENSE, VENDOR = 1014, 1011
OLDFILENAMES, FILEMODES = 1027, 1030
ARCH, SOURCERPM = 1022, 1044
PROVIDENAME, REQUIRENAME = 1047, 1049
DIRINDEXES, BASENAMES, DIRNAMES = 1116, 1117, 1118
MODULARITYLABEL = 5096

# types
CHAR, INT8, INT16, INT32, INT64, STRING, BIN, STRING_ARRAY, I18NSTRING = 1, 2, 3, 4, 5, 6, 7, 8, 9
_INT_FORMATS = {CHAR: "B", INT8: "B", INT16: "H", INT32: "I", INT64: "Q"}
_MAX_INDEX = 0x0000FFFF  # rpm's hdrblobInit limits
_MAX_DATA = 0x0FFFFFFF


class HeaderError(ValueError):
    """The blob is not a well-formed rpm header."""


class RpmDbError(ValueError):
    """An rpm database file (SQLite, Berkeley DB or NDB) cannot be read."""


@dataclass(frozen=True)
class RpmHeader:
    """A parsed header: the index (tag -> (type, offset, count)) over the data store."""

    index: dict[int, tuple[int, int, int]]
    data: bytes

    @classmethod
    def parse(cls, blob: bytes) -> RpmHeader:
        """Parse a blob; :class:`HeaderError` when its sizes do not add up."""
        if blob[:4] == HEADER_MAGIC:
            blob = blob[8:]
        if len(blob) < 8:
            raise HeaderError("header shorter than 8 bytes")
        il, dl = struct.unpack_from(">II", blob)
        if il == 0 or il > _MAX_INDEX or dl > _MAX_DATA:
            raise HeaderError(f"implausible header sizes il={il} dl={dl}")
        start = 8 + 16 * il
        if start + dl > len(blob):
            raise HeaderError(f"header truncated: needs {start + dl} bytes, has {len(blob)}")
        index: dict[int, tuple[int, int, int]] = {}
        for tag, typ, off, count in struct.iter_unpack(">IIII", blob[8:start]):
            if off > dl:
                raise HeaderError(f"tag {tag} points outside the data store")
            index.setdefault(tag, (typ, off, count))
        return cls(index=index, data=blob[start:start + dl])

    def _strings(self, tag: int) -> list[str]:
        entry = self.index.get(tag)
        if entry is None:
            return []
        typ, off, count = entry
        if typ not in (STRING, STRING_ARRAY, I18NSTRING):
            raise HeaderError(f"tag {tag} has type {typ}, not a string")
        if typ == STRING:
            count = 1
        out: list[str] = []
        pos = off
        for _ in range(count):
            end = self.data.find(b"\x00", pos)
            if end < 0:
                raise HeaderError(f"tag {tag}: unterminated string")
            out.append(self.data[pos:end].decode("utf-8", errors="replace"))
            pos = end + 1
        return out

    def string(self, tag: int) -> str:
        """A STRING (or the first of an array / the C locale of an I18NSTRING); ``""`` when absent."""
        values = self._strings(tag)
        return values[0] if values else ""

    def strings(self, tag: int) -> list[str]:
        """A STRING_ARRAY; ``[]`` when absent."""
        return self._strings(tag)

    def ints(self, tag: int) -> list[int]:
        """An integer array of any width; ``[]`` when absent."""
        entry = self.index.get(tag)
        if entry is None:
            return []
        typ, off, count = entry
        fmt = _INT_FORMATS.get(typ)
        if fmt is None:
            raise HeaderError(f"tag {tag} has type {typ}, not an integer")
        size = struct.calcsize(fmt) * count
        if off + size > len(self.data):
            raise HeaderError(f"tag {tag}: integer array runs past the data store")
        return list(struct.unpack_from(f">{count}{fmt}", self.data, off))
