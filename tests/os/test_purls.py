"""OS purls: the fast builder agrees with the reference ``packageurl`` library; distro qualifiers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from hullscan.analyzers.os import attach_distro
from hullscan.analyzers.os.purls import build_purl, distro_qualifier, os_purl, split_epoch
from hullscan.model import Distro, Package
from hullscan.owners import join_owners

# characters seen in real package names, versions and qualifier values (incl. non-ASCII and
# percent-encoded ones); whitespace and "/" are not valid in OS package names
text = st.text(st.sampled_from(list("abcXYZ019+-._~:@%^!#?&=,é€")), min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(ptype=st.sampled_from(["deb", "rpm", "apk"]), namespace=st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9.-]{1,12}", fullmatch=True)),
       name=text, version=st.one_of(st.just(""), text),
       qualifiers=st.dictionaries(st.sampled_from(["arch", "distro", "epoch", "upstream"]), text, max_size=4))
def test_build_purl_matches_packageurl(ptype: str, namespace: str, name: str, version: str,
                                       qualifiers: dict[str, str]) -> None:
    want = PackageURL(ptype, namespace or None, name, version or None, qualifiers or None).to_string()
    assert build_purl(ptype, namespace, name, version, qualifiers) == want


@pytest.mark.parametrize(("distro", "want"), [
    (Distro(id="debian", version_id="12"), "debian-12"),
    (Distro(id="debian", version_id="trixie/sid", codename="trixie"), "debian-trixie"),
    (Distro(id="alpine", version_id="3.19.1"), "alpine-3.19"),
    (Distro(id="alpine", version_id="3.20_alpha20231219"), "alpine-3.20_alpha20231219"),
    (Distro(id="almalinux", version_id="9.3"), "almalinux-9.3"),
    (Distro(id="opensuse-tumbleweed", version_id="20240101"), "opensuse-tumbleweed-20240101"),
    (Distro(id="wolfi"), "wolfi"),
])
def test_distro_qualifier(distro: Distro, want: str) -> None:
    assert distro_qualifier(distro) == want


def test_os_purl_shapes() -> None:
    deb = Package(name="libssl3", version="3.0.11-1~deb12u2", ecosystem="deb", arch="amd64", source_name="openssl")
    assert os_purl(deb, Distro(id="debian", version_id="12")) == (
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl")
    rpm = Package(name="openssl", version="1:3.0.7-24.el9", ecosystem="rpm", arch="x86_64", source_name="openssl")
    assert os_purl(rpm, Distro(id="almalinux", version_id="9")) == (
        "pkg:rpm/almalinux/openssl@3.0.7-24.el9?arch=x86_64&distro=almalinux-9&epoch=1")
    assert os_purl(rpm) == "pkg:rpm/openssl@3.0.7-24.el9?arch=x86_64&epoch=1"
    assert split_epoch("2:1.0") == ("2", "1.0") and split_epoch("1.0:2") == ("", "1.0:2")


def test_attach_distro_leaves_language_packages_alone() -> None:
    lang = Package(name="requests", version="2.31.0", ecosystem="PyPI", purl="pkg:pypi/requests@2.31.0")
    deb = Package(name="zlib1g", version="1:1.2.13.dfsg-1", ecosystem="deb", arch="amd64", source_name="zlib")
    out = attach_distro([lang, deb], Distro(id="ubuntu", version_id="22.04"))
    assert out[0] is lang
    assert out[1].purl == "pkg:deb/ubuntu/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=ubuntu-22.04&upstream=zlib"
    assert attach_distro([deb], None) == [deb]


def test_join_owners_prefers_arch_key_and_keeps_existing_files() -> None:
    a = Package(name="libc6", version="2.36", ecosystem="deb", arch="amd64")
    b = Package(name="busybox", version="1", ecosystem="apk", files=("/bin/busybox",))
    c = Package(name="musl", version="1", ecosystem="apk", files=("/lib/z", "/lib/a"))
    out = join_owners([a, b, c], {"deb:libc6": ["/x"], "deb:libc6:amd64": ["/lib/libc.so.6", "/lib/libc.so.6"],
                                  "apk:busybox": ["/other"]})
    assert out[0].files == ("/lib/libc.so.6",) and out[1].files == ("/bin/busybox", "/other")
    assert out[2] is c  # nothing joined, no symlinks: the package's own list as it was
