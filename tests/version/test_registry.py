"""The SCHEMES registry and the ecosystem -> scheme mapping."""

from __future__ import annotations

import pytest

from hullscan.plugins import DuplicatePluginError, Entry, Registry
from hullscan.version import (
    SCHEMES,
    InvalidVersionError,
    UnknownEcosystemError,
    VersionScheme,
    compare,
    get_scheme,
    has_scheme,
    scheme_for,
    scheme_name,
)

MAPPING = [
    ("deb", "deb"),
    ("Debian", "deb"),
    ("Debian:12", "deb"),
    ("Debian:sid", "deb"),
    ("Ubuntu:22.04:LTS", "deb"),
    ("Ubuntu:Pro:18.04:LTS", "deb"),
    ("rpm", "rpm"),
    ("AlmaLinux:9", "rpm"),
    ("Rocky Linux:9", "rpm"),
    ("Red Hat:rhel_aus:8.4::appstream", "rpm"),
    ("SUSE:Linux Enterprise Server 15 SP5", "rpm"),
    ("openSUSE:Tumbleweed", "rpm"),
    ("Photon OS:5.0", "rpm"),
    ("Mageia:9", "rpm"),
    ("openEuler:22.03-LTS-SP1", "rpm"),
    ("apk", "apk"),
    ("Alpine:v3.19", "apk"),
    ("Wolfi", "apk"),
    ("Chainguard", "apk"),
    ("MinimOS", "apk"),
    ("Alpaquita:stream", "apk"),
    ("PyPI", "pep440"),
    ("pypi", "pep440"),
    ("npm", "semver"),
    ("Bitnami", "semver"),
    ("Pub", "semver"),
    ("Hex", "semver"),
    ("SwiftURL", "semver"),
    ("crates.io", "cargo"),
    ("cargo", "cargo"),
    ("Go", "go"),
    ("golang", "go"),
    ("Maven", "maven"),
    ("Maven:https://maven.google.com", "maven"),
    ("RubyGems", "gem"),
    ("gem", "gem"),
    ("Packagist", "composer"),
    ("Packagist:https://packages.drupal.org/8", "composer"),
    ("composer", "composer"),
    ("NuGet", "nuget"),
    ("Root:Alpine:3.18", "apk"),
    ("Root:Debian:12", "deb"),
    ("Root:PyPI", "pep440"),
]


@pytest.mark.parametrize(("ecosystem", "scheme"), MAPPING)
def test_ecosystem_mapping(ecosystem: str, scheme: str) -> None:
    assert scheme_for(ecosystem).name == scheme
    assert scheme_name(ecosystem) == scheme
    assert has_scheme(ecosystem)


@pytest.mark.parametrize("ecosystem", ["", "Linux", "Android", "OSS-Fuzz", "CRAN", "Root", "nonsense:1"])
def test_unknown_ecosystems(ecosystem: str) -> None:
    assert not has_scheme(ecosystem)
    assert scheme_name(ecosystem) is None
    with pytest.raises(UnknownEcosystemError) as info:
        scheme_for(ecosystem)
    assert isinstance(info.value, KeyError)
    assert repr(ecosystem) in str(info.value)


def test_registry_is_explicit_and_complete() -> None:
    names = SCHEMES.names()
    assert len(names) == len(set(names))
    assert set(names) == {"deb", "rpm", "apk", "pep440", "semver", "cargo", "go", "maven", "gem", "composer", "nuget"}
    for entry in SCHEMES:
        scheme = entry.factory()
        assert isinstance(scheme, VersionScheme)
        assert scheme.name == entry.name
        assert entry.version >= 1
        assert entry.tags & {"os", "lang"}
    assert {e.name for e in SCHEMES.select(tags=["os"])} == {"deb", "rpm", "apk"}


def test_registry_rejects_duplicates() -> None:
    entry = Entry(name="deb", version=1, factory=lambda: get_scheme("deb"))
    with pytest.raises(DuplicatePluginError):
        Registry("version scheme", [entry, entry])


def test_compare_api() -> None:
    assert compare("Debian:12", "1.0-1", "1:0.9") == -1
    assert compare("Alpine:v3.19", "1.2.3-r1", "1.2.3-r0") == 1
    assert compare("PyPI", "1.0", "1.0.0") == 0
    assert compare("Go", "v1.2.3", "1.2.3") == 0
    assert compare("Go", "go1.22.1 X:boringcrypto", "1.22.1") == 0
    assert compare("Go", "go1.21rc2", "1.21.0-rc.2") == 0
    assert compare("Go", "go1.21rc2", "go1.21.0") == -1
    with pytest.raises(InvalidVersionError) as info:
        compare("npm", "1.2", "1.2.3")
    assert isinstance(info.value, ValueError)
    assert info.value.scheme == "semver" and info.value.version == "1.2"
    with pytest.raises(KeyError):
        get_scheme("nonesuch")


def test_shared_instances_and_cached_keys() -> None:
    assert scheme_for("Debian:12") is scheme_for("Ubuntu:22.04:LTS") is get_scheme("deb")
    deb = get_scheme("deb")
    assert deb.key("1:2.0-1") is deb.key("1:2.0-1")  # parsed once


def test_importing_version_stays_light() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    import hullscan

    code = (
        "import sys, hullscan.version, hullscan.version.osvrange; "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'yara_x', 'cyclonedx', 'httpx') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    src = str(Path(hullscan.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert out == ""
