"""Version comparison per ecosystem: one module per scheme, one registry, one lookup.

    >>> compare("Debian:12", "1.0-1", "1:0.9")
    -1
    >>> scheme_for("PyPI").compare("1.0rc1", "1.0")
    -1

``SCHEMES`` is the explicit registry of every scheme (name -> factory returning the shared
scheme instance). ``scheme_for(ecosystem)`` maps any ecosystem string -- our own (``deb``,
``rpm``, ``apk``), OSV names with or without a release suffix (``Debian:12``,
``Ubuntu:Pro:18.04:LTS``, ``Alpine:v3.19``, ``Red Hat:rhel_aus:8.4::appstream``,
``Maven:https://maven.google.com``) and purl types -- to its scheme.

Errors: an invalid version raises :class:`InvalidVersionError` (a :class:`ValueError` carrying
``scheme``, ``version`` and ``reason``); an ecosystem without a scheme raises
:class:`UnknownEcosystemError` (a :class:`KeyError`).
"""

from __future__ import annotations

from functools import lru_cache

from ..plugins import Entry, Registry
from . import apk, cargo, composer, deb, gem, golang, maven, nuget, pep440, rpm, semver
from .base import InvalidVersionError, KeyedScheme, UnknownEcosystemError, VersionScheme

__all__ = [
    "ECOSYSTEM_SCHEMES",
    "SCHEMES",
    "InvalidVersionError",
    "KeyedScheme",
    "UnknownEcosystemError",
    "VersionScheme",
    "compare",
    "get_scheme",
    "has_scheme",
    "scheme_for",
    "scheme_name",
]


def _entry(name: str, version: int, scheme: VersionScheme, *tags: str) -> Entry[VersionScheme]:
    return Entry(name=name, version=version, factory=lambda: scheme, tags=frozenset(tags))


#: Every version scheme, by name. Bump an entry's version when its ordering changes.
SCHEMES: Registry[VersionScheme] = Registry(
    "version scheme",
    [
        _entry("deb", 1, deb.SCHEME, "os"),
        _entry("rpm", 1, rpm.SCHEME, "os"),
        _entry("apk", 1, apk.SCHEME, "os"),
        _entry("pep440", 1, pep440.SCHEME, "lang"),
        _entry("semver", 1, semver.SCHEME, "lang"),
        _entry("cargo", 1, cargo.SCHEME, "lang"),
        _entry("go", 1, golang.SCHEME, "lang"),
        _entry("maven", 1, maven.SCHEME, "lang"),
        _entry("gem", 1, gem.SCHEME, "lang"),
        _entry("composer", 1, composer.SCHEME, "lang"),
        _entry("nuget", 1, nuget.SCHEME, "lang"),
    ],
)

#: Ecosystem (first ``:``-separated component, lower-cased) -> scheme name.
#: OSV ecosystem names, our own OS package types and purl types.
ECOSYSTEM_SCHEMES: dict[str, str] = {
    # dpkg family
    "deb": "deb",
    "debian": "deb",
    "ubuntu": "deb",
    # rpm family
    "rpm": "rpm",
    "red hat": "rpm",
    "redhat": "rpm",
    "almalinux": "rpm",
    "rocky linux": "rpm",
    "rocky": "rpm",
    "suse": "rpm",
    "opensuse": "rpm",
    "photon os": "rpm",
    "mageia": "rpm",
    "openeuler": "rpm",
    "fedora": "rpm",
    "centos": "rpm",
    "oracle linux": "rpm",
    "amazon linux": "rpm",
    "azure linux": "rpm",
    "cbl-mariner": "rpm",
    # apk family
    "apk": "apk",
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "minimos": "apk",
    "alpaquita": "apk",
    "bellsoft hardened containers": "apk",
    # languages
    "pypi": "pep440",
    "python": "pep440",
    "npm": "semver",
    "bitnami": "semver",
    "pub": "semver",
    "hex": "semver",
    "swifturl": "semver",
    "swift": "semver",
    "julia": "semver",
    "github actions": "semver",
    "crates.io": "cargo",
    "cargo": "cargo",
    "go": "go",
    "golang": "go",
    "kubernetes": "go",
    "maven": "maven",
    "rubygems": "gem",
    "gem": "gem",
    "packagist": "composer",
    "composer": "composer",
    "nuget": "nuget",
}


@lru_cache(maxsize=1024)
def _scheme_name(ecosystem: str) -> str:
    parts = [p.strip() for p in ecosystem.split(":")]
    head = parts[0].lower()
    if head == "root" and len(parts) > 1:
        # Root:{BaseDistro}:{Version} / Root:{PackageManager}: the rest names the real ecosystem.
        return _scheme_name(":".join(parts[1:]))
    try:
        return ECOSYSTEM_SCHEMES[head]
    except KeyError:
        raise UnknownEcosystemError(ecosystem) from None


def get_scheme(name: str) -> VersionScheme:
    """The scheme registered as ``name`` (``deb``, ``pep440``, ...); KeyError if unknown."""
    return SCHEMES.get(name).factory()


def scheme_for(ecosystem: str) -> VersionScheme:
    """The version scheme of an ecosystem string; raises :class:`UnknownEcosystemError`."""
    return get_scheme(_scheme_name(ecosystem))


def scheme_name(ecosystem: str) -> str | None:
    """The name of ``ecosystem``'s scheme (``deb``, ``rpm``, ``apk``, ``pep440``...), None if unknown.

    Handy to tell OS ecosystems (``deb``/``rpm``/``apk``) from language ones.
    """
    try:
        return _scheme_name(ecosystem)
    except UnknownEcosystemError:
        return None


def has_scheme(ecosystem: str) -> bool:
    """Whether :func:`scheme_for` knows ``ecosystem``."""
    try:
        _scheme_name(ecosystem)
    except UnknownEcosystemError:
        return False
    return True


def compare(ecosystem: str, a: str, b: str) -> int:
    """Compare two versions of ``ecosystem``: -1, 0 or 1.

    Raises :class:`InvalidVersionError` when either version is invalid in the ecosystem's scheme
    and :class:`UnknownEcosystemError` when no scheme is known.
    """
    return scheme_for(ecosystem).compare(a, b)
