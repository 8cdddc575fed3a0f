"""A clean Debian base layer built from this (Debian) machine's real installed files: the packages of
priority ``required`` and everything they depend on, as ``dpkg -L`` lists them, plus their dpkg database
entries, the base accounts (``/etc/passwd``, ``/etc/group``, ``/etc/shadow`` with locked ``*`` hashes) and
``/etc/os-release``. No network is needed (``mmdebstrap`` would need the Debian mirror).

With ``merged_usr=True`` the layer has Debian 12's merged-/usr layout: ``/bin``, ``/sbin``, ``/lib*`` are
symlinks into ``/usr`` and every file sits at its real place (``/usr/bin/mount``), while the dpkg file lists,
copied as they are, still name ``/bin/mount``."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

#: base accounts of Debian's base-passwd (every one locked with "*" in a fresh image)
BASE_ACCOUNTS = ("root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
                 "www-data", "backup", "list", "irc", "_apt", "nobody")


def _query(fmt: str, *pkgs: str) -> str:
    return subprocess.run(["dpkg-query", "-W", "-f", fmt, *pkgs], capture_output=True, text=True, check=False).stdout


def base_packages() -> list[str]:
    """The required-priority packages and their dependency closure, as installed here."""
    installed = {}
    for line in _query("${Package}\t${Priority}\t${Pre-Depends}, ${Depends}\n").splitlines():
        name, prio, deps = line.split("\t")
        installed[name] = (prio, [re.split(r"[\s:(]", d.strip())[0] for alt in deps.split(",") for d in alt.split("|")[:1] if d.strip()])
    todo = [p for p, (prio, _) in installed.items() if prio == "required"]
    seen: set[str] = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen or pkg not in installed:
            continue
        seen.add(pkg)
        todo.extend(installed[pkg][1])
    return sorted(seen)


def _status_stanzas(pkgs: set[str]) -> bytes:
    text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8")
    keep = [s for s in text.split("\n\n") if (m := re.search(r"^Package: (\S+)", s, re.MULTILINE)) and m.group(1) in pkgs]
    return ("\n\n".join(keep).strip() + "\n").encode()


def _accounts(path: str, shadow: bool = False) -> bytes:
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        name = line.split(":", 1)[0]
        if name in BASE_ACCOUNTS:
            if shadow:
                fields = line.split(":")
                fields[1] = "*"
                line = ":".join(fields)
            lines.append(line)
    return ("\n".join(lines) + "\n").encode()


#: the top-level directories that are symlinks into /usr on a merged-/usr system
MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def _merged_place(path: str) -> str:
    """Where ``path`` (as dpkg lists it) lives on a merged-/usr system, as a tar member name."""
    top, _, rest = path.lstrip("/").partition("/")
    if top in MERGED and rest:
        return f"usr/{top}/{rest}"
    return path.lstrip("/")


def build_layer_tar(merged_usr: bool = False) -> tuple[bytes, list[str]]:
    """(uncompressed tar of the clean base, the package names in it)."""
    pkgs = base_packages()
    files: set[str] = set()
    for pkg in pkgs:
        for line in subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("/") and not line.startswith("/usr/share/doc/") or line.endswith("/copyright"):
                files.add(line)
        for ext in ("list", "md5sums", "conffiles"):
            for arch in ("", ":amd64"):
                p = f"/var/lib/dpkg/info/{pkg}{arch}.{ext}"
                if os.path.exists(p):
                    files.add(p)
    generated = {
        "var/lib/dpkg/status": _status_stanzas(set(pkgs)),
        "etc/passwd": _accounts("/etc/passwd"),
        "etc/group": _accounts("/etc/group"),
        "etc/shadow": _accounts("/etc/shadow", shadow=True),
    }
    buf = io.BytesIO()
    added: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if merged_usr:
            for top in MERGED:
                if os.path.isdir(f"/usr/{top}"):
                    info = tarfile.TarInfo(f"usr/{top}")
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    link = tarfile.TarInfo(top)
                    link.type, link.linkname, link.mode = tarfile.SYMTYPE, f"usr/{top}", 0o777
                    tar.addfile(link)
                    added.update({f"usr/{top}", top})
        for path in sorted(files, key=_merged_place if merged_usr else None):
            arc = _merged_place(path) if merged_usr else path.lstrip("/")
            if arc in generated or arc in added or not os.path.lexists(path):
                continue
            added.add(arc)
            info = tar.gettarinfo(path, arcname=arc)
            if info.issym() and os.path.isdir(path) and not merged_usr:
                info.type, info.linkname, info.mode = tarfile.DIRTYPE, "", 0o755  # the classic layout: real /bin
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            elif info.isdir() or info.issym():
                tar.addfile(info)
        for arc, data in generated.items():
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            info.mode = 0o640 if arc == "etc/shadow" else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), pkgs
