"""``.deb`` archives read in memory: an ``ar`` archive holding ``debian-binary``, ``control.tar.*`` and
``data.tar.*`` (deb(5)). The ar format is tiny (an 8-byte magic, then 60-byte headers), so it is read here by hand
rather than through a subprocess; the tar members go through :mod:`tarfile` (gzip, xz, bzip2, none) and
:mod:`zstandard` (Ubuntu's ``.zst`` members, which Python 3.11's tarfile does not read)."""

from __future__ import annotations

import io
import posixpath
import tarfile
from dataclasses import dataclass, field

from hullscan.fix import deb822

AR_MAGIC = b"!<arch>\n"


class DebError(ValueError):
    """A ``.deb`` that is not a valid Debian binary package."""


def ar_members(data: bytes, what: str) -> dict[str, bytes]:
    """The members of an ar archive (GNU or BSD-less common format), by name."""
    if not data.startswith(AR_MAGIC):
        raise DebError(f"{what}: not an ar archive")
    out: dict[str, bytes] = {}
    pos = len(AR_MAGIC)
    while pos < len(data):
        header = data[pos:pos + 60]
        if len(header) < 60 or header[58:60] != b"`\n":
            raise DebError(f"{what}: truncated or corrupt ar header at byte {pos}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise DebError(f"{what}: corrupt ar member size at byte {pos}") from None
        start = pos + 60
        if start + size > len(data):
            raise DebError(f"{what}: member {name} is truncated")
        out[name] = data[start:start + size]
        pos = start + size + (size & 1)
    return out


def _open_tar(name: str, blob: bytes, what: str) -> tarfile.TarFile:
    if name.endswith(".zst"):
        import zstandard

        try:
            blob = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
        except zstandard.ZstdError as exc:
            raise DebError(f"{what}: {name}: corrupt zstd data ({exc})") from None
    try:
        return tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DebError(f"{what}: {name}: not a readable tar ({exc})") from None


@dataclass
class DebMember:
    """One entry of ``data.tar``: an image-absolute path and what to write there."""

    path: str
    info: tarfile.TarInfo
    data: bytes = b""


@dataclass
class DebFile:
    """A parsed binary package."""

    control: deb822.Stanza
    #: control.tar members other than ``control`` itself: conffiles, md5sums, postinst, shlibs, triggers, ...
    control_files: dict[str, bytes] = field(default_factory=dict)
    members: list[DebMember] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``Package``."""
        return self.control.get("Package", "")

    @property
    def version(self) -> str:
        """``Version``."""
        return self.control.get("Version", "")

    def conffiles(self) -> list[str]:
        """Paths listed in ``conffiles`` (``remove-on-upgrade`` entries excluded)."""
        text = self.control_files.get("conffiles", b"").decode("utf-8", "replace")
        out = []
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0].startswith("/") and "remove-on-upgrade" not in parts[1:]:
                out.append(parts[0])
        return out


def read_deb(data: bytes, what: str) -> DebFile:
    """Parse a ``.deb`` held in memory."""
    members = ar_members(data, what)
    if members.get("debian-binary", b"").strip()[:2] != b"2.":
        raise DebError(f"{what}: missing or unsupported debian-binary")
    control_name = next((n for n in members if n.startswith("control.tar")), "")
    data_name = next((n for n in members if n.startswith("data.tar")), "")
    if not control_name or not data_name:
        raise DebError(f"{what}: no control.tar or data.tar member")
    control_files: dict[str, bytes] = {}
    with _open_tar(control_name, members[control_name], what) as tar:
        for info in tar:
            name = info.name.lstrip("./")
            if info.isfile() and name and "/" not in name:
                fh = tar.extractfile(info)
                control_files[name] = fh.read() if fh else b""
    control_text = control_files.pop("control", b"").decode("utf-8", "replace")
    stanzas = deb822.parse(control_text)
    if len(stanzas) != 1 or not stanzas[0].get("Package") or not stanzas[0].get("Version"):
        raise DebError(f"{what}: malformed control file")
    deb = DebFile(stanzas[0], control_files)
    with _open_tar(data_name, members[data_name], what) as tar:
        for info in tar:
            path = posixpath.normpath("/" + info.name)
            if path == "/" or ".." in info.name.split("/"):
                continue
            body = b""
            if info.isfile():
                fh = tar.extractfile(info)
                body = fh.read() if fh else b""
            deb.members.append(DebMember(path, info, body))
    return deb
