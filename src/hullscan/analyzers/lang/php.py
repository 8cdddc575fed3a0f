"""PHP packages: Composer's installed-package list and ``composer.lock``.

Installed (``installed=True``): ``vendor/composer/installed.json``, written by Composer 1 as a JSON
list of packages and by Composer 2 as ``{"packages": [...], "dev": bool, "dev-package-names": [...]}``
(https://getcomposer.org/doc/07-runtime.md). Packages named in ``dev-package-names`` get
``scope=dev``.

Declared (``installed=False``): ``composer.lock``, sections ``packages`` and ``packages-dev``
(``scope=dev``).

Versions are kept as Composer writes them (``v2.0.1`` keeps its ``v``, as Packagist and the OSV
Packagist ecosystem do). ``require`` entries that are platform requirements (``php``, ``ext-*``,
``lib-*``, ``composer-*``) are not package dependencies and are left out of ``depends``.
"""

from __future__ import annotations

from typing import Any

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.lockfiles import (
    MalformedFileError,
    ManifestAnalyzer,
    Parser,
    as_dict,
    basename,
    dict_keys,
    license_names,
    load_json,
    make_package,
    text_field,
)
from hullscan.model import Package

NAME = "lang/php"
ECOSYSTEM = "Packagist"


def _platform(requirement: str) -> bool:
    """True for platform requirements (``php``, ``php-64bit``, ``ext-json``, ``lib-icu``, ``composer-plugin-api``)."""
    return "/" not in requirement


def _packages(file: FileInput, entries: Any, installed: bool, dev_names: set[str], all_dev: bool) -> list[Package]:
    """Packages from a list of Composer package objects."""
    if not isinstance(entries, list):
        raise MalformedFileError("package list is not an array")
    out = []
    for entry in entries:
        name, version = text_field(entry, "name"), text_field(entry, "version")
        if not name or not version:
            continue
        depends = [dep for dep in dict_keys(entry, "require") if not _platform(dep)]
        extra = [("scope", "dev")] if all_dev or name in dev_names else []
        out.append(
            make_package(
                file, NAME, ECOSYSTEM, name, version, installed=installed,
                licenses=license_names(entry.get("license")), depends=depends, extra=extra,
            )
        )
    return out


def parse_installed_json(file: FileInput) -> list[Package]:
    """``vendor/composer/installed.json`` of Composer 1 (a list) or 2 (an object with ``packages``)."""
    data = load_json(file)
    if isinstance(data, list):
        return _packages(file, data, True, set(), False)
    data = as_dict(data, "installed.json")
    dev_names = data.get("dev-package-names") or []
    if not isinstance(dev_names, list):
        raise MalformedFileError("'dev-package-names' is not an array")
    return _packages(file, data.get("packages", []), True, {str(n) for n in dev_names}, False)


def parse_composer_lock(file: FileInput) -> list[Package]:
    """``composer.lock``: ``packages`` and ``packages-dev``."""
    data = as_dict(load_json(file), "composer.lock")
    return _packages(file, data.get("packages") or [], False, set(), False) + _packages(
        file, data.get("packages-dev") or [], False, set(), True
    )


class PhpAnalyzer(ManifestAnalyzer):
    """Composer-installed packages and Composer lock files."""

    name = NAME
    version = 1
    tags = frozenset({"lang", "php"})
    max_size = 32 * 1024 * 1024
    suffixes = ("/installed.json", "/composer.lock")

    def parser_for(self, path: str) -> Parser | None:
        """``vendor/composer/installed.json`` and ``composer.lock`` (not a dependency's own)."""
        if path.endswith("/vendor/composer/installed.json") or path == "vendor/composer/installed.json":
            return parse_installed_json
        if basename(path) == "composer.lock" and "/vendor/" not in path:
            return parse_composer_lock
        return None
