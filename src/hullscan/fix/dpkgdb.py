"""The dpkg database after an upgrade, as dpkg leaves it (deb-status(5), dpkg's ``lib/dpkg/dump.c``):

* ``/var/lib/dpkg/status``: the package's stanza replaced by the new control fields with
  ``Status: install ok installed`` and ``Conffiles`` (each conffile with the MD5 of the version the new package
  ships; a conffile the new version dropped stays, flagged ``obsolete``), fields in dpkg's order, stanzas sorted;
* ``/var/lib/dpkg/info/<pkg>[:<arch>].list`` (``/.`` then every archive path), ``.md5sums``, ``.conffiles`` and the
  other control files (maintainer scripts, ``shlibs``, ``symbols``, ``triggers``...); the old version's control files
  the new one does not have are removed;
* distroless images (no ``status``, one file per package in ``status.d/``): ``status.d/<pkg>`` gets the new control
  stanza and ``status.d/<pkg>.md5sums`` the new sums.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hullscan.fix import deb822
from hullscan.fix.debfile import DebFile
from hullscan.fix.imagefs import ImageFiles

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO = "/var/lib/dpkg/info/"

#: dpkg's field order for status stanzas (lib/dpkg/parse.c ``fieldinfos``); other fields follow in their own order
FIELD_ORDER = ["Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size", "Origin",
               "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version", "Config-Version", "Replaces",
               "Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Breaks", "Conflicts", "Enhances",
               "Conffiles", "Filename", "Size", "MD5sum", "MSDOS-Filename", "Description", "Triggers-Pending",
               "Triggers-Awaited"]
_RANK = {k.lower(): i for i, k in enumerate(FIELD_ORDER)}
#: control files installed with the execute bit
SCRIPTS = frozenset({"preinst", "postinst", "prerm", "postrm", "config"})


@dataclass
class DpkgDatabase:
    """The installed packages as read from the image."""

    distroless: bool
    stanzas: list[deb822.Stanza]
    #: status.d file name per package (distroless)
    status_d_names: dict[str, str] = field(default_factory=dict)

    def installed(self) -> dict[str, deb822.Stanza]:
        """Installed (or half-installed) packages by name."""
        out = {}
        for st in self.stanzas:
            status = st.get("Status", "install ok installed").split()
            if len(status) == 3 and status[2] in ("not-installed", "config-files"):
                continue
            out[st.get("Package")] = st
        return out


def read_database(files: ImageFiles) -> DpkgDatabase | None:
    """The image's dpkg database, or None when it has none."""
    status = files.read(STATUS)
    if status is not None and status.strip():
        return DpkgDatabase(False, deb822.parse(status.decode("utf-8", "replace")))
    names: dict[str, str] = {}
    stanzas: list[deb822.Stanza] = []
    for path in files.under(STATUS_D):
        base = path[len(STATUS_D):]
        if "/" in base or base.endswith(".md5sums"):
            continue
        data = files.read(path)
        if not data:
            continue
        for st in deb822.parse(data.decode("utf-8", "replace")):
            stanzas.append(st)
            names[st.get("Package")] = base
    if not stanzas:
        return None
    return DpkgDatabase(True, stanzas, names)


def info_key(stanza: deb822.Stanza, files: ImageFiles) -> str:
    """``pkg`` or ``pkg:arch``: the name dpkg gives the package's info files (arch-qualified for Multi-Arch: same)."""
    name, arch = stanza.get("Package"), stanza.get("Architecture")
    if f"{INFO}{name}:{arch}.list" in files.files or stanza.get("Multi-Arch") == "same":
        return f"{name}:{arch}"
    return name


def old_files(db: DpkgDatabase, files: ImageFiles, stanza: deb822.Stanza) -> list[str]:
    """The paths the installed version owns (directories included for ``status``, files only for ``status.d``)."""
    name = stanza.get("Package")
    if db.distroless:
        data = files.read(f"{STATUS_D}{db.status_d_names.get(name, name)}.md5sums") or b""
        return ["/" + ln.split(None, 1)[1].strip().lstrip("/") for ln in data.decode("utf-8", "replace").splitlines()
                if len(ln.split(None, 1)) == 2]
    data = files.read(f"{INFO}{info_key(stanza, files)}.list") or b""
    return [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.startswith("/") and ln != "/."]


def owned_elsewhere(db: DpkgDatabase, files: ImageFiles, upgraded: set[str]) -> set[str]:
    """Every path some package other than ``upgraded`` owns."""
    owned: set[str] = set()
    for st in db.installed().values():
        if st.get("Package") not in upgraded:
            owned.update(old_files(db, files, st))
    return owned


def md5sums(deb: DebFile) -> bytes:
    """The package's md5sums (from control.tar, else computed as dpkg does for a package that ships none)."""
    if "md5sums" in deb.control_files:
        return deb.control_files["md5sums"]
    lines = [f"{hashlib.md5(m.data).hexdigest()}  {m.path.lstrip('/')}\n" for m in deb.members if m.info.isfile()]
    return "".join(lines).encode()


def conffile_hashes(deb: DebFile) -> dict[str, str]:
    """MD5 of each conffile as the package ships it."""
    data = {m.path: m.data for m in deb.members if m.info.isfile()}
    return {p: hashlib.md5(data.get(p, b"")).hexdigest() for p in deb.conffiles()}


def old_conffiles(stanza: deb822.Stanza) -> dict[str, tuple[str, bool]]:
    """``path -> (md5, obsolete)`` of an installed stanza's ``Conffiles``."""
    out = {}
    for line in stanza.get("Conffiles").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = (parts[1], "obsolete" in parts[2:])
    return out


def status_stanza(deb: DebFile, old: deb822.Stanza | None, kept_obsolete: list[str]) -> deb822.Stanza:
    """The ``status`` stanza dpkg writes for ``deb`` once it is installed and configured."""
    fields = [(k, v) for k, v in deb.control.items() if k.lower() not in ("status", "conffiles")]
    fields.append(("Status", "install ok installed"))
    hashes = conffile_hashes(deb)
    lines = [f" {p} {h}" for p, h in hashes.items()]
    old_hashes = old_conffiles(old) if old is not None else {}
    lines += [f" {p} {old_hashes[p][0]} obsolete" for p in kept_obsolete]
    if lines:
        fields.append(("Conffiles", "\n" + "\n".join(lines)))
    known = sorted((f for f in fields if f[0].lower() in _RANK), key=lambda f: _RANK[f[0].lower()])
    return deb822.Stanza(known + [f for f in fields if f[0].lower() not in _RANK])


def render_status(stanzas: list[deb822.Stanza]) -> bytes:
    """A ``status`` file: stanzas sorted by package and architecture, each followed by a blank line."""
    ordered = sorted(stanzas, key=lambda s: (s.get("Package"), s.get("Architecture")))
    return "".join(s.render() + "\n" for s in ordered).encode()
