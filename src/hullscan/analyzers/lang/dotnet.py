""".NET packages: ``*.deps.json`` of built applications and NuGet ``packages.lock.json``.

Installed (``installed=True``): ``<app>.deps.json``, written by the .NET SDK next to a published
application (https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md).
Its ``libraries`` map ``"Name/Version"`` to ``{"type": "package"|"project"|"reference"...}``; only
``package`` entries are NuGet packages (the application's own projects are not). When the file has a
``runtimeTarget`` whose ``targets`` entry exists, the libraries' ``dependencies`` there are the
depends, and a package missing from that target (not loaded by the runtime, e.g. a build-time
package) is still reported, as Trivy and Syft do, but with ``runtime=false`` in ``extra``.

Declared (``installed=False``): ``packages.lock.json`` (NuGet lock file, ``version`` 1 or 2):
``dependencies`` per target framework (``net8.0``, ``net8.0/linux-x64``...), entries of ``type``
``Direct``, ``Transitive`` or ``CentralTransitive`` with a ``resolved`` version (``Project``
entries are the solution's own projects and are skipped). The same package in several frameworks
is reported once.
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
    load_json,
    make_package,
    text_field,
)
from hullscan.model import Package

NAME = "lang/dotnet"
ECOSYSTEM = "NuGet"
_LOCK_TYPES = ("Direct", "Transitive", "CentralTransitive")


def parse_deps_json(file: FileInput) -> list[Package]:
    """``*.deps.json``: ``package`` libraries (present in the runtime target when there is one)."""
    data = as_dict(load_json(file), basename(file.path))
    libraries = as_dict(data.get("libraries") or {}, "libraries")
    runtime_name = text_field(data.get("runtimeTarget"), "name")
    targets = data.get("targets")
    target: dict[str, Any] | None = None
    if isinstance(targets, dict) and isinstance(targets.get(runtime_name), dict):
        target = targets[runtime_name]
    out = []
    for key, lib in libraries.items():
        if text_field(lib, "type") != "package":
            continue
        name, sep, version = str(key).rpartition("/")
        if not sep or not name or not version:
            continue
        depends = dict_keys(target.get(key), "dependencies") if target is not None else []
        extra = [("runtime", "false")] if target is not None and key not in target else []
        out.append(make_package(file, NAME, ECOSYSTEM, name, version, installed=True, depends=depends, extra=extra))
    return out


def parse_packages_lock(file: FileInput) -> list[Package]:
    """NuGet ``packages.lock.json``: resolved packages of every target framework."""
    data = as_dict(load_json(file), "packages.lock.json")
    frameworks = as_dict(data.get("dependencies") or {}, "dependencies")
    out = []
    for framework, entries in frameworks.items():
        if not isinstance(entries, dict):
            raise MalformedFileError(f"dependencies of {framework!r} is not an object")
        for name, entry in entries.items():
            version = text_field(entry, "resolved")
            if text_field(entry, "type") not in _LOCK_TYPES or not version:
                continue
            extra = [("direct", "true")] if text_field(entry, "type") == "Direct" else []
            out.append(
                make_package(
                    file, NAME, ECOSYSTEM, str(name), version, installed=False,
                    depends=dict_keys(entry, "dependencies"), extra=extra,
                )
            )
    return out


class DotnetAnalyzer(ManifestAnalyzer):
    """.NET application dependency files and NuGet lock files."""

    name = NAME
    version = 2
    tags = frozenset({"lang", "dotnet"})
    max_size = 32 * 1024 * 1024
    suffixes = (".deps.json", "/packages.lock.json")

    def parser_for(self, path: str) -> Parser | None:
        """``*.deps.json`` and ``packages.lock.json``."""
        if path.endswith(".deps.json"):
            return parse_deps_json
        if basename(path) == "packages.lock.json":
            return parse_packages_lock
        return None
