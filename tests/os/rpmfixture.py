"""Build a real rpm SQLite database: tiny packages built with ``rpmbuild`` and installed with
``rpm --root DIR --dbpath /var/lib/rpm --nodeps --justdb -i``.

The packages cover what the analyzer must get right:

* ``hello-tool`` 1.2.3-4.el9 x86_64: requires ``libhello`` (resolved through a provide) and ``/bin/sh``;
* ``libhello`` 1:2.0.1-7.el9 x86_64, built from source package ``hello-src`` (binary name differs
  from the source name) with ``Epoch: 1`` and a modularity label;
* ``hello-data`` 0.9-1.el9 noarch, sub-package of ``hello-src`` too; ships a directory and files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

QUERYFORMAT = (
    "%{NAME}|%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{LICENSE}|%{VENDOR}"
    "|%|MODULARITYLABEL?{%{MODULARITYLABEL}}:{}||[%{FILENAMES},]\\n"
)

HELLO_TOOL = """\
Name: hello-tool
Version: 1.2.3
Release: 4.el9
Summary: A tiny test tool
License: MIT
Vendor: Hullscan Test Vendor
Requires: libhello >= 2.0
Requires: /bin/sh
%description
Test package.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/doc/hello-tool
printf '#!/bin/sh\\necho hello\\n' > %{buildroot}/usr/bin/hello-tool
echo readme > %{buildroot}/usr/share/doc/hello-tool/README
%files
%attr(0755,root,root) /usr/bin/hello-tool
%dir /usr/share/doc/hello-tool
/usr/share/doc/hello-tool/README
"""

HELLO_SRC = """\
Name: hello-src
Epoch: 1
Version: 2.0.1
Release: 7.el9
Summary: Source package whose binaries are named differently
License: GPL-2.0-or-later AND BSD-3-Clause
Vendor: Hullscan Test Vendor
%description
Test source package.
%package -n libhello
Summary: Shared library
Provides: libhello.so.2()(64bit)
%description -n libhello
Library.
%package -n hello-data
Summary: Data files
BuildArch: noarch
%description -n hello-data
Data.
%install
mkdir -p %{buildroot}/usr/lib64 %{buildroot}/usr/share/hello/themes
echo lib > %{buildroot}/usr/lib64/libhello.so.2.0.1
ln -s libhello.so.2.0.1 %{buildroot}/usr/lib64/libhello.so.2
echo theme > %{buildroot}/usr/share/hello/themes/dark.conf
echo words > %{buildroot}/usr/share/hello/words.txt
%files -n libhello
/usr/lib64/libhello.so.2.0.1
/usr/lib64/libhello.so.2
%files -n hello-data
%dir /usr/share/hello
%dir /usr/share/hello/themes
/usr/share/hello/themes/dark.conf
/usr/share/hello/words.txt
"""

SPECS = {"hello-tool.spec": HELLO_TOOL, "hello-src.spec": HELLO_SRC}
MODULARITY_LABEL = "hello:2:9010020230101000000:abcdef12"


def tools_available() -> bool:
    """True when ``rpm`` and ``rpmbuild`` are installed."""
    return bool(shutil.which("rpm") and shutil.which("rpmbuild"))


def build_rpms(work: Path) -> list[Path]:
    """Build the test packages under ``work``; returns the binary rpm paths."""
    top = work / "rpmbuild"
    for sub in ("SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT", "SOURCES"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    for name, text in SPECS.items():
        spec = top / "SPECS" / name
        spec.write_text(text)
        defines = [
            "--define", f"_topdir {top}", "--define", "debug_package %{nil}",
            "--define", "__os_install_post %{nil}", "--define", "_build_id_links none",
            "--define", "_buildhost hullscan-test", "--define", "source_date_epoch_from_changelog 0",
        ]
        if name == "hello-src.spec":
            defines += ["--define", f"modularitylabel {MODULARITY_LABEL}"]
        subprocess.run(["rpmbuild", "-bb", "--nodeps", *defines, str(spec)], check=True, capture_output=True)
    return sorted((top / "RPMS").rglob("*.rpm"))


def install_db(root: Path, rpms: list[Path]) -> Path:
    """Create ``root/var/lib/rpm/rpmdb.sqlite`` holding ``rpms``; returns the database path."""
    dbpath = ["--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run(["rpm", *dbpath, "--initdb"], check=True, capture_output=True)
    subprocess.run(["rpm", *dbpath, "--nodeps", "--justdb", "--noscripts", "-i", *map(str, rpms)],
                   check=True, capture_output=True)
    return root / "var/lib/rpm/rpmdb.sqlite"


def query(root: Path) -> list[str]:
    """``rpm -qa`` with :data:`QUERYFORMAT`, sorted (the reference the analyzer is compared with)."""
    out = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-qa", "--qf", QUERYFORMAT],
                         check=True, capture_output=True, text=True).stdout
    return sorted(line for line in out.splitlines() if line)
