"""JavaScript packages: installed ``node_modules`` and npm/yarn/pnpm lock files.

Installed (``installed=True``): every ``node_modules/<name>/package.json`` and
``node_modules/@scope/<name>/package.json``, at any depth of nesting. Files deeper inside an
installed package (``node_modules/x/esm/package.json`` ``{"type": "module"}`` markers, test
fixtures) are not packages and are not claimed (Trivy reads them and keeps those with a name and
version, which reports a package's test fixtures as installed packages).

Project manifests: a ``package.json`` outside ``node_modules`` (the application's own root, a
workspace member, Debian's ``/usr/share/nodejs/*``) is reported when it has a name and a version,
with ``project=true`` in ``extra`` (and ``private=true`` when it says so). Trivy and Syft both
report the application root this way; the flag lets a matcher or a report tell the project apart
from its dependencies. A claimed file without a ``name`` and ``version`` is skipped silently; one
that is not JSON gives a warning.

Declared (``installed=False``), outside ``node_modules`` only (lock files shipped inside an
installed package describe its development, not what is installed):

* ``package-lock.json`` / ``npm-shrinkwrap.json`` v1 (recursive ``dependencies`` tree) and v2/v3
  (``packages`` map keyed ``node_modules/...``; the root ``""`` and workspace sources are skipped,
  ``link`` entries (workspace packages) take the version of their target and keep ``link=<folder>``;
  ``dev``/``optional`` flags kept as ``scope``),
* ``yarn.lock`` v1 (yarn's own format) and berry (YAML with ``__metadata``; names from
  ``resolution``, ``npm:`` protocol only, so ``workspace:``/``link:``/``portal:`` entries are the
  project's own code and skipped),
* ``pnpm-lock.yaml`` lockfile 5.x (``/name/1.0.0``), 6.x (``/name@1.0.0``) and 9.x
  (``name@1.0.0`` + ``snapshots``), peer suffixes ``_peer@1`` / ``(peer@1)`` removed.

Versions that are not registry versions (``file:``, ``link:``, git and tarball URLs) are skipped:
no advisory can match them.
"""

from __future__ import annotations

import functools
import re
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
    load_yaml,
    make_package,
    text_field,
)
from hullscan.model import Package

NAME = "lang/npm"
ECOSYSTEM = "npm"


def installed_manifest(path: str) -> bool:
    """True for ``.../node_modules/<name>/package.json`` and ``.../node_modules/@scope/<name>/package.json``."""
    if not path.endswith("/package.json"):
        return False
    head, sep, tail = path.rpartition("node_modules/")
    if not sep or (head and not head.endswith("/")):
        return False
    parts = tail.split("/")
    if len(parts) == 2:
        return not parts[0].startswith("@") and not parts[0].startswith(".")
    return len(parts) == 3 and parts[0].startswith("@")


@functools.cache
def _not_registry() -> re.Pattern[str]:
    """A version that is a path, a link, a git or tarball URL or an alias (compiled on first use)."""
    return re.compile(r"^(?:file:|link:|workspace:|portal:|git\+|git:|github:|https?:|npm:)|://")


def _registry_version(version: str) -> bool:
    """False for ``file:``, ``link:``, git and tarball versions."""
    return bool(version) and not _not_registry().search(version)


def _scope(entry: Any) -> list[tuple[str, str]]:
    """``("scope", "dev"|"optional"|"dev-optional")`` from lock file flags."""
    if not isinstance(entry, dict):
        return []
    if entry.get("devOptional") is True:
        return [("scope", "dev-optional")]
    if entry.get("dev") is True:
        return [("scope", "dev")]
    if entry.get("optional") is True:
        return [("scope", "optional")]
    return []


# --------------------------------------------------------------------------- node_modules


def parse_package_json(file: FileInput) -> list[Package]:
    """A ``package.json`` with a name and version (an installed package, or a project when outside node_modules)."""
    data = as_dict(load_json(file), "package.json")
    name, version = text_field(data, "name"), text_field(data, "version")
    if not name or not version:
        return []
    licenses = license_names(data.get("license")) or license_names(data.get("licenses"))
    depends = dict_keys(data, "dependencies", "optionalDependencies")
    extra = [("private", "true")] if data.get("private") is True else []
    if not installed_manifest(file.path):
        extra.append(("project", "true"))
    return [
        make_package(
            file, NAME, ECOSYSTEM, name, version, installed=True, licenses=licenses, depends=depends, extra=extra
        )
    ]


# --------------------------------------------------------------------------- package-lock.json


def parse_package_lock(file: FileInput) -> list[Package]:
    """``package-lock.json`` / ``npm-shrinkwrap.json``, lockfile versions 1 to 3."""
    data = as_dict(load_json(file), basename(file.path))
    packages_map = data.get("packages")
    if isinstance(packages_map, dict) and packages_map:
        return _lock_v2(file, packages_map)
    deps = data.get("dependencies")
    if deps is None:
        return []
    return _lock_v1(file, as_dict(deps, "dependencies"), depth=0)


def _lock_v1(file: FileInput, deps: dict[str, Any], depth: int) -> list[Package]:
    """The v1 ``dependencies`` tree (nested ``dependencies`` are packages installed below their parent)."""
    if depth > 64:
        raise MalformedFileError("dependencies nested deeper than 64 levels")
    out: list[Package] = []
    for name, entry in deps.items():
        version = text_field(entry, "version")
        if version.startswith("npm:"):  # alias: "alias": {"version": "npm:real@1.0.0"}
            name, version = _split_spec(version[4:])
        if _registry_version(version):
            out.append(
                make_package(
                    file, NAME, ECOSYSTEM, str(name), version, installed=False,
                    depends=dict_keys(entry, "requires"), extra=_scope(entry),
                )
            )
        nested = entry.get("dependencies") if isinstance(entry, dict) else None
        if isinstance(nested, dict):
            out.extend(_lock_v1(file, nested, depth + 1))
    return out


def _lock_v2(file: FileInput, packages_map: dict[str, Any]) -> list[Package]:
    """The v2/v3 ``packages`` map."""
    out: list[Package] = []
    for key, entry in packages_map.items():
        _head, sep, tail = str(key).rpartition("node_modules/")
        if not sep or not isinstance(entry, dict):
            continue  # the root "" and workspace folders are the project itself
        target, extra = entry, _scope(entry)
        if entry.get("link") is True:  # a workspace package (or `npm link`): the target holds the data
            resolved = packages_map.get(text_field(entry, "resolved"))
            target = resolved if isinstance(resolved, dict) else {}
            extra.append(("link", text_field(entry, "resolved")))
        name = text_field(entry, "name") or tail
        version = text_field(target, "version")
        if not _registry_version(version):
            continue
        out.append(
            make_package(
                file, NAME, ECOSYSTEM, name, version, installed=False,
                licenses=license_names(target.get("license")),
                depends=dict_keys(target, "dependencies", "optionalDependencies"),
                extra=extra,
            )
        )
    return out


# --------------------------------------------------------------------------- yarn.lock


def _split_spec(spec: str) -> tuple[str, str]:
    """``@scope/name@range`` -> (``@scope/name``, ``range``): split at the last ``@`` after the first char."""
    at = spec.find("@", 1)
    if at < 0:
        return spec, ""
    return spec[:at], spec[at + 1 :]


def parse_yarn_lock(file: FileInput) -> list[Package]:
    """``yarn.lock``: berry (YAML with ``__metadata``) or the classic v1 format."""
    text = file.read().decode("utf-8")
    if re.search(r"^__metadata:", text, re.MULTILINE):
        return _yarn_berry(file)
    return _yarn_v1(file, text)


def _unquote(text: str) -> str:
    """Strip one pair of surrounding double quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _yarn_v1(file: FileInput, text: str) -> list[Package]:
    """The classic format: ``spec[, spec]:`` headers, then ``version "x"`` and a ``dependencies:`` block."""
    out: list[Package] = []
    name = version = ""
    depends: list[str] = []
    in_deps = False
    seen_header = False
    local = False  # file:/link:/workspace:/portal:/patch: ranges are the project's own code

    def flush() -> None:
        if name and _registry_version(version) and not local:
            out.append(make_package(file, NAME, ECOSYSTEM, name, version, installed=False, depends=depends))

    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 0:
            if not line.endswith(":"):
                raise MalformedFileError(f"line {lineno}: expected 'package@range:' header")
            flush()
            first = _unquote(line[:-1].split(",")[0])
            name, spec_range = _split_spec(first)
            if spec_range.startswith("npm:"):  # alias: "alias@npm:real@^1"
                name, _ = _split_spec(spec_range[4:])
            local = spec_range.startswith(("file:", "link:", "workspace:", "portal:", "patch:"))
            version, depends, in_deps, seen_header = "", [], False, True
        elif not seen_header:
            raise MalformedFileError(f"line {lineno}: indented line before any package header")
        elif indent == 2:
            in_deps = line.rstrip(":") in ("dependencies", "optionalDependencies") and line.endswith(":")
            if line.startswith("version "):
                version = _unquote(line[len("version ") :])
        elif indent >= 4 and in_deps:
            depends.append(_unquote(line.split(" ", 1)[0]))
    flush()
    return out


def _yarn_berry(file: FileInput) -> list[Package]:
    """Yarn 2+ ``yarn.lock`` (YAML): name from ``resolution``, only ``npm:`` resolutions are registry packages."""
    data = as_dict(load_yaml(file), "yarn.lock")
    out: list[Package] = []
    for key, entry in data.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = text_field(entry, "resolution")
        name, ref = _split_spec(resolution)
        if ref.startswith("patch:"):  # "name@patch:name@npm%3A1.0.0#..." patches a registry package
            ref = "npm:" if "@npm%3A" in ref else ref
        if not ref.startswith("npm:"):
            continue
        version = text_field(entry, "version")
        if not _registry_version(version):
            continue
        out.append(
            make_package(
                file, NAME, ECOSYSTEM, name, version, installed=False, depends=dict_keys(entry, "dependencies")
            )
        )
    return out


# --------------------------------------------------------------------------- pnpm-lock.yaml


def _pnpm_key(key: str, slash_form: bool) -> tuple[str, str]:
    """(name, version) of a ``packages`` key in lockfile 5.x (``/a/1.0.0_peer``) or 6+/9 (``/a@1.0.0(peer)``) form."""
    key = key.split("(", 1)[0].removeprefix("/")
    if slash_form:
        name, _, version = key.rpartition("/")
        return name, version.split("_", 1)[0]
    return _split_spec(key)


def parse_pnpm_lock(file: FileInput) -> list[Package]:
    """``pnpm-lock.yaml`` lockfile versions 5.x, 6.x and 9.x."""
    data = as_dict(load_yaml(file), "pnpm-lock.yaml")
    raw_version = text_field(data, "lockfileVersion")
    try:
        major = int(float(raw_version.split(".")[0] or 0))
    except ValueError:
        raise MalformedFileError(f"unknown lockfileVersion {raw_version!r}") from None
    packages_map = data.get("packages") or {}
    snapshots = data.get("snapshots") or {}
    if not isinstance(packages_map, dict) or not isinstance(snapshots, dict):
        raise MalformedFileError("'packages' or 'snapshots' is not a mapping")
    snapshot_deps: dict[str, list[str]] = {}  # v9: dependencies live in the snapshots
    for snap_key, snap in snapshots.items():
        base = str(snap_key).split("(", 1)[0]
        snapshot_deps.setdefault(base, []).extend(dict_keys(snap, "dependencies", "optionalDependencies"))
    dev_only = _pnpm9_dev_only(data, snapshots) if major >= 9 else set()
    out: list[Package] = []
    for key, entry in packages_map.items():
        name, version = _pnpm_key(str(key), slash_form=major < 6)
        name = text_field(entry, "name") or name
        version = text_field(entry, "version") or version
        if not name or not _registry_version(version):
            continue
        depends = dict_keys(entry, "dependencies", "optionalDependencies") + snapshot_deps.get(str(key), [])
        out.append(
            make_package(
                file, NAME, ECOSYSTEM, name, version, installed=False, depends=depends,
                extra=[("scope", "dev")] if str(key) in dev_only else _scope(entry),
            )
        )
    return out


def _pnpm9_dev_only(data: dict[str, Any], snapshots: dict[str, Any]) -> set[str]:
    """Lockfile 9 has no ``dev`` flags: the ``packages`` keys reachable only from ``devDependencies``."""

    def walk(kinds: tuple[str, ...]) -> set[str]:
        todo: list[str] = []
        for importer in (data.get("importers") or {}).values():
            for kind in kinds:
                deps = importer.get(kind) if isinstance(importer, dict) else None
                for dep, spec in (deps or {}).items() if isinstance(deps, dict) else ():
                    todo.append(f"{dep}@{text_field(spec, 'version')}")
        seen: set[str] = set()
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            snap = snapshots.get(key)
            for kind in ("dependencies", "optionalDependencies"):
                deps = snap.get(kind) if isinstance(snap, dict) else None
                if isinstance(deps, dict):
                    todo.extend(f"{dep}@{ver}" for dep, ver in deps.items())
        return {k.split("(", 1)[0] for k in seen}

    return walk(("devDependencies",)) - walk(("dependencies", "optionalDependencies"))


# --------------------------------------------------------------------------- analyzer

_LOCKS: dict[str, Parser] = {
    "package-lock.json": parse_package_lock,
    "npm-shrinkwrap.json": parse_package_lock,
    "yarn.lock": parse_yarn_lock,
    "pnpm-lock.yaml": parse_pnpm_lock,
}


class NpmAnalyzer(ManifestAnalyzer):
    """Installed ``node_modules`` packages and npm, yarn and pnpm lock files."""

    name = NAME
    version = 2
    tags = frozenset({"lang", "javascript", "node"})
    max_size = 64 * 1024 * 1024
    suffixes = ("/package.json", "/package-lock.json", "/npm-shrinkwrap.json", "/yarn.lock", "/pnpm-lock.yaml")

    def parser_for(self, path: str) -> Parser | None:
        """Package manifests (installed and project ones) and lock files outside ``node_modules``."""
        if path.endswith("/package.json"):
            wanted = installed_manifest(path) or "node_modules/" not in path
            return parse_package_json if wanted else None
        parser = _LOCKS.get(basename(path))
        if parser is None or "/node_modules/" in path:
            return None
        return parser
