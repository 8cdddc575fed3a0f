"""Real apt repositories and a real dpkg-installed image for the fix tests.

* two versions of a small C library package (``libhello1``, source ``hello-lib``, with an arch-all
  ``libhello-common``) and a program linked against it (``hello-bin``), compiled with ``gcc`` and packed with
  ``dpkg-deb --build``;
* repositories indexed with ``dpkg-scanpackages`` and ``apt-ftparchive release``, clear-signed into ``InRelease`` by
  ``gpg --batch`` with a throw-away GNUPGHOME;
* an image root filesystem made by the real ``dpkg --root ... -i`` of the old versions, plus the host's C library
  so the program runs.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
MULTIARCH = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True, check=True).stdout.strip()
LIBDIR = f"usr/lib/{MULTIARCH}"

LIB_C = r"""
const char *hello_version(void) { return "libhello %s"; }
"""
PROG_C = r"""
#include <stdio.h>
const char *hello_version(void);
int main(void) { printf("hello from %s\n", hello_version()); return 0; }
"""


def run(cmd: list[str], **kw: object) -> str:
    """Run a command, failing loudly with its output."""
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return str(proc.stdout)


@dataclass
class Pkg:
    """A package to build."""

    name: str
    version: str
    files: dict[str, bytes | tuple[str, str]]  # path -> content, or ("symlink", target)
    depends: str = ""
    source: str = ""
    arch: str = ARCH
    multi_arch: str = ""
    conffiles: tuple[str, ...] = ()
    postinst: str = ""
    extra: str = ""


def build_deb(pkg: Pkg, out: Path, work: Path) -> Path:
    """``dpkg-deb --build`` of ``pkg`` into ``out``."""
    root = work / f"{pkg.name}_{pkg.version}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "DEBIAN").mkdir(parents=True)
    for path, content in pkg.files.items():
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            os.symlink(content[1], dest)
        else:
            dest.write_bytes(content)
            dest.chmod(0o755 if "/bin/" in path or ".so" in path else 0o644)
    control = [f"Package: {pkg.name}", f"Version: {pkg.version}", f"Architecture: {pkg.arch}",
               "Maintainer: Hullscan Tests <tests@hullscan.invalid>", "Installed-Size: 20", "Section: libs",
               "Priority: optional"]
    if pkg.source:
        control.append(f"Source: {pkg.source}")
    if pkg.multi_arch:
        control.append(f"Multi-Arch: {pkg.multi_arch}")
    if pkg.depends:
        control.append(f"Depends: {pkg.depends}")
    if pkg.extra:
        control.append(pkg.extra)
    control += [f"Description: {pkg.name} for the hullscan fix tests", " A small package built by the tests.",
                " .", " Second paragraph.", "Homepage: https://hullscan.invalid/"]
    (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    if pkg.conffiles:
        (root / "DEBIAN" / "conffiles").write_text("".join(c + "\n" for c in pkg.conffiles))
    if pkg.postinst:
        (root / "DEBIAN" / "postinst").write_text(pkg.postinst)
        (root / "DEBIAN" / "postinst").chmod(0o755)
    import hashlib

    sums = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and "DEBIAN" not in p.parts:
            sums.append(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.relative_to(root)}\n")
    (root / "DEBIAN" / "md5sums").write_text("".join(sums))
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"{pkg.name}_{pkg.version}_{pkg.arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    return deb


@functools.cache
def compiled(work: Path, version: str) -> tuple[bytes, bytes]:
    """``(libhello.so.1.0.0, hello)`` built with gcc for ``version``."""
    d = work / f"cc-{version}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "lib.c").write_text(LIB_C % version)
    (d / "prog.c").write_text(PROG_C)
    run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libhello.so.1", "-o", str(d / "libhello.so.1.0.0"), str(d / "lib.c")])
    (d / "libhello.so").unlink(missing_ok=True)
    os.symlink("libhello.so.1.0.0", d / "libhello.so")
    run(["gcc", "-o", str(d / "hello"), str(d / "prog.c"), f"-L{d}", "-lhello"])
    return (d / "libhello.so.1.0.0").read_bytes(), (d / "hello").read_bytes()


def packages(work: Path, version: str, *, lib_depends: str = "", postinst: bool = False,
             only_in_old: bool = False, extra: str = "") -> list[Pkg]:
    """libhello1, libhello-common (and hello-bin for the first version) at ``version``."""
    lib, prog = compiled(work, version)
    lib_files: dict[str, bytes | tuple[str, str]] = {
        f"{LIBDIR}/libhello.so.1.0.0": lib,
        f"{LIBDIR}/libhello.so.1": ("symlink", "libhello.so.1.0.0"),
        "/usr/share/doc/libhello1/changelog": f"hello-lib {version}\n".encode(),
        "/etc/hello.conf": b"# hello configuration\ngreeting=hello\n",
    }
    if only_in_old:
        lib_files["/usr/share/libhello1/removed-later.txt"] = b"only in the old version\n"
    else:
        lib_files["/usr/share/libhello1/added-later.txt"] = f"new in {version}\n".encode()
    deps = f"libhello-common (>= {version}), libc6 | libc6-fake"
    if lib_depends:
        deps += ", " + lib_depends
    out = [
        Pkg("libhello1", version, lib_files, deps, "hello-lib", multi_arch="same", conffiles=("/etc/hello.conf",),
            postinst="#!/bin/sh\nexit 0\n" if postinst else "", extra=extra),
        Pkg("libhello-common", version, {"/usr/share/hello/data.txt": f"data {version}\n".encode()},
            source="hello-data", arch="all", multi_arch="foreign"),
    ]
    if only_in_old:
        out.append(Pkg("hello-bin", "1.0-1", {"/usr/bin/hello": prog}, "libhello1 (>= 1.0-1)"))
    return out


@dataclass
class Signer:
    """A throw-away OpenPGP key (gpg --batch, its own GNUPGHOME)."""

    home: Path
    email: str

    @classmethod
    def make(cls, home: Path, email: str) -> Signer:
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        run(["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", "",
             "--quick-generate-key", f"Hullscan Test <{email}>", "ed25519", "sign", "never"])
        return cls(home, email)

    def public_key(self) -> bytes:
        """The binary public key (what goes in /etc/apt/trusted.gpg.d/*.gpg)."""
        return subprocess.run(["gpg", "--batch", "--homedir", str(self.home), "--export", self.email],
                              capture_output=True, check=True).stdout

    def clearsign(self, src: Path, dest: Path) -> None:
        """``gpg --clearsign``."""
        run(["gpg", "--batch", "--yes", "--homedir", str(self.home), "--pinentry-mode", "loopback", "--passphrase",
             "", "--local-user", self.email, "--clearsign", "-o", str(dest), str(src)])


def make_repo(root: Path, debs: list[Path], signer: Signer, suite: str = "stable") -> Path:
    """An apt repository at ``root`` with ``debs`` in ``main``: pool, Packages(.gz), Release, InRelease."""
    pool = root / "pool" / "main"
    pool.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        shutil.copy(deb, pool / deb.name)
    for arch in (ARCH, "all"):
        bdir = root / "dists" / suite / "main" / f"binary-{arch}"
        bdir.mkdir(parents=True, exist_ok=True)
        text = run(["dpkg-scanpackages", "--multiversion", "--arch", arch, "pool/main"], cwd=root)
        (bdir / "Packages").write_text(text)
        (bdir / "Packages.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    dist = root / "dists" / suite
    release = run(["apt-ftparchive", "-o", f"APT::FTPArchive::Release::Suite={suite}",
                   "-o", f"APT::FTPArchive::Release::Codename={suite}", "-o", "APT::FTPArchive::Release::Components=main",
                   "-o", f"APT::FTPArchive::Release::Architectures={ARCH} all", "release", "."], cwd=dist)
    (dist / "Release").write_text(release)
    signer.clearsign(dist / "Release", dist / "InRelease")
    return root


class RepoServer:
    """A static HTTP server on 127.0.0.1 over a folder of repositories."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Shut down."""
        self.httpd.shutdown()
        self.httpd.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def dpkg_install(root: Path, debs: list[Path], *extra: str) -> None:
    """The real ``dpkg --root ROOT -i`` (a fresh database when there is none)."""
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    for f in ("status", "available"):
        (admin / f).touch()
    env = {**os.environ, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    run(["dpkg", "--root", str(root), "--log=/dev/null", "--force-script-chrootless", "--force-not-root",
         "--force-confold", *extra, "-i", *map(str, debs)], env=env)


def libc_package() -> Pkg:
    """A ``libc6`` package holding the host's C library and dynamic loader (below /usr: the image links /lib and
    /lib64 to usr/lib and usr/lib64, as merged-/usr Debian does)."""
    files: dict[str, bytes | tuple[str, str]] = {}
    for line in run(["ldd", "/bin/true"]).splitlines():
        path = next((p for p in line.split() if p.startswith("/")), None)
        if path is None:
            continue
        real = Path(path).resolve()
        dest = "/usr" + path if not path.startswith("/usr/") else path
        files[dest] = real.read_bytes()
    return Pkg("libc6", "2.36-9+hullscan1", files, source="glibc", multi_arch="same")


def merged_usr(root: Path) -> None:
    """``/lib``, ``/lib64``, ``/bin`` and ``/sbin`` as links into /usr."""
    for name in ("lib", "lib64", "bin", "sbin"):
        (root / "usr" / name).mkdir(parents=True, exist_ok=True)
        if not (root / name).is_symlink():
            os.symlink(f"usr/{name}", root / name)
