"""Joining package file lists to the image's files through the image's own symlinks (merged /usr)."""

from __future__ import annotations

import pytest

from hullscan.model import Package
from hullscan.owners import file_owners, join_owners, resolve

MERGED = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}


@pytest.mark.parametrize(("path", "want"), [
    ("/bin/mount", "/usr/bin/mount"),
    ("/sbin/unix_chkpwd", "/usr/sbin/unix_chkpwd"),
    ("/lib/x86_64-linux-gnu/security/pam_unix.so", "/usr/lib/x86_64-linux-gnu/security/pam_unix.so"),
    ("/usr/bin/mount", "/usr/bin/mount"),
    ("/bin", "/bin"),  # the link itself: never its last component
    ("/etc/alternatives/awk", "/etc/alternatives/awk"),
])
def test_resolve_merged_usr(path: str, want: str) -> None:
    assert resolve(path, MERGED) == want


def test_resolve_absolute_chained_escaping_and_looping_links() -> None:
    links = {"/opt/app": "/srv/app", "/srv": "data/srv", "/up": "../../..", "/a": "b", "/b": "a",
             "/usr/lib/jvm/default": "java-17"}
    assert resolve("/opt/app/conf/key.pem", links) == "/data/srv/app/conf/key.pem"
    assert resolve("/up/etc/shadow", links) == "/etc/shadow"  # ".." stops at the image root
    assert resolve("/usr/lib/jvm/default/bin/java", links) == "/usr/lib/jvm/java-17/bin/java"
    assert resolve("/a/f", links) in ("/a/f", "/b/f")  # a loop gives up, never hangs
    assert resolve("/bin/mount", {}) == "/bin/mount"


def test_join_and_owners_merged_usr() -> None:
    util = Package(name="mount", version="2.38.1-5", ecosystem="deb", arch="amd64")
    login = Package(name="login", version="1:4.13", ecosystem="deb", arch="amd64", files=("/bin/su",))
    app = Package(name="left-pad", version="1.3.0", ecosystem="npm", files=("/lib/node_modules/left-pad/index.js",))
    out = join_owners([util, login, app], {"deb:mount": ["/bin/mount", "/bin/umount"]}, MERGED)
    assert out[0].files == ("/usr/bin/mount", "/usr/bin/umount")
    assert out[1].files == ("/usr/bin/su",)
    owners = file_owners(out)
    assert owners["/usr/bin/su"] == "login" and owners["/usr/lib/node_modules/left-pad/index.js"] == "left-pad"
    assert "/usr/lib/node_modules/left-pad/index.js" not in file_owners(out, os_only=True)
