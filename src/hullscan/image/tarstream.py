"""A lean streaming tar reader (POSIX ustar, GNU long names/links, PAX extended headers).

Why not :mod:`tarfile`: its stream mode spends ~45 µs per entry in Python header handling, which is
most of a cold scan of a Debian base layer (9k entries). This reader parses the 512-byte header with
slices and skips member data by ``readinto`` into one reusable buffer. It reads forward only and
never writes anything. Every malformed header is a :class:`~hullscan.errors.BlobError` naming the offset.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hullscan.errors import BlobError

BLOCK = 512
_SKIP = 1 << 20
#: how much of the stream one read brings into the header window
_WINDOW = 256 * 1024
#: the ustar header: name, mode, uid, gid, size, mtime, chksum, typeflag, linkname, magic+version, uname, gname,
#: devmajor, devminor, prefix (one C call instead of a slice per field)
_HEADER = struct.Struct("100s8s8s8s12s12s8sB100s8s32s32s8s8s155s")
_NO_DATA = frozenset(b"123456")
_ZERO_ID = b"0000000\0"  # hard link, symlink, char/block device, directory, FIFO: no data blocks

REGULAR = frozenset(b"0\x007")
HARDLINK = ord("1")
SYMLINK = ord("2")
CHAR = ord("3")
BLOCKDEV = ord("4")
DIRECTORY = ord("5")
FIFO = ord("6")
GNU_LONGNAME = ord("L")
GNU_LONGLINK = ord("K")
PAX_HEADER = ord("x")
PAX_GLOBAL = ord("g")
GNU_SPARSE = ord("S")
_EXTENDED = frozenset({PAX_HEADER, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK})


@dataclass(slots=True)
class Member:
    """One tar entry's header."""

    name: str
    type: int  # typeflag byte
    size: int
    mode: int
    uid: int
    gid: int
    linkname: str

    def isreg(self) -> bool:
        """Regular file (incl. contiguous files)."""
        return self.type in REGULAR

    def isdir(self) -> bool:
        """Directory."""
        return self.type == DIRECTORY or (self.type in REGULAR and self.name.endswith("/"))


def _octal(field: bytes, what: str, offset: int) -> int:
    if field and field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.partition(b"\0")[0]
    try:
        return int(text or b"0", 8)  # int() ignores surrounding spaces
    except ValueError:
        if not text.strip():
            return 0
        raise BlobError(f"invalid tar header at offset {offset}: bad {what} field {field!r}") from None


def _name(field: bytes) -> str:
    return text(field.split(b"\0", 1)[0])


def text(raw: bytes) -> str:
    """A name from the archive as text: UTF-8, or with the bytes that are not shown as ``\\xff`` (a lone
    surrogate, as ``surrogateescape`` makes, cannot be written as UTF-8 by the report writers)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def printable(name: str) -> str:
    """``name`` (from ``os.fsdecode``/``surrogateescape``) with undecodable bytes shown as ``\\xff``."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return text(name.encode("utf-8", "surrogateescape"))
    return name


class TarReader:
    """Iterate members of a tar stream; :meth:`read` returns the current member's data.

    Headers are parsed from a window of the stream read in big chunks (one ``read`` per 256 KiB instead of one per
    512-byte header; a small member's data is skipped by moving inside the window). With ``seek=True`` (a plain tar
    in a local file, verified elsewhere) data past the window that nobody reads is skipped with relative seeks instead
    of being read; otherwise every byte passes through (a decompressor, a digest check). With ``seek`` the stream's
    size is known from the start: a stream that ends before it (a file cut short while it is read) is a truncation.
    """

    def __init__(self, stream: BinaryIO, what: str, account: Callable[[int], None] | None = None, seek: bool = False) -> None:
        self._stream = stream
        self._what = what
        self._account = account or (lambda n: None)
        self._base = 0  # stream offset of the window's first byte
        self._win = b""  # the window: bytes read from the stream and not yet consumed from ``_pos`` on
        self._pos = 0
        self._left = 0  # data + padding of the current member not yet consumed
        self._data_left = 0  # data of the current member not yet consumed
        self._seek = seek
        self._end = -1  # with seeks: where the stream ends (a skip past it is a truncated archive)
        if seek:
            here = stream.tell()
            self._end = stream.seek(0, io.SEEK_END) - here
            stream.seek(here)
        self._buf = bytearray(0 if self._seek else _SKIP)  # (what a skip reads into when it cannot seek)
        self._global: dict[str, str] = {}

    @property
    def position(self) -> int:
        """Where the reader is in the stream: while on a member whose data was not read, where that data starts."""
        return self._base + self._pos

    def _read_exact(self, n: int) -> bytes:
        """The next ``n`` bytes (from the window, then the stream)."""
        pos, win = self._pos, self._win
        have = len(win) - pos
        if have >= n:
            self._pos = pos + n
            return win[pos : pos + n]
        head = win[pos:]
        self._base += len(win)
        self._win, self._pos = b"", 0
        need = n - have
        data = self._stream.read(need)
        if len(data) != need:
            chunks = [data]
            got = len(data)
            while got < need:
                more = self._stream.read(need - got)
                if not more:
                    raise BlobError(f"{self._what}: truncated tar stream at offset {self._base + got}")
                chunks.append(more)
                got += len(more)
            data = b"".join(chunks)
        self._base += need
        return head + data if head else data

    def _skip(self, n: int) -> None:
        have = len(self._win) - self._pos
        if n <= have:
            self._pos += n
            return
        n -= have
        self._base += len(self._win)
        self._win, self._pos = b"", 0
        if self._seek:
            if self._base + n > self._end:
                raise BlobError(f"{self._what}: truncated tar stream at offset {self._end}")
            self._stream.seek(n, io.SEEK_CUR)
            self._base += n
            return
        view = memoryview(self._buf)
        readinto = getattr(self._stream, "readinto", None)
        while n > 0:
            step = min(n, _SKIP)
            if readinto is not None:
                got = readinto(view[:step])
            else:
                got = len(self._stream.read(step))
            if not got:
                raise BlobError(f"{self._what}: truncated tar stream at offset {self._base}")
            n -= got
            self._base += got

    def _fill(self) -> bool:
        """Make at least one header block available at ``_pos`` (False at a clean end of the stream)."""
        rest = self._win[self._pos :]
        self._base += self._pos
        more = self._stream.read(_WINDOW)
        while more and len(rest) + len(more) < BLOCK:
            rest += more
            more = self._stream.read(_WINDOW)
        self._win, self._pos = rest + more, 0
        if len(self._win) >= BLOCK:
            return True
        if not self._win:
            if self._seek and self._base < self._end:  # the stream ends before its known size: cut short meanwhile
                raise BlobError(f"{self._what}: truncated tar stream at offset {self._base}")
            return False  # EOF without end-of-archive blocks: accepted (some writers omit them)
        raise BlobError(f"{self._what}: truncated tar stream at offset {self._base}")

    def read(self) -> bytes:
        """The whole data of the current member (once; an empty result afterwards)."""
        n = self._data_left
        if n <= 0:
            return b""
        data = self._read_exact(n)
        self._data_left = 0
        self._left -= n
        return data

    def __iter__(self) -> Iterator[Member]:
        for record in self.records():
            yield Member(*record)

    def records(self) -> Iterator[tuple[str, int, int, int, int, int, str]]:
        """The members as plain ``(name, type, size, mode, uid, gid, linkname)`` tuples (what :class:`Member` holds,
        without making one per entry: the layer walk unpacks these at once)."""
        pax: dict[str, str] = {}
        long_name: str | None = None
        long_link: str | None = None
        unpack = _HEADER.unpack_from
        account = self._account
        adler = zlib.adler32
        no_data = _NO_DATA
        extended = _EXTENDED
        while True:
            left = self._left
            pos = self._pos + left  # past the current member's data and padding
            win = self._win
            if left:
                self._data_left = self._left = 0
                if pos > len(win):
                    self._skip(left)
                    pos, win = self._pos, self._win
            if len(win) - pos < BLOCK:
                self._pos = pos
                if not self._fill():
                    return
                pos, win = 0, self._win
            header = win[pos : pos + BLOCK]
            self._pos = pos + BLOCK
            (raw_name, raw_mode, raw_uid, raw_gid, raw_size, _mtime, raw_sum, typeflag, raw_link, magic, _uname, _gname,
             _major, _minor, raw_prefix) = unpack(header)
            if not raw_name[0] and header.count(0) == BLOCK:
                return  # end-of-archive marker
            # the usual "%06o\0 " checksum: Adler-32's low half is 1 + the byte sum mod 65521, and 256 bytes sum to at
            # most 65280, so two halves give the exact sum in C (sum() walks 512 ints); anything else goes the long way
            try:
                summed = raw_sum[6] == 0 and int(raw_sum[:6], 8) == (
                    (adler(header[:256]) & 0xFFFF) + (adler(header[256:]) & 0xFFFF) - sum(raw_sum) + 254)
            except ValueError:
                summed = False
            if not summed:
                self._check(header, raw_sum, self._base + pos)
            # numeric fields in the usual zero-padded "%0No\0" form are read at once; anything else through _octal
            try:  # (a field int() refuses, base-256 or stray bytes, takes the long way, which names the problem)
                size = int(raw_size[:11], 8) if raw_size[11] == 0 else -1
            except ValueError:
                size = -1
            if size < 0:
                size = _octal(raw_size, "size", self._base + pos)
                if size < 0:
                    raise BlobError(f"invalid tar header at offset {self._base + pos}: negative size")
            if typeflag in extended:
                start = self._base + pos
                if size > 16 * 1024 * 1024:
                    raise BlobError(f"{self._what}: extended header of {size} bytes at offset {start}")
                account(BLOCK + size + (-size % BLOCK))
                data = self._read_exact(size)
                self._skip(-size % BLOCK)
                if typeflag == PAX_HEADER:
                    pax.update(self._pax(data, start))
                elif typeflag == PAX_GLOBAL:
                    self._global.update(self._pax(data, start))
                elif typeflag == GNU_LONGNAME:
                    long_name = _name(data)
                else:
                    long_link = _name(data)
                continue
            try:
                name = raw_name.partition(b"\0")[0].decode()
            except UnicodeDecodeError:
                name = _name(raw_name)
            if raw_prefix[0] and magic[:6] == b"ustar\x00":  # POSIX: a prefix field extends the name
                prefix = _name(raw_prefix)
                if prefix:
                    name = f"{prefix}/{name}"
            linkname = _name(raw_link) if raw_link[0] else ""
            try:
                mode = int(raw_mode[:7], 8) if raw_mode[7] == 0 else -1
            except ValueError:
                mode = -1
            if mode < 0:
                mode = _octal(raw_mode, "mode", self._base + pos)
            if pax or self._global or long_name is not None or long_link is not None:
                start = self._base + pos
                attrs = {**self._global, **pax}
                if long_name is not None:
                    name = long_name
                if long_link is not None:
                    linkname = long_link
                name = attrs.get("path", name)
                linkname = attrs.get("linkpath", linkname)
                if "size" in attrs:
                    try:
                        size = int(attrs["size"])
                    except ValueError:
                        raise BlobError(f"{self._what}: bad PAX size at offset {start}") from None
                uid = _pax_id(attrs.get("uid", ""), raw_uid, "uid", start)
                gid = _pax_id(attrs.get("gid", ""), raw_gid, "gid", start)
                pax = {}
                long_name = long_link = None
            elif raw_uid == _ZERO_ID and raw_gid == _ZERO_ID:  # root-owned: most of an image
                uid = gid = 0
            else:
                try:
                    uid = int(raw_uid[:7], 8) if raw_uid[7] == 0 else -1
                    gid = int(raw_gid[:7], 8) if raw_gid[7] == 0 else -1
                except ValueError:
                    uid = gid = -1
                if uid < 0 or gid < 0:
                    uid = _octal(raw_uid, "uid", self._base + pos)
                    gid = _octal(raw_gid, "gid", self._base + pos)
            data_size = 0 if typeflag in no_data else size
            # account the whole record before reading it: a limit stops a bomb before it is decompressed
            padded = data_size + (-data_size % BLOCK)
            account(BLOCK + padded)
            self._data_left = data_size
            self._left = padded
            yield name, typeflag, data_size, mode, uid, gid, linkname

    def _check(self, header: bytes, stored: bytes, start: int) -> None:
        """The long way of the header checksum (the walk checks the usual form itself): any spelling of the field,
        and the signed-sum variant some old writers used."""
        try:
            expected = int(stored.split(b"\0", 1)[0].strip() or b"-1", 8)
        except ValueError:
            raise BlobError(f"{self._what}: not a tar stream (bad header checksum field at offset {start})") from None
        actual = sum(header) - sum(stored) + 256  # the checksum field counts as eight spaces
        if expected != actual and expected != actual - 2 * sum(b for b in header[:148] + header[156:] if b > 127):
            raise BlobError(f"{self._what}: corrupt tar header at offset {start} (checksum {expected} != {actual})")

    def _pax(self, data: bytes, start: int) -> dict[str, str]:
        out: dict[str, str] = {}
        pos = 0
        while pos < len(data):
            if data[pos] == 0:
                break
            space = data.find(b" ", pos)
            if space < 0:
                raise BlobError(f"{self._what}: malformed PAX header at offset {start}")
            try:
                length = int(data[pos:space])
            except ValueError:
                raise BlobError(f"{self._what}: malformed PAX header at offset {start}") from None
            if length <= 0 or pos + length > len(data):
                raise BlobError(f"{self._what}: malformed PAX record length at offset {start}")
            record = data[space + 1 : pos + length - 1]
            key, _, value = record.partition(b"=")
            out[key.decode("utf-8", "replace")] = text(value)
            pos += length
        return out


def _pax_id(value: str, field: bytes, name: str, start: int) -> int:
    """A PAX ``uid``/``gid`` when it is a plausible decimal id, else the header ``field``'s (never int() of a
    hostile 5,000-digit number, which Python refuses with a ValueError)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 20 else _octal(field, name, start)
