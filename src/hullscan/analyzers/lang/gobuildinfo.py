"""Pure-Python readers for executable formats (ELF, PE, Mach-O) and the Go build info embedded in Go binaries.

Only what the Go and Rust analyzers need: named sections, virtual-address -> file-offset mapping and the
``\\xff Go buildinf:`` blob. The layout follows the Go toolchain's ``debug/buildinfo`` package:

* a 32-byte header: 14 bytes of magic, one byte pointer size (4 or 8), one byte flags
  (bit 0: big endian, bit 1: version and modinfo inline);
* Go >= 1.18 ("inline"): the header is followed by two varint-length-prefixed strings, the toolchain
  version and the modinfo text;
* older binaries: two pointers to Go string headers (``runtime.buildVersion`` and ``runtime.modinfo``),
  each a (data pointer, length) pair that must be resolved through the program's load segments.

The modinfo text is framed by 16-byte sentinels and holds tab-separated lines (``path``, ``mod``, ``dep``,
``=>``, ``build``), parsed by :func:`parse_modinfo` as ``runtime/debug.ParseBuildInfo`` does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

BUILDINFO_MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_ALIGN = 16


class BinaryFormatError(ValueError):
    """The bytes claim to be an executable format but cannot be parsed."""


@dataclass(frozen=True)
class Section:
    """One named section: where its bytes are in the file and where they load in memory."""

    name: str
    offset: int
    size: int
    addr: int


@dataclass(frozen=True)
class Segment:
    """One loadable range mapping virtual addresses onto file bytes."""

    addr: int
    offset: int
    size: int  # bytes present in the file
    data: bool = False  # a writable, not executable ELF segment (where Go's debug/buildinfo looks without sections)


@dataclass
class Executable:
    """A parsed executable: its format, sections and load segments, over the raw bytes (or a view of them: only
    the parts asked for are copied out)."""

    kind: str  # elf | pe | macho
    data: bytes | memoryview
    sections: list[Section] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def section(self, *names: str) -> bytes | None:
        """Content of the first section whose name is in ``names`` (None when absent)."""
        for sec in self.sections:
            if sec.name in names:
                if sec.offset + sec.size > len(self.data):
                    raise BinaryFormatError(f"section {sec.name} extends past the end of the file")
                return bytes(self.data[sec.offset : sec.offset + sec.size])
        return None

    def read_at(self, addr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``addr``; BinaryFormatError when unmapped."""
        for seg in self.segments:
            if seg.addr <= addr and addr + size <= seg.addr + seg.size:
                start = seg.offset + (addr - seg.addr)
                chunk = bytes(self.data[start : start + size])
                if len(chunk) == size:
                    return chunk
        raise BinaryFormatError(f"address {addr:#x} (+{size}) is not mapped in the file")


def sniff(head: bytes | memoryview) -> str | None:
    """The executable format of a file from its first bytes: ``elf``, ``pe``, ``macho`` or None."""
    if head[:4] == b"\x7fELF":
        return "elf"
    if head[:2] == b"MZ":
        return "pe"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce"):
        return "macho"
    return None


def parse_executable(data: bytes | memoryview) -> Executable | None:
    """Parse ``data`` as ELF, PE or Mach-O; None when it is none of them. Raises BinaryFormatError when broken."""
    kind = sniff(bytes(data[:4]))
    try:
        if kind == "elf":
            return _parse_elf(data)
        if kind == "pe":
            return _parse_pe(data)
        if kind == "macho":
            return _parse_macho(data)
    except (struct.error, IndexError, OverflowError, UnicodeDecodeError) as exc:
        raise BinaryFormatError(f"truncated or corrupt {kind} headers ({exc})") from None
    return None


def _parse_elf(data: bytes | memoryview) -> Executable:
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise BinaryFormatError("bad ELF class or byte order")
    end = "<" if ei_data == 1 else ">"
    is64 = ei_class == 2
    if is64:
        phoff, shoff = struct.unpack_from(end + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x36)
    else:
        phoff, shoff = struct.unpack_from(end + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x2A)
    exe = Executable("elf", data)
    for i in range(phnum):
        base = phoff + i * phentsize
        if is64:
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from(end + "IIQQQQ", data, base)
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_flags = struct.unpack_from(end + "IIIIIII", data, base)
        if p_type == 1:  # PT_LOAD
            exe.segments.append(Segment(p_vaddr, p_offset, p_filesz, p_flags & 3 == 2))  # PF_W without PF_X
    raw: list[tuple[int, int, int, int, int]] = []
    for i in range(shnum):
        base = shoff + i * shentsize
        if is64:
            name, sh_type, _f, addr, offset, size = struct.unpack_from(end + "IIQQQQ", data, base)
        else:
            name, sh_type, _f, addr, offset, size = struct.unpack_from(end + "IIIIII", data, base)
        raw.append((name, sh_type, addr, offset, size))
    if raw and shstrndx < len(raw):
        _n, _t, _a, str_off, str_size = raw[shstrndx]
        strtab = bytes(data[str_off : str_off + str_size])
        for name_off, sh_type, addr, offset, size in raw:
            if sh_type == 8:  # SHT_NOBITS: no bytes in the file
                continue
            name_end = strtab.find(b"\0", name_off)
            name = strtab[name_off : name_end if name_end >= 0 else None].decode("latin-1")
            exe.sections.append(Section(name, offset, size, addr))
    return exe


def _parse_pe(data: bytes | memoryview) -> Executable:
    (pe_off,) = struct.unpack_from("<I", data, 0x3C)
    if bytes(data[pe_off : pe_off + 4]) != b"PE\0\0":
        raise BinaryFormatError("missing PE signature")
    nsect, = struct.unpack_from("<H", data, pe_off + 6)
    (opt_size,) = struct.unpack_from("<H", data, pe_off + 20)
    opt = pe_off + 24
    (magic,) = struct.unpack_from("<H", data, opt)
    image_base = struct.unpack_from("<Q", data, opt + 24)[0] if magic == 0x20B else struct.unpack_from("<I", data, opt + 28)[0]
    exe = Executable("pe", data)
    table = opt + opt_size
    for i in range(nsect):
        base = table + i * 40
        name = bytes(data[base : base + 8]).rstrip(b"\0").decode("latin-1")
        vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", data, base + 8)
        size = min(vsize, raw_size) if vsize else raw_size
        exe.sections.append(Section(name, raw_ptr, size, image_base + vaddr))
        exe.segments.append(Segment(image_base + vaddr, raw_ptr, size))
    return exe


def _parse_macho(data: bytes | memoryview) -> Executable:
    magic = bytes(data[:4])
    end = "<" if magic in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") else ">"
    is64 = magic in (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf")
    ncmds = struct.unpack_from(end + "I", data, 16)[0]
    off = 32 if is64 else 28
    exe = Executable("macho", data)
    for _ in range(ncmds):
        cmd, cmdsize = struct.unpack_from(end + "II", data, off)
        if cmdsize < 8:
            raise BinaryFormatError("bad Mach-O load command size")
        if cmd in (0x19, 0x1):  # LC_SEGMENT_64 / LC_SEGMENT
            if cmd == 0x19:
                vmaddr, _vmsize, fileoff, filesize = struct.unpack_from(end + "QQQQ", data, off + 24)
                nsects = struct.unpack_from(end + "I", data, off + 64)[0]
                sect, sect_size = off + 72, 80
            else:
                vmaddr, _vmsize, fileoff, filesize = struct.unpack_from(end + "IIII", data, off + 24)
                nsects = struct.unpack_from(end + "I", data, off + 48)[0]
                sect, sect_size = off + 56, 68
            exe.segments.append(Segment(vmaddr, fileoff, filesize))
            for j in range(nsects):
                base = sect + j * sect_size
                name = bytes(data[base : base + 16]).rstrip(b"\0").decode("latin-1")
                if cmd == 0x19:
                    addr, size = struct.unpack_from(end + "QQ", data, base + 32)
                    (offset,) = struct.unpack_from(end + "I", data, base + 48)
                else:
                    addr, size, offset = struct.unpack_from(end + "III", data, base + 32)
                exe.sections.append(Section(name, offset, size, addr))
        off += cmdsize
    return exe


# --------------------------------------------------------------------------- Go build info


@dataclass(frozen=True)
class GoModule:
    """One module line of the modinfo: path, version, go.sum hash and its replacement, if any."""

    path: str
    version: str = ""
    sum: str = ""
    replace: GoModule | None = None


@dataclass(frozen=True)
class GoBuildInfo:
    """What ``go version -m`` prints for one binary."""

    go_version: str  # e.g. go1.21.3
    path: str = ""  # the main package path
    main: GoModule | None = None
    deps: tuple[GoModule, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()


def _uvarint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BinaryFormatError("truncated varint in Go build info")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _find_blob(exe: Executable) -> memoryview | None:
    """A view from the build info header on (``.go.buildinfo`` or a 16-aligned scan); a view, not a copy of the tail."""
    section = exe.section(".go.buildinfo", "__go_buildinfo")
    if section is not None and section.startswith(BUILDINFO_MAGIC):
        start = next(s.offset for s in exe.sections if s.name in (".go.buildinfo", "__go_buildinfo"))
        return memoryview(exe.data)[start:]
    # no such section (stripped of section headers, or not Go): look where Go's debug/buildinfo looks, an ELF's
    # writable data segments; other formats are searched whole
    ranges = [(s.offset, s.offset + s.size) for s in exe.segments if s.data] if exe.kind == "elf" else [(0, len(exe.data))]
    for first, last in ranges:
        data = bytes(exe.data[first:last])
        pos = data.find(BUILDINFO_MAGIC)
        while pos >= 0:
            # the blob is 16-aligned in memory; file offsets of data sections keep that alignment in practice
            if (first + pos) % _ALIGN == 0 and len(exe.data) - first - pos >= _HEADER_SIZE and exe.data[first + pos + 14] in (4, 8):
                return memoryview(exe.data)[first + pos :]
            pos = data.find(BUILDINFO_MAGIC, pos + 1)
    return None


def read_go_buildinfo(exe: Executable) -> GoBuildInfo | None:
    """The Go build info of ``exe``; None when it is not a Go binary. Raises BinaryFormatError when corrupt."""
    try:
        return _read_go_buildinfo(exe)
    except (struct.error, IndexError, OverflowError) as exc:
        raise BinaryFormatError(f"corrupt Go build info ({exc})") from None


def _read_go_buildinfo(exe: Executable) -> GoBuildInfo | None:
    blob = _find_blob(exe)
    if blob is None:
        return None
    if len(blob) < _HEADER_SIZE:
        raise BinaryFormatError("truncated Go build info header")
    ptr_size, flags = blob[14], blob[15]
    if flags & 2:
        vlen, pos = _uvarint(blob, _HEADER_SIZE)
        version = bytes(blob[pos : pos + vlen])
        mlen, pos = _uvarint(blob, pos + vlen)
        modinfo = bytes(blob[pos : pos + mlen])
        if len(version) != vlen or len(modinfo) != mlen:
            raise BinaryFormatError("truncated Go build info strings")
    else:
        if ptr_size not in (4, 8):
            raise BinaryFormatError(f"bad pointer size {ptr_size} in Go build info")
        fmt = (">" if flags & 1 else "<") + ("Q" if ptr_size == 8 else "I")
        version = _read_go_string(exe, fmt, ptr_size, struct.unpack_from(fmt, blob, 16)[0])
        modinfo = _read_go_string(exe, fmt, ptr_size, struct.unpack_from(fmt, blob, 16 + ptr_size)[0])
    vers = version.decode("utf-8", "replace")
    if not vers:
        return None
    mod = modinfo.decode("utf-8", "replace")
    if len(mod) >= 33 and mod[-17] == "\n":
        mod = mod[16:-16]
    else:
        mod = ""
    return parse_modinfo(mod, vers)


def _read_go_string(exe: Executable, fmt: str, ptr_size: int, addr: int) -> bytes:
    header = exe.read_at(addr, 2 * ptr_size)
    data_ptr = struct.unpack_from(fmt, header, 0)[0]
    length = struct.unpack_from(fmt, header, ptr_size)[0]
    if length == 0:
        return b""
    if length > 16 * 1024 * 1024:
        raise BinaryFormatError("implausible Go string length in build info")
    return exe.read_at(data_ptr, length)


def _parse_mod(fields: list[str]) -> GoModule:
    path = fields[0] if fields else ""
    version = fields[1] if len(fields) > 1 else ""
    return GoModule(path=path, version=version, sum=fields[2] if len(fields) > 2 else "")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        import json

        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    return value


def parse_modinfo(text: str, go_version: str) -> GoBuildInfo:
    """Parse the modinfo text (``path``/``mod``/``dep``/``=>``/``build`` lines) as ``debug.ParseBuildInfo`` does."""
    path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: list[tuple[str, str]] = []
    last: str = ""  # which module a "=>" line replaces: "mod" or "dep"
    for line in text.split("\n"):
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            path = rest
        elif kind == "mod":
            main, last = _parse_mod(fields), "mod"
        elif kind == "dep":
            deps.append(_parse_mod(fields))
            last = "dep"
        elif kind == "=>":
            repl = _parse_mod(fields)
            if last == "dep" and deps:
                deps[-1] = GoModule(deps[-1].path, deps[-1].version, deps[-1].sum, repl)
            elif last == "mod" and main is not None:
                main = GoModule(main.path, main.version, main.sum, repl)
            last = ""
        elif kind == "build":
            key, sep, value = rest.partition("=")
            if key.startswith('"'):
                # quoted key: find the closing quote
                full = rest
                close = full.find('"', 1)
                key, value = full[1:close], full[close + 2 :]
            if sep or key:
                settings.append((_unquote(key), _unquote(value)))
    return GoBuildInfo(go_version=go_version, path=path, main=main, deps=tuple(deps), settings=tuple(settings))
