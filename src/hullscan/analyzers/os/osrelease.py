"""OS detection from ``/etc/os-release`` and the distribution-specific release files.

Each release file is parsed on its own into a :class:`~hullscan.model.Distro` (that is what the
per-layer analyzer caches). Which file wins is decided once, on the squashed view, by
:func:`resolve_distro`:

1. the os-release files win (``/etc/os-release`` before ``/usr/lib/os-release``);
2. without one, the distribution files in :data:`RELEASE_FILES` order (most specific first);
3. the winner's empty fields (version, codename, names) are filled from other files that name the
   *same* distribution id, e.g. Debian testing's missing ``VERSION_ID`` from ``/etc/debian_version``,
   and Alpine's version is made precise from ``/etc/alpine-release`` (``3.19`` -> ``3.19.1``).

Google distroless images carry ``ID=debian`` and ``PRETTY_NAME="Distroless"``: the id stays
``debian`` (so Debian advisories match) and ``name`` becomes ``Distroless``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.model import AnalysisResult, Distro, ScanWarning

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")

#: Distribution-specific files, most specific first (the order is the precedence without os-release).
RELEASE_FILES = (
    "/etc/almalinux-release",
    "/etc/rocky-release",
    "/etc/centos-release",
    "/etc/fedora-release",
    "/etc/oracle-release",
    "/etc/system-release",
    "/etc/redhat-release",
    "/etc/SuSE-release",
    "/etc/alpine-release",
    "/etc/lsb-release",
    "/etc/debian_version",
)

ALL_FILES = OS_RELEASE_FILES + RELEASE_FILES

#: ``<Vendor> release <version> (<codename>)`` vendor prefixes -> os-release ID
_VENDOR_IDS = (
    ("red hat enterprise linux", "rhel"),
    ("centos", "centos"),
    ("almalinux", "almalinux"),
    ("rocky linux", "rocky"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
    ("oracle linux", "ol"),
)


@functools.cache
def _release_line() -> re.Pattern[str]:
    """``<Vendor> release <version> (<codename>)`` (compiled on first use: start-up stays cheap)."""
    return re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>[0-9][0-9A-Za-z._-]*)(?:\s*\((?P<code>[^)]*)\))?")


def _fields(text: str) -> dict[str, str]:
    """``KEY=value`` lines (shell quoting honoured, comments and junk ignored)."""
    import shlex  # on first use: start-up stays cheap

    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        key = key.strip()
        if not key.replace("_", "").isalnum():
            continue
        try:
            parts = shlex.split(raw, comments=False)
            value = " ".join(parts)
        except ValueError:
            value = raw.strip().strip("\"'")
        out[key] = value
    return out


def parse_os_release(text: str) -> Distro | None:
    """Parse os-release(5) content; None when it has no ``ID``."""
    f = _fields(text)
    distro_id = f.get("ID", "").strip().lower()
    if not distro_id:
        return None
    name = f.get("NAME", "")
    pretty = f.get("PRETTY_NAME", "")
    codename = f.get("VERSION_CODENAME", "") or f.get("UBUNTU_CODENAME", "")
    if not codename:
        m = re.search(r"\(([^)]*)\)", f.get("VERSION", ""))
        if m and re.fullmatch(r"[a-z]+", m.group(1)):
            codename = m.group(1)
    if pretty.lower() == "distroless" or "distroless" in f.get("HOME_URL", "").lower():
        name = "Distroless"
    id_like = tuple(f.get("ID_LIKE", "").lower().split())
    return Distro(
        id=distro_id,
        version_id=f.get("VERSION_ID", ""),
        name=name,
        pretty_name=pretty,
        codename=codename,
        id_like=id_like,
    )


def parse_release_line(text: str) -> Distro | None:
    """Parse a Red Hat style ``<Vendor> release <version> (<codename>)`` line."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    m = _release_line().match(line)
    if not m:
        return None
    vendor = m.group("name").strip()
    distro_id = next((i for prefix, i in _VENDOR_IDS if vendor.lower().startswith(prefix)), "")
    if not distro_id:
        return None
    version = m.group("version")
    if distro_id == "amzn" and "ami" not in vendor.lower():
        version = version.split(".")[0]  # "2023.3.20240219" -> "2023", like os-release VERSION_ID
    id_like = ("rhel", "fedora") if distro_id in ("centos", "almalinux", "rocky", "ol") else ()
    codename = (m.group("code") or "").strip()
    if codename.lower() == vendor.lower():  # "Amazon Linux release 2023.3 (Amazon Linux)"
        codename = ""
    return Distro(id=distro_id, version_id=version, name=vendor, pretty_name=line.strip(),
                  codename=codename, id_like=id_like)


def parse_suse_release(text: str) -> Distro | None:
    """Parse the legacy ``/etc/SuSE-release`` (SLES 11/12, openSUSE 13)."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    first = lines[0].strip()
    f = {k.strip(): v.strip() for k, _, v in (ln.partition("=") for ln in lines[1:]) if v}
    version = f.get("VERSION", "")
    if f.get("PATCHLEVEL", "0") not in ("", "0"):
        version = f"{version}.{f['PATCHLEVEL']}"
    low = first.lower()
    if "enterprise server" in low:
        distro_id = "sles"
    elif "enterprise desktop" in low:
        distro_id = "sled"
    elif low.startswith("opensuse"):
        distro_id = "opensuse"
    else:
        return None
    name = re.sub(r"\s*\([^)]*\)\s*$", "", first)
    return Distro(id=distro_id, version_id=version, name=name, pretty_name=first,
                  codename=f.get("CODENAME", ""), id_like=("suse",))


def parse_alpine_release(text: str) -> Distro | None:
    """``/etc/alpine-release``: the full version, e.g. ``3.19.1``."""
    version = text.strip()
    if not re.fullmatch(r"[0-9][0-9A-Za-z._-]*", version):
        return None
    return Distro(id="alpine", version_id=version, name="Alpine Linux")


def parse_lsb_release(text: str) -> Distro | None:
    """``/etc/lsb-release`` (``DISTRIB_ID``, ``DISTRIB_RELEASE``, ``DISTRIB_CODENAME``)."""
    f = _fields(text)
    distro_id = f.get("DISTRIB_ID", "").strip().lower()
    if not distro_id:
        return None
    return Distro(id=distro_id, version_id=f.get("DISTRIB_RELEASE", ""), name=f.get("DISTRIB_ID", ""),
                  pretty_name=f.get("DISTRIB_DESCRIPTION", ""), codename=f.get("DISTRIB_CODENAME", ""))


def parse_debian_version(text: str) -> Distro | None:
    """``/etc/debian_version``: ``12.4`` on stable, ``trixie/sid`` on testing and unstable."""
    value = text.strip()
    if not value or len(value) > 64 or not re.fullmatch(r"[0-9A-Za-z.~+/_-]+", value):
        return None
    codename = value.split("/")[0] if not value[0].isdigit() else ""
    return Distro(id="debian", version_id=value, name="Debian GNU/Linux", codename=codename)


_PARSERS: dict[str, Callable[[str], Distro | None]] = {
    **{p: parse_os_release for p in OS_RELEASE_FILES},
    **{p: parse_release_line for p in RELEASE_FILES if p not in
       ("/etc/SuSE-release", "/etc/alpine-release", "/etc/lsb-release", "/etc/debian_version")},
    "/etc/SuSE-release": parse_suse_release,
    "/etc/alpine-release": parse_alpine_release,
    "/etc/lsb-release": parse_lsb_release,
    "/etc/debian_version": parse_debian_version,
}


def parse_file(path: str, content: bytes) -> Distro | None:
    """Parse one release file by its path; None for unknown paths and unrecognised content."""
    parser = _PARSERS.get(path)
    if parser is None:
        return None
    return parser(content.decode("utf-8", errors="replace"))


def _rank(path: str) -> int:
    return ALL_FILES.index(path) if path in ALL_FILES else len(ALL_FILES)


def resolve_distro(candidates: Iterable[tuple[str, Distro]]) -> Distro | None:
    """Pick the image's distro from every ``(path, distro)`` surviving in the squashed view.

    Deterministic: the result depends only on the set of candidates, not their order.
    """
    ranked = sorted(candidates, key=lambda c: (_rank(c[0]), c[0]))
    if not ranked:
        return None
    best = ranked[0][1]
    for _, other in ranked[1:]:
        if other.id != best.id:
            continue
        version_id = best.version_id or other.version_id
        if best.id == "alpine" and other.version_id.startswith(best.version_id + "."):
            version_id = other.version_id
        best = replace(best, version_id=version_id, codename=best.codename or other.codename,
                       name=best.name or other.name, pretty_name=best.pretty_name or other.pretty_name)
    return best


def detect(files: Mapping[str, bytes]) -> Distro | None:
    """The distro of a filesystem given as ``{absolute path: content}`` (extra paths are ignored)."""
    found = [(p, d) for p, c in files.items() if (d := parse_file(p, c)) is not None]
    return resolve_distro(found)


class OSReleaseAnalyzer(Analyzer):
    """Reads the os-release and distribution release files; one :class:`Distro` per file.

    The result carries ``facts={"os-file": [path]}``; the inventory calls :func:`resolve_distro`
    with every surviving ``(path, distro)``.
    """

    name = "os/release"
    version = 1
    tags = frozenset({"os"})
    max_size = 64 * 1024

    def path_hint(self) -> EntryHint:
        """The release file paths."""
        return EntryHint(tuple(p.lower() for p in _PARSERS))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Only the known release file paths, as regular files."""
        return path in _PARSERS and info.kind in ("file", "hardlink")

    def analyze(self, file: FileInput) -> AnalysisResult:
        """Parse one release file; unreadable content gives a ``malformed-file`` warning."""
        distro = parse_file(file.path, file.read())
        if distro is None:
            return AnalysisResult(warnings=[ScanWarning(
                code="malformed-file", message=f"{file.path}: no distribution recognised",
                path=file.path, layer=file.layer)])
        return AnalysisResult(distro=distro, facts={"os-file": [file.path]})
