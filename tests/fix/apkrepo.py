"""apk repositories built by the tests: packages in the apk v2 format (signature, control and data gzip streams;
``.PKGINFO`` with ``datahash``), a signed ``APKINDEX.tar.gz``, keys made and signatures computed with ``openssl``
as abuild-sign does (``.SIGN.RSA.<key>.rsa.pub``, RSA over SHA-1 of the next gzip stream). apk-tools itself is not
packaged for Debian, so the image's ``installed`` database is written here in apk's format."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


def _cut_tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A tar without its end-of-archive blocks (abuild concatenates such tars)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
        end = tar.offset
    return buf.getvalue()[:end]


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1_700_000_000
    return info, data


def _dir(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
    return info, b""


def q1(data: bytes) -> str:
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


@dataclass
class Key:
    """An RSA key pair made with openssl; ``name`` is the public key's file name (``<x>.rsa.pub``)."""

    private: Path
    public: Path

    @property
    def name(self) -> str:
        return self.public.name

    @classmethod
    def make(cls, folder: Path, name: str) -> Key:
        folder.mkdir(parents=True, exist_ok=True)
        priv, pub = folder / f"{name}.rsa", folder / f"{name}.rsa.pub"
        subprocess.run(["openssl", "genrsa", "-out", str(priv), "2048"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(priv), "-pubout", "-out", str(pub)], check=True,
                       capture_output=True)
        return cls(priv, pub)

    def sign_stream(self, signed: bytes, folder: Path) -> bytes:
        """The gzip signature stream over ``signed`` (``openssl dgst -sha1 -sign``)."""
        src = folder / "to-sign"
        src.write_bytes(signed)
        sig = subprocess.run(["openssl", "dgst", "-sha1", "-sign", str(self.private), str(src)], check=True,
                             capture_output=True).stdout
        return _gz(_cut_tar([_file(f".SIGN.RSA.{self.name}", sig)]))


@dataclass
class Apk:
    name: str
    version: str
    files: dict[str, bytes]
    origin: str = ""
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    post_install: str = ""


def build_apk(pkg: Apk, key: Key, folder: Path) -> tuple[bytes, str]:
    """``(the .apk, its APKINDEX stanza)``."""
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    dirs: set[str] = set()
    for path in sorted(pkg.files):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                members.append(_dir(d))
        members.append(_file(path.strip("/"), pkg.files[path], 0o755 if "/bin/" in path else 0o644))
    data_gz = _gz(_cut_tar(members) + b"\0" * 1024)
    size = sum(len(v) for v in pkg.files.values())
    info = [f"pkgname = {pkg.name}", f"pkgver = {pkg.version}", f"pkgdesc = {pkg.name} for tests",
            "url = https://hullscan.invalid/", "builddate = 1700000000", "arch = x86_64", f"size = {size}",
            "license = MIT", f"origin = {pkg.origin or pkg.name}", "maintainer = Tests <t@hullscan.invalid>"]
    info += [f"depend = {d}" for d in pkg.depends] + [f"provides = {p}" for p in pkg.provides]
    info.append(f"datahash = {hashlib.sha256(data_gz).hexdigest()}")
    control = [_file(".PKGINFO", ("\n".join(info) + "\n").encode())]
    if pkg.post_install:
        control.append(_file(".post-install", pkg.post_install.encode(), 0o755))
    control_gz = _gz(_cut_tar(control))
    apk = key.sign_stream(control_gz, folder) + control_gz + data_gz
    stanza = [f"C:{q1(control_gz)}", f"P:{pkg.name}", f"V:{pkg.version}", "A:x86_64", f"S:{len(apk)}", f"I:{size}",
              f"T:{pkg.name} for tests", "U:https://hullscan.invalid/", "L:MIT", f"o:{pkg.origin or pkg.name}",
              "m:Tests <t@hullscan.invalid>", "t:1700000000"]
    if pkg.depends:
        stanza.append("D:" + " ".join(pkg.depends))
    if pkg.provides:
        stanza.append("p:" + " ".join(pkg.provides))
    return apk, "\n".join(stanza) + "\n"


def make_repo(root: Path, pkgs: list[Apk], key: Key, index_key: Key | None = None,
              tamper: str = "") -> Path:
    """``root/x86_64/{APKINDEX.tar.gz, <name>-<version>.apk}``; ``tamper`` names a package whose .apk is changed
    after indexing."""
    arch = root / "x86_64"
    arch.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for pkg in pkgs:
        apk, stanza = build_apk(pkg, key, root)
        if tamper == pkg.name:
            apk = apk[:-40] + bytes(b ^ 0xFF for b in apk[-40:])
        (arch / f"{pkg.name}-{pkg.version}.apk").write_bytes(apk)
        stanzas.append(stanza)
    index = _gz(_cut_tar([_file("DESCRIPTION", b"hullscan test repository"),
                          _file("APKINDEX", "\n".join(stanzas).encode() + b"\n")]) + b"\0" * 1024)
    (arch / "APKINDEX.tar.gz").write_bytes((index_key or key).sign_stream(index, root) + index)
    return root


def installed_db(pkgs: list[Apk]) -> str:
    """``lib/apk/db/installed`` for ``pkgs`` as apk writes it (index fields, F:/R:/Z: lines)."""
    out = []
    for pkg in pkgs:
        lines = [f"P:{pkg.name}", f"V:{pkg.version}", "A:x86_64", f"o:{pkg.origin or pkg.name}", "L:MIT"]
        if pkg.depends:
            lines.append("D:" + " ".join(pkg.depends))
        if pkg.provides:
            lines.append("p:" + " ".join(pkg.provides))
        folder = None
        for path in sorted(pkg.files):
            d, _, base = path.strip("/").rpartition("/")
            if d != folder:
                lines.append(f"F:{d}")
                folder = d
            lines += [f"R:{base}", f"Z:{q1(pkg.files[path])}"]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out) + "\n"
