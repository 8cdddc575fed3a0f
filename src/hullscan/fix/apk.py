"""The Alpine fix (apk-tools v2 formats, https://wiki.alpinelinux.org/wiki/Apk_spec):

* repositories: the image's ``/etc/apk/repositories`` (tagged ``@name`` lines skipped) or ``--apk-repository``;
  ``<repo>/<arch>/APKINDEX.tar.gz``;
* signatures: an index and a package start with a gzip stream holding ``.SIGN.RSA.<key>`` (RSA PKCS#1 v1.5 over
  SHA-1) or ``.SIGN.RSA256.<key>`` (SHA-256) signing the *next* gzip stream (the index tar / the package's control
  tar) byte for byte; ``<key>`` is a file name in the image's ``/etc/apk/keys`` or a ``--keyring`` file. Checked with
  the ``cryptography`` library (well-kept; no OpenSSL subprocess);
* packages: the index's ``C:Q1<base64 SHA-1>`` names the control stream's SHA-1 and the control's ``.PKGINFO``
  ``datahash`` the data stream's SHA-256: both are checked, so a package is bound to the signed index;
* ``lib/apk/db/installed``: the package's stanza is replaced by the index fields plus ``F:`` folders, ``R:`` files
  with their ``a:`` owner/mode when not root 0644 and ``Z:Q1`` SHA-1s, as apk writes them.

Scripts (``.pre-install``, ``.post-upgrade``, ``.trigger``...) are not run and not added to ``scripts.tar``: the fix
log lists them as skipped. Dependencies: ``D:`` names (and ``so:``/``cmd:``/``pc:`` virtual names through ``p:``)
must be provided after the upgrade, by installed packages or pulled-in upgrades; an upgrade that takes away a
``so:`` name another installed package needs is refused (a new major version / soname).
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hullscan.fix.errors import (
    BAD_SIGNATURE,
    CHECKSUM_MISMATCH,
    END_OF_LIFE,
    FIXED_VERSION_ABSENT,
    NEEDS_REMOVAL,
    SONAME_CHANGE,
    UNSATISFIABLE,
    FixRefused,
)
from hullscan.fix.imagefs import ImageFiles
from hullscan.fix.layer import LayerEntry, PatchLayer
from hullscan.image.source import ResolvedImage
from hullscan.model import ScanReport
from hullscan.version import compare

if TYPE_CHECKING:
    from hullscan.fix.debian import Patch
    from hullscan.fix.service import FixOptions, FixResult

INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")
APK_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "x86", "ppc64le": "ppc64le", "s390x": "s390x",
            "riscv64": "riscv64"}
SCRIPT_NAMES = (".pre-install", ".post-install", ".pre-upgrade", ".post-upgrade", ".pre-deinstall", ".post-deinstall",
                ".trigger")


def vcmp(a: str, b: str) -> int:
    """apk version comparison."""
    return compare("apk", a, b)


def read_installed(files: ImageFiles) -> tuple[str, bytes] | None:
    """``(path, content)`` of the apk database, or None."""
    for path in INSTALLED:
        data = files.read(path)
        if data is not None:
            return path, data
    return None


# --------------------------------------------------------------------------- stanzas


@dataclass
class ApkStanza:
    """One package of an index or of ``installed``: its header lines (in order) and, for ``installed``, the file
    lines (``F:``, ``M:``, ``R:``, ``a:``, ``Z:``) verbatim."""

    header: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)

    def get(self, key: str) -> str:
        """The first value of ``key``."""
        return next((v for k, v in self.header if k == key), "")

    @property
    def name(self) -> str:
        """``P``."""
        return self.get("P")

    @property
    def version(self) -> str:
        """``V``."""
        return self.get("V")

    def provides(self) -> dict[str, str]:
        """Names this package provides (itself and ``p:``), with their version (may be empty)."""
        out = {self.name: self.version}
        for token in self.get("p").split():
            name, _, ver = token.partition("=")
            out[name] = ver
        return out

    def depends(self) -> list[str]:
        """``D:`` tokens."""
        return self.get("D").split()

    def render(self) -> str:
        """The stanza's lines."""
        return "".join(f"{k}:{v}\n" for k, v in self.header) + "".join(line + "\n" for line in self.body)


_FILE_KEYS = frozenset("FMRaZ")


def parse_stanzas(text: str) -> list[ApkStanza]:
    """Stanzas separated by blank lines; ``F/M/R/a/Z`` lines go to the body."""
    out: list[ApkStanza] = []
    cur = ApkStanza()
    for line in text.splitlines() + [""]:
        if not line.strip():
            if cur.header:
                out.append(cur)
            cur = ApkStanza()
            continue
        if len(line) < 2 or line[1] != ":":
            continue
        if line[0] in _FILE_KEYS:
            cur.body.append(line)
        else:
            cur.header.append((line[0], line[2:]))
    return out


_OP = re.compile(r"(<=|>=|<|>|=|~)")


def dep(token: str) -> tuple[str, str, str]:
    """``name``, operator, version of a ``D:`` token (``!`` conflicts keep their ``!``)."""
    parts = _OP.split(token, maxsplit=1)
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return token, "", ""


def dep_ok(version: str, op: str, want: str) -> bool:
    """Whether ``version`` meets ``op want``."""
    if not op:
        return True
    if not version:
        return False
    if op == "~":
        return version.startswith(want)
    c = vcmp(version, want)
    return {"<": c < 0, "<=": c <= 0, "=": c == 0, ">=": c >= 0, ">": c > 0}[op]


# --------------------------------------------------------------------------- signed streams


def gzip_streams(data: bytes, count: int, what: str) -> list[bytes]:
    """The first ``count - 1`` gzip members of ``data`` (compressed bytes), then the rest as one piece."""
    out: list[bytes] = []
    rest = data
    for _ in range(count - 1):
        d = zlib.decompressobj(31)
        try:
            d.decompress(rest)
        except zlib.error as exc:
            raise FixRefused(CHECKSUM_MISMATCH, f"{what}: corrupt gzip stream ({exc})") from None
        if not d.eof:
            raise FixRefused(CHECKSUM_MISMATCH, f"{what}: truncated gzip stream")
        used = len(rest) - len(d.unused_data)
        out.append(rest[:used])
        rest = rest[used:]
    out.append(rest)
    return out


def tar_members(stream: bytes, what: str) -> dict[str, bytes]:
    """Regular files of a gzip-compressed tar stream (the end-of-archive blocks may be cut, as abuild does)."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(zlib.decompress(stream, 31)), mode="r:") as tar:
            for m in tar:
                if m.isfile():
                    fh = tar.extractfile(m)
                    out[m.name] = fh.read() if fh else b""
    except (tarfile.TarError, zlib.error, EOFError) as exc:
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: unreadable tar stream ({exc})") from None
    return out


def verify_signature(sig_stream: bytes, signed: bytes, keys: dict[str, bytes], what: str) -> None:
    """Check the ``.SIGN.RSA*`` member of ``sig_stream`` over ``signed`` with the key it names."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise FixRefused(BAD_SIGNATURE, "apk signatures need the cryptography package: pip install 'hullscan[fix]'"
                         ) from None

    members = tar_members(sig_stream, what)
    sigs = [(n, s) for n, s in members.items() if n.startswith(".SIGN.RSA")]
    if not sigs:
        raise FixRefused(BAD_SIGNATURE, f"{what}: not signed (no .SIGN.RSA member)")
    problems = []
    for name, sig in sigs:
        algo, _, keyname = name[len(".SIGN."):].partition(".")
        pem = keys.get(keyname)
        if pem is None:
            problems.append(f"signed with key {keyname}, which is not among the trusted apk keys")
            continue
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            problems.append(f"trusted key {keyname} is not a PEM public key")
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            problems.append(f"trusted key {keyname} is not an RSA key")
            continue
        digest = hashes.SHA256() if algo == "RSA256" else hashes.SHA1()
        try:
            key.verify(sig, signed, padding.PKCS1v15(), digest)
            return
        except InvalidSignature:
            problems.append(f"bad signature by key {keyname}")
    raise FixRefused(BAD_SIGNATURE, f"{what}: {'; '.join(problems)}")


# --------------------------------------------------------------------------- index


@dataclass
class ApkIndex:
    """Every repository's packages by name (with the repository URL they came from)."""

    packages: dict[str, list[tuple[ApkStanza, str]]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def newest(self, name: str) -> tuple[ApkStanza, str] | None:
        """The newest version of ``name``."""
        import functools

        cands = self.packages.get(name, [])
        if not cands:
            return None

        def order(a: tuple[ApkStanza, str], b: tuple[ApkStanza, str]) -> int:
            return vcmp(a[0].version, b[0].version)

        return max(cands, key=functools.cmp_to_key(order))

    def providers(self, name: str) -> list[tuple[ApkStanza, str]]:
        """Packages (newest versions) providing ``name``."""
        out = []
        for pname in self.packages:
            best = self.newest(pname)
            if best is not None and name in best[0].provides():
                out.append(best)
        return out


def repositories(files: ImageFiles, options: FixOptions) -> list[str]:
    """``--apk-repository`` or the image's ``/etc/apk/repositories``."""
    if options.apk_repositories:
        return [r.rstrip("/") for r in options.apk_repositories]
    text = (files.read("/etc/apk/repositories") or b"").decode("utf-8", "replace")
    return [ln.strip().rstrip("/") for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("#", "@"))]


def trusted_keys(files: ImageFiles, extra: list[Path]) -> dict[str, bytes]:
    """Key file name -> PEM: the image's ``/etc/apk/keys`` and ``--keyring`` files."""
    keys = {}
    for path in files.under("/etc/apk/keys/"):
        data = files.read(path)
        if data:
            keys[posixpath.basename(path)] = data
    for p in extra:
        try:
            keys[p.name] = p.read_bytes()
        except OSError as exc:
            raise FixRefused(BAD_SIGNATURE, f"key {p}: {exc.strerror}") from None
    return keys


def load_index(repos: list[str], arch: str, keys: dict[str, bytes], client: httpx.Client, release: str) -> ApkIndex:
    """Fetch and verify every repository's ``APKINDEX.tar.gz``."""
    from hullscan.fix.apt import _get

    index = ApkIndex()
    gone = 0
    for repo in repos:
        url = f"{repo}/{arch}/APKINDEX.tar.gz"
        data = _get(client, url, 256 * 1024 * 1024)
        if data is None:
            gone += 1
            index.log.append(f"{repo}: no APKINDEX for {arch} (404)")
            continue
        sig, rest = gzip_streams(data, 2, url)
        verify_signature(sig, rest, keys, url)
        members = tar_members(rest, url)
        text = members.get("APKINDEX", b"").decode("utf-8", "replace")
        stanzas = parse_stanzas(text)
        for st in stanzas:
            if st.name and st.version:
                index.packages.setdefault(st.name, []).append((st, repo))
        index.log.append(f"{repo}: {len(stanzas)} package(s) for {arch}")
    if repos and gone == len(repos):
        raise FixRefused(END_OF_LIFE, f"the package repositories of Alpine {release or '(unknown release)'} are gone "
                                      f"({', '.join(repos)}); give a mirror with --apk-repository")
    return index


# --------------------------------------------------------------------------- planning


class ApkPlanner:
    """Upgrades for vulnerable packages, with the dependencies they need (see the module docstring)."""

    def __init__(self, installed: list[ApkStanza], index: ApkIndex) -> None:
        self.installed = {s.name: s for s in installed}
        self.state = dict(self.installed)
        self.index = index
        self.upgrades: dict[str, tuple[ApkStanza, str]] = {}
        self.why: dict[str, str] = {}

    def _provided(self, name: str, op: str, want: str) -> bool:
        for st in self.state.values():
            prov = st.provides()
            if name in prov and dep_ok(prov[name] if name != st.name else st.version, op, want):
                return True
        return False

    def fix(self, name: str, fixed: str) -> tuple[str, str] | None:
        """Plan ``name``'s upgrade to ``fixed`` or later; ``(reason, message)`` when refused."""
        saved = (dict(self.state), dict(self.upgrades), dict(self.why))
        try:
            best = self.index.newest(name)
            inst = self.installed[name].version
            if best is None or vcmp(best[0].version, fixed) < 0:
                have = f"the newest is {best[0].version}" if best else "it is not in them"
                raise FixRefused(FIXED_VERSION_ABSENT, f"{name}: fixed version {fixed} is not in the repositories "
                                                       f"({have})")
            if vcmp(best[0].version, inst) <= 0:
                return None
            self._add(best, name)
            self._check_installed()
            return None
        except FixRefused as exc:
            self.state, self.upgrades, self.why = saved
            return exc.reason, exc.message

    def _add(self, cand: tuple[ApkStanza, str], why: str) -> None:
        st = cand[0]
        if st.name in self.upgrades:
            return
        self.upgrades[st.name] = cand
        self.why.setdefault(st.name, why)
        self.state[st.name] = st
        for token in st.depends():
            name, op, want = dep(token)
            if name.startswith("!"):
                other = self.state.get(name[1:])
                if other is not None and dep_ok(other.version, op, want):
                    raise FixRefused(NEEDS_REMOVAL, f"{st.name} {st.version} conflicts with installed {other.name} "
                                                    f"{other.version}: the fix would need removing it")
                continue
            if self._provided(name, op, want):
                continue
            for prov in self.index.providers(name):
                pst = prov[0]
                if dep_ok(pst.provides().get(name, "") if name != pst.name else pst.version, op, want):
                    self._add(prov, why)
                    break
            else:
                raise FixRefused(UNSATISFIABLE, f"{st.name} {st.version} depends on {token}, which neither the image "
                                                "nor the repositories provide")

    def _check_installed(self) -> None:
        for st in list(self.state.values()):
            for token in st.depends():
                name, op, want = dep(token)
                if name.startswith("!") or self._provided(name, op, want):
                    continue
                if name.startswith("so:"):
                    raise FixRefused(SONAME_CHANGE, f"installed {st.name} {st.version} needs {name}, which the "
                                                    "upgrade no longer provides (a new major version / soname)")
                raise FixRefused(NEEDS_REMOVAL, f"installed {st.name} {st.version} depends on {token}, which the "
                                                f"upgrade breaks: the fix would need removing {st.name}")


# --------------------------------------------------------------------------- packages and the layer


@dataclass
class ApkFile:
    """A fetched, verified package."""

    info: ApkStanza
    pkginfo: dict[str, str]
    scripts: list[str]
    members: list[tuple[tarfile.TarInfo, bytes]]


def q1(data: bytes) -> str:
    """apk's ``Q1`` + base64 SHA-1."""
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def read_apk(data: bytes, cand: ApkStanza, keys: dict[str, bytes], what: str) -> ApkFile:
    """Split, verify and read a ``.apk`` (signature, control, data streams)."""
    sig, control, body = gzip_streams(data, 3, what)
    if q1(control) != cand.get("C"):
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: the control checksum does not match C:{cand.get('C')} of the "
                                            "signed index")
    verify_signature(sig, control, keys, what)
    members = tar_members(control, what)
    pkginfo: dict[str, str] = {}
    for line in members.get(".PKGINFO", b"").decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(" = ")
        if sep and not key.startswith("#"):
            pkginfo.setdefault(key.strip(), value.strip())
    if pkginfo.get("datahash") != hashlib.sha256(body).hexdigest():
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: the data does not match the datahash of its signed control")
    scripts = sorted(n for n in members if n in SCRIPT_NAMES)
    files: list[tuple[tarfile.TarInfo, bytes]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(zlib.decompress(body, 31)), mode="r:") as tar:
            for m in tar:
                if ".." in m.name.split("/") or m.name.startswith(".SIGN"):
                    continue
                fh = tar.extractfile(m) if m.isfile() else None
                files.append((m, fh.read() if fh else b""))
    except (tarfile.TarError, zlib.error) as exc:
        raise FixRefused(CHECKSUM_MISMATCH, f"{what}: unreadable data ({exc})") from None
    return ApkFile(cand, pkginfo, scripts, files)


def installed_stanza(pkg: ApkFile) -> ApkStanza:
    """The ``installed`` stanza apk writes for ``pkg``: index fields, then folders and files."""
    keep = [(k, v) for k, v in pkg.info.header if k in "CPVASITULomtcDpik"]
    body: list[str] = []
    current = None
    for info, data in pkg.members:
        name = info.name.removeprefix("./").rstrip("/")
        if not name:
            continue
        if info.isdir():
            current = name
            body.append(f"F:{name}")
            if (info.uid, info.gid, info.mode & 0o7777) != (0, 0, 0o755):
                body.append(f"M:{info.uid}:{info.gid}:{info.mode & 0o7777:o}")
            continue
        folder, _, base = name.rpartition("/")
        if folder != current:
            current = folder
            body.append(f"F:{folder}")
        body.append(f"R:{base}")
        if (info.uid, info.gid, info.mode & 0o7777) != (0, 0, 0o644):
            body.append(f"a:{info.uid}:{info.gid}:{info.mode & 0o7777:o}")
        if info.issym():
            body.append(f"Z:{q1(info.linkname.encode())}")
        elif info.isfile():
            body.append(f"Z:{q1(data)}")
    return ApkStanza(keep, body)


def owned_files(st: ApkStanza) -> list[str]:
    """Files (not folders) of an ``installed`` stanza."""
    out, folder = [], ""
    for line in st.body:
        if line.startswith("F:"):
            folder = line[2:]
        elif line.startswith("R:"):
            out.append("/" + (f"{folder}/{line[2:]}" if folder else line[2:]))
    return out


def build_layer(db_path: str, stanzas: list[ApkStanza], pkgs: dict[str, ApkFile], links: dict[str, str]) -> PatchLayer:
    """The patch layer: new files, whiteouts of files the old versions had alone, the new ``installed``."""
    from hullscan.fix.layer import canonical

    layer = PatchLayer()
    upgraded = set(pkgs)
    others = {p for st in stanzas if st.name not in upgraded for p in owned_files(st)}
    mtime = max((int(i.mtime) for p in pkgs.values() for i, _ in p.members), default=0)
    new_db: list[ApkStanza] = []
    for st in stanzas:
        pkg = pkgs.get(st.name)
        if pkg is None:
            new_db.append(st)
            continue
        new = installed_stanza(pkg)
        new_db.append(new)
        new_paths = set(owned_files(new))
        for path in owned_files(st):
            if path not in new_paths and path not in others:
                layer.whiteouts.append(canonical(path, links))
        for info, data in pkg.members:
            path = "/" + info.name.removeprefix("./").rstrip("/")
            if path == "/":
                continue
            real = canonical(path, links)
            if real in links or (info.isdir() and real != path):
                continue
            kind = "dir" if info.isdir() else "symlink" if info.issym() else "hardlink" if info.islnk() else "file"
            link = canonical("/" + info.linkname.lstrip("/"), links) if info.islnk() else info.linkname
            layer.add(LayerEntry(real, kind, data, info.mode, link, int(info.mtime), info.uid, info.gid))
        layer.skipped_scripts += [f"{st.name} {pkg.info.version}: {s}" for s in pkg.scripts]
    text = "".join(s.render() + "\n" for s in new_db)
    layer.add(LayerEntry(db_path, "file", text.encode(), 0o644, mtime=mtime))
    return layer


def patch_alpine(report: ScanReport, base: ResolvedImage, files: ImageFiles, installed: tuple[str, bytes],
                 options: FixOptions, result: FixResult, work: Path) -> Patch:
    """Plan, fetch and build the patch layer of an apk image."""
    from hullscan.fix.debian import Patch, http_client
    from hullscan.fix.layer import root_links
    from hullscan.fix.service import Unfixed, Upgrade, _targets

    db_path, data = installed
    stanzas = parse_stanzas(data.decode("utf-8", "replace"))
    by_name = {s.name: s for s in stanzas}
    targets = _targets(report, "apk")
    for name, (inst, fixed, ids) in sorted(targets.items()):
        if not fixed:
            result.unfixed.append(Unfixed(name, inst, "no-fix-released",
                                          f"{name} {inst}: the vulnerability database has no fixed version", ids))
    fixable = {n: t for n, t in targets.items() if t[1] and n in by_name}
    if not fixable:
        return Patch(b"")
    arch = APK_ARCH.get(base.artifact.platform.architecture, "x86_64")
    keys = trusted_keys(files, list(options.keyrings))
    release = report.os.version_id if report.os else ""
    with http_client(options) as client:
        index = load_index(repositories(files, options), arch, keys, client, release)
        result.repositories = index.log
        planner = ApkPlanner(stanzas, index)
        for name, (inst, fixed, ids) in sorted(fixable.items()):
            refused = planner.fix(name, fixed)
            if refused is not None:
                result.unfixed.append(Unfixed(name, inst, refused[0], refused[1], ids))
        pkgs: dict[str, ApkFile] = {}
        for name, (st, repo) in sorted(planner.upgrades.items()):
            url = f"{repo}/{arch}/{st.name}-{st.version}.apk"
            from hullscan.fix.apt import _get

            blob = _get(client, url, 2 * 1024 * 1024 * 1024)
            if blob is None:
                raise FixRefused(FIXED_VERSION_ABSENT, f"{st.name} {st.version}: {url} not found (404)")
            if st.get("S").isdigit() and len(blob) != int(st.get("S")):
                raise FixRefused(CHECKSUM_MISMATCH, f"{st.name} {st.version}: {url} is not the size the index says")
            pkgs[name] = read_apk(blob, st, keys, url)
    for name, (st, _) in sorted(planner.upgrades.items()):
        old = by_name.get(name)
        result.upgraded.append(Upgrade(name, old.version if old else "", st.version, planner.why.get(name, name)))
    layer = build_layer(db_path, stanzas, pkgs, root_links(files))
    result.skipped_scripts = layer.skipped_scripts
    result.whiteouts = len(layer.whiteouts)
    predicted = set()
    for f in report.findings:
        v = f.vuln
        if v is not None and v.package_name in planner.upgrades:
            new = planner.upgrades[v.package_name][0].version
            if any(vcmp(new, fv) >= 0 for fv in v.fixed_versions):
                predicted.add(f.id)
    return Patch(layer.tar() if pkgs else b"", predicted)
