"""Release codenames of the distros whose native feeds name releases by codename."""

from __future__ import annotations

#: Debian codename -> major version (the OSV namespace is ``Debian:<major>``)
DEBIAN = {
    "buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1", "potato": "2.2", "woody": "3.0",
    "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9",
    "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

#: Ubuntu codename -> (version, is LTS); the OSV namespace is ``Ubuntu:<version>[:LTS]``
UBUNTU = {
    "warty": ("4.10", False), "hoary": ("5.04", False), "breezy": ("5.10", False), "dapper": ("6.06", True),
    "edgy": ("6.10", False), "feisty": ("7.04", False), "gutsy": ("7.10", False), "hardy": ("8.04", True),
    "intrepid": ("8.10", False), "jaunty": ("9.04", False), "karmic": ("9.10", False), "lucid": ("10.04", True),
    "maverick": ("10.10", False), "natty": ("11.04", False), "oneiric": ("11.10", False),
    "precise": ("12.04", True), "quantal": ("12.10", False), "raring": ("13.04", False),
    "saucy": ("13.10", False), "trusty": ("14.04", True), "utopic": ("14.10", False), "vivid": ("15.04", False),
    "wily": ("15.10", False), "xenial": ("16.04", True), "yakkety": ("16.10", False), "zesty": ("17.04", False),
    "artful": ("17.10", False), "bionic": ("18.04", True), "cosmic": ("18.10", False), "disco": ("19.04", False),
    "eoan": ("19.10", False), "focal": ("20.04", True), "groovy": ("20.10", False), "hirsute": ("21.04", False),
    "impish": ("21.10", False), "jammy": ("22.04", True), "kinetic": ("22.10", False), "lunar": ("23.04", False),
    "mantic": ("23.10", False), "noble": ("24.04", True), "oracular": ("24.10", False), "plucky": ("25.04", False),
    "questing": ("25.10", False), "resolute": ("26.04", True),
}
_UBUNTU_BY_VERSION = {ver: (name, lts) for name, (ver, lts) in UBUNTU.items()}


def debian_namespace(codename: str) -> str:
    """``bookworm`` -> ``Debian:12``; empty for unknown codenames (``sid``)."""
    major = DEBIAN.get(codename.strip().lower())
    return f"Debian:{major}" if major else ""


def ubuntu_namespace(codename_or_version: str) -> str:
    """``jammy`` or ``22.04`` -> ``Ubuntu:22.04:LTS``; ``eoan`` -> ``Ubuntu:19.10``; empty when unknown."""
    key = codename_or_version.strip().lower()
    if key in UBUNTU:
        ver, lts = UBUNTU[key]
    elif key in _UBUNTU_BY_VERSION:
        ver, lts = key, _UBUNTU_BY_VERSION[key][1]
    else:
        return ""
    return f"Ubuntu:{ver}:LTS" if lts else f"Ubuntu:{ver}"
