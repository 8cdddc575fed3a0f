"""apt repositories: sources, signed release files, package indexes.

* sources: one-line ``sources.list`` entries (``deb [opt=val ...] URI SUITE [COMPONENT...]``) and deb822
  ``.sources`` files (``Types``, ``URIs``, ``Suites``, ``Components``, ``Signed-By``, ``Enabled``), read from the
  image or given by the user; without any, the distribution's public mirrors for the release;
* ``InRelease`` (clear-signed) or ``Release`` + ``Release.gpg`` (detached) checked with ``gpgv`` against the image's
  own keyrings (``/etc/apt/trusted.gpg``, ``/etc/apt/trusted.gpg.d/``, ``/usr/share/keyrings/``, a source's
  ``Signed-By``) plus the ones the user gives. Signature checking runs Debian's ``gpgv`` as a subprocess: an OpenPGP
  implementation is not something to write by hand, and ``gpgv`` is what apt itself runs. Only the text ``gpgv``
  prints as signed is used (``--output``), never the bytes as fetched;
* ``Packages`` indexes (``.xz``, ``.gz`` or plain) fetched, their size and SHA256 checked against the signed
  ``Release``, parsed into candidates; ``.deb`` files checked against the index's ``Size`` and ``SHA256``.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hullscan.fix import deb822
from hullscan.fix.errors import BAD_SIGNATURE, CHECKSUM_MISMATCH, END_OF_LIFE, REPOSITORY_UNAVAILABLE, FixRefused
from hullscan.fix.imagefs import ImageFiles

#: Debian and Ubuntu public mirrors per release (used when the image names no source and the user gives none)
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"
UBUNTU_MIRROR = "http://archive.ubuntu.com/ubuntu"
UBUNTU_PORTS = "http://ports.ubuntu.com/ubuntu-ports"
#: dpkg architecture names of OCI architectures
DEB_ARCH = {"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el", "s390x": "s390x",
            "riscv64": "riscv64", "mips64le": "mips64el"}
MAX_INDEX = 512 * 1024 * 1024
MAX_DEB = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` line: where, which suite, which components, which keyrings (empty: the default set)."""

    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: tuple[str, ...] = ()
    #: an inline key block given in a deb822 ``Signed-By`` field (armored)
    inline_key: str = ""
    archs: tuple[str, ...] = ()

    def line(self) -> str:
        """The one-line form."""
        return " ".join(["deb", self.uri, self.suite, *self.components])


def parse_one_line(text: str, where: str = "") -> list[AptSource]:
    """``deb`` entries of a ``sources.list`` file (``deb-src`` and comments skipped)."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "deb-src":
            continue
        if words[0] != "deb":
            raise ValueError(f"{where or 'apt source'} line {n}: expected 'deb URI SUITE [COMPONENT...]', got {raw!r}")
        words = words[1:]
        opts: dict[str, str] = {}
        if words and words[0].startswith("["):
            joined = " ".join(words)
            inside, _, rest = joined[1:].partition("]")
            for opt in inside.split():
                k, _, v = opt.partition("=")
                opts[k] = v
            words = rest.split()
        if len(words) < 2:
            raise ValueError(f"{where or 'apt source'} line {n}: expected 'deb URI SUITE [COMPONENT...]', got {raw!r}")
        uri, suite, comps = words[0], words[1], tuple(words[2:])
        signed = tuple(p for p in opts.get("signed-by", "").split(",") if p)
        archs = tuple(a for a in opts.get("arch", "").split(",") if a)
        out.append(AptSource(uri.rstrip("/"), suite, comps, signed, "", archs))
    return out


def parse_deb822_sources(text: str, where: str = "") -> list[AptSource]:
    """``Types: deb`` entries of a ``.sources`` file (``Enabled: no`` skipped)."""
    stanzas = deb822.parse(text)
    out = []
    for st in stanzas:
        if "deb" not in st.get("Types").split() or st.get("Enabled", "yes").lower() == "no":
            continue
        signed = st.get("Signed-By").strip()
        # an inline key block: continuation lines, with " ." for its empty lines (deb822)
        inline = "\n".join("" if ln.strip() == "." else ln.strip() for ln in signed.splitlines()) \
            if "BEGIN PGP PUBLIC KEY BLOCK" in signed else ""
        paths = () if inline else tuple(signed.split())
        archs = tuple(st.get("Architectures").split())
        for uri in st.get("URIs").split():
            for suite in st.get("Suites").split():
                out.append(AptSource(uri.rstrip("/"), suite, tuple(st.get("Components").split()), paths, inline, archs))
    return out


def image_sources(files: ImageFiles) -> list[AptSource]:
    """The image's own apt sources."""
    out: list[AptSource] = []
    main = files.read("/etc/apt/sources.list")
    if main:
        out += parse_one_line(main.decode("utf-8", "replace"), "/etc/apt/sources.list")
    for path in files.under("/etc/apt/sources.list.d/"):
        data = files.read(path)
        if data is None:
            continue
        if path.endswith(".list"):
            out += parse_one_line(data.decode("utf-8", "replace"), path)
        elif path.endswith(".sources"):
            out += parse_deb822_sources(data.decode("utf-8", "replace"), path)
    return out


def mirror_sources(distro_id: str, codename: str, deb_arch: str) -> list[AptSource]:
    """The distribution's public mirrors for ``codename``."""
    if not codename:
        return []
    if distro_id == "ubuntu":
        base = UBUNTU_MIRROR if deb_arch in ("amd64", "i386") else UBUNTU_PORTS
        ubuntu = ("main", "restricted", "universe", "multiverse")
        return [AptSource(base, s, ubuntu) for s in (codename, f"{codename}-updates", f"{codename}-security")]
    comps = ("main",)
    return [AptSource(DEBIAN_MIRROR, codename, comps), AptSource(DEBIAN_MIRROR, f"{codename}-updates", comps),
            AptSource(DEBIAN_SECURITY, f"{codename}-security", comps)]


# --------------------------------------------------------------------------- keyrings


def dearmor(text: str) -> bytes:
    """The binary packets of an ASCII-armored OpenPGP block (RFC 4880 §6.2: headers, blank line, base64, CRC)."""
    lines = text.strip().splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("-----BEGIN PGP"))
        end = next(i for i, ln in enumerate(lines) if ln.startswith("-----END PGP"))
    except StopIteration:
        raise ValueError("not an ASCII-armored OpenPGP block") from None
    body = lines[start + 1:end]
    while body and body[0].strip() and ":" in body[0]:
        body = body[1:]  # armor headers
    b64 = "".join(ln.strip() for ln in body if ln.strip() and not ln.startswith("="))
    return base64.b64decode(b64)


@dataclass
class Keyrings:
    """The keyrings gpgv is given, written to a private folder."""

    folder: Path
    default: list[Path] = field(default_factory=list)
    by_image_path: dict[str, Path] = field(default_factory=dict)
    extra: list[Path] = field(default_factory=list)

    def add(self, name: str, data: bytes) -> Path:
        """Write a keyring (binary or armored) and return its path."""
        if data.lstrip().startswith(b"-----BEGIN PGP"):
            data = dearmor(data.decode("ascii", "replace"))
        path = self.folder / f"{len(list(self.folder.iterdir()))}-{Path(name).name}.gpg"
        path.write_bytes(data)
        return path

    def for_source(self, src: AptSource) -> list[Path]:
        """A source's ``Signed-By`` keyrings (when it names them) else the default set; the user's always."""
        chosen: list[Path] = []
        if src.inline_key:
            chosen.append(self.add("inline", dearmor(src.inline_key)))
        for p in src.signed_by:
            if p in self.by_image_path:
                chosen.append(self.by_image_path[p])
        if not src.signed_by and not src.inline_key:
            chosen = list(self.default)
        return chosen + list(self.extra)


def image_keyrings(files: ImageFiles, folder: Path, extra: list[Path]) -> Keyrings:
    """The image's keyrings (trusted.gpg, trusted.gpg.d, /usr/share/keyrings) plus ``extra``."""
    rings = Keyrings(folder)
    candidates = ["/etc/apt/trusted.gpg", *files.under("/etc/apt/trusted.gpg.d/"), *files.under("/usr/share/keyrings/"),
                  *files.under("/etc/apt/keyrings/")]
    for path in candidates:
        if not path.endswith((".gpg", ".asc")):
            continue
        data = files.read(path)
        if not data:
            continue
        try:
            written = rings.add(path, data)
        except ValueError:
            continue
        rings.by_image_path[path] = written
        if path == "/etc/apt/trusted.gpg" or path.startswith("/etc/apt/trusted.gpg.d/"):
            rings.default.append(written)
    for p in extra:
        try:
            rings.extra.append(rings.add(p.name, p.read_bytes()))
        except OSError as exc:
            raise FixRefused(BAD_SIGNATURE, f"keyring {p}: {exc.strerror}") from None
    if not rings.default:
        # images without trusted.gpg.d (distroless, slim) still carry the archive keyring here
        rings.default = [v for k, v in rings.by_image_path.items() if "archive-keyring" in k]
    return rings


def gpgv_verify(keyrings: list[Path], signed: bytes, detached: bytes | None, what: str, home: Path) -> bytes:
    """The signed content of a clear-signed ``signed`` (or ``signed`` itself, checked against ``detached``), as
    ``gpgv`` (a subprocess: see the module docstring) vouches for it. FixRefused(bad-signature) otherwise."""
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise FixRefused(BAD_SIGNATURE, "gpgv is not installed: release signatures cannot be checked")
    if not keyrings:
        raise FixRefused(BAD_SIGNATURE, f"{what}: no keyring to check the signature with (give --keyring)")
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        cmd = [gpgv, "--homedir", tmp, "--status-fd", "1"]
        for ring in keyrings:
            cmd += ["--keyring", str(ring.resolve())]
        out = Path(tmp) / "signed"
        if detached is None:
            inp = Path(tmp) / "InRelease"
            inp.write_bytes(signed)
            cmd += ["--output", str(out), str(inp)]
        else:
            sig, data = Path(tmp) / "Release.gpg", Path(tmp) / "Release"
            sig.write_bytes(detached)
            data.write_bytes(signed)
            cmd += [str(sig), str(data)]
        proc = subprocess.run(cmd, check=False, capture_output=True, timeout=120, env={**os.environ, "LC_ALL": "C"})
        status = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0 or "VALIDSIG" not in status:
            raise FixRefused(BAD_SIGNATURE, f"{what}: signature check failed ({_gpg_problem(status, proc.stderr)})")
        return out.read_bytes() if detached is None else signed


def _gpg_problem(status: str, stderr: bytes) -> str:
    """gpgv's status lines (``--status-fd``) in words."""
    words = {"NO_PUBKEY": "signed by key {}, which is not in the trusted keyrings", "BADSIG": "bad signature by key {}",
             "EXPKEYSIG": "signed by expired key {}", "REVKEYSIG": "signed by revoked key {}",
             "NODATA": "no signature found"}
    found: dict[str, str] = {}
    for line in status.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "[GNUPG:]" and parts[1] in words:
            found.setdefault(parts[1], parts[2] if len(parts) > 2 else "")
    for key, text in words.items():
        if key in found:
            return text.format(found[key])
    tail = stderr.decode("utf-8", "replace").strip().splitlines()
    return tail[-1] if tail else "no valid signature"


# --------------------------------------------------------------------------- fetching


@dataclass
class Candidate:
    """One package of an index."""

    stanza: deb822.Stanza
    source: AptSource

    @property
    def name(self) -> str:
        """``Package``."""
        return self.stanza.get("Package")

    @property
    def version(self) -> str:
        """``Version``."""
        return self.stanza.get("Version")

    @property
    def arch(self) -> str:
        """``Architecture``."""
        return self.stanza.get("Architecture")

    @property
    def source_name(self) -> str:
        """The source package's name."""
        return (self.stanza.get("Source") or self.name).split()[0]

    @property
    def source_version(self) -> str:
        """The source package's version (``Source: x (v)``, else the binary version)."""
        src = self.stanza.get("Source")
        if "(" in src:
            return src.split("(", 1)[1].rstrip(") ")
        return self.version


@dataclass
class RepoIndex:
    """The candidates of every source, by package name."""

    packages: dict[str, list[Candidate]] = field(default_factory=dict)
    #: one line per source: what was read (or why not)
    log: list[str] = field(default_factory=list)


def _get(client: httpx.Client, url: str, limit: int) -> bytes | None:
    """The body of ``url``; None on 404/410; FixRefused(repository-unavailable) on other failures."""
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code in (404, 410):
                return None
            if resp.status_code >= 400:
                raise FixRefused(REPOSITORY_UNAVAILABLE, f"{url}: {resp.status_code} {resp.reason_phrase}")
            chunks, total = [], 0
            for chunk in resp.iter_bytes(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise FixRefused(REPOSITORY_UNAVAILABLE, f"{url}: larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise FixRefused(REPOSITORY_UNAVAILABLE, f"{url}: {exc.__class__.__name__}: {exc}") from None


def _decompress(name: str, data: bytes) -> bytes:
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".bz2"):
        return bz2.decompress(data)
    return data


def release_hashes(release: deb822.Stanza) -> dict[str, tuple[str, int]]:
    """``path -> (sha256, size)`` of a Release file's ``SHA256`` field."""
    out: dict[str, tuple[str, int]] = {}
    for line in release.get("SHA256").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            out[parts[2]] = (parts[0].lower(), int(parts[1]))
    return out


def load_indexes(sources: list[AptSource], keyrings: Keyrings, arch: str, client: httpx.Client, home: Path,
                 codename: str = "") -> RepoIndex:
    """Fetch, verify and parse the ``Packages`` of every source for ``arch`` (and ``all``)."""
    index = RepoIndex()
    gone = 0
    for src in sources:
        base = f"{src.uri}/dists/{src.suite}"
        what = f"{src.uri} {src.suite}"
        inrelease = _get(client, f"{base}/InRelease", 16 * 1024 * 1024)
        if inrelease is not None:
            text = gpgv_verify(keyrings.for_source(src), inrelease, None, f"{what} InRelease", home)
        else:
            release = _get(client, f"{base}/Release", 16 * 1024 * 1024)
            if release is None:
                gone += 1
                index.log.append(f"{what}: no InRelease or Release (404)")
                continue
            sig = _get(client, f"{base}/Release.gpg", 1024 * 1024)
            if sig is None:
                raise FixRefused(BAD_SIGNATURE, f"{what}: Release is not signed (no InRelease, no Release.gpg)")
            text = gpgv_verify(keyrings.for_source(src), release, sig, f"{what} Release", home)
        try:
            stanzas = deb822.parse(text.decode("utf-8", "replace"))
        except ValueError as exc:
            raise FixRefused(BAD_SIGNATURE, f"{what}: malformed Release ({exc})") from None
        if not stanzas:
            raise FixRefused(BAD_SIGNATURE, f"{what}: empty Release")
        hashes = release_hashes(stanzas[0])
        comps = src.components or tuple(stanzas[0].get("Components").split()) or ("main",)
        count = 0
        for comp in comps:
            for a in (arch, "all"):
                rel = next((f"{comp}/binary-{a}/Packages{ext}" for ext in (".xz", ".gz", "", ".bz2")
                            if f"{comp}/binary-{a}/Packages{ext}" in hashes), None)
                if rel is None:
                    continue
                digest, size = hashes[rel]
                data = _get(client, f"{base}/{rel}", MAX_INDEX)
                if data is None:
                    raise FixRefused(REPOSITORY_UNAVAILABLE, f"{what}: {rel} is listed in Release but missing (404)")
                if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                    raise FixRefused(CHECKSUM_MISMATCH, f"{what}: {rel} does not match the size and SHA256 in Release")
                try:
                    plain = _decompress(rel, data)
                    entries = deb822.parse(plain.decode("utf-8", "replace"))
                except (ValueError, OSError, EOFError, lzma.LZMAError) as exc:
                    raise FixRefused(CHECKSUM_MISMATCH, f"{what}: {rel} cannot be read ({exc})") from None
                for st in entries:
                    if st.get("Package") and st.get("Version") and st.get("Filename"):
                        index.packages.setdefault(st.get("Package"), []).append(Candidate(st, src))
                        count += 1
        index.log.append(f"{what}: {count} package(s) for {arch}")
    if sources and gone == len(sources):
        raise FixRefused(END_OF_LIFE, f"the package repositories of {codename or 'this release'} are gone "
                                      f"(no Release at {', '.join(s.uri + ' ' + s.suite for s in sources)}); "
                                      "give a mirror with --apt-source")
    return index


def fetch_deb(client: httpx.Client, cand: Candidate) -> bytes:
    """The ``.deb`` of ``cand``, checked against the index's Size and SHA256 (FixRefused otherwise)."""
    url = f"{cand.source.uri}/{cand.stanza.get('Filename')}"
    what = f"{cand.name} {cand.version}"
    want = cand.stanza.get("SHA256").lower()
    if not want:
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: the index gives no SHA256 for {url}")
    data = _get(client, url, MAX_DEB)
    if data is None:
        raise FixRefused(REPOSITORY_UNAVAILABLE, f"{what}: {url} not found (404)")
    size = cand.stanza.get("Size")
    if (size.isdigit() and len(data) != int(size)) or hashlib.sha256(data).hexdigest() != want:
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: {url} does not match the Size/SHA256 of the signed index")
    return data
