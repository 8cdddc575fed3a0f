"""Python packages: installed distributions and pinned/locked requirements.

Installed (``installed=True``), read wherever they sit (``site-packages``, ``dist-packages``, or a
``pip install --target`` folder):

* ``<name>-<ver>.dist-info/METADATA`` (wheels; Core Metadata,
  https://packaging.python.org/specifications/core-metadata/)
* ``<name>.egg-info/PKG-INFO``, ``<name>-<ver>.egg-info`` as a single file (distutils/Debian), and
  ``<name>.egg/EGG-INFO/PKG-INFO`` (unzipped eggs) and zipped ``*.egg`` files (their
  ``EGG-INFO/PKG-INFO`` member, read from memory; a member larger than 1 MiB is refused).

Licenses come from ``License-Expression`` (PEP 639), else a one-line ``License`` field (multi-line
values are whole license texts and are dropped), else the ``License ::`` classifiers (last segment,
as Trivy does). ``Requires-Dist`` names (PEP 503 normalised) are the depends, except requirements
that only apply to an extra.

Declared (``installed=False``):

* ``requirements*.txt`` / ``*requirements.txt``: only exact pins (``==`` or ``===`` without a
  wildcard); comments, line continuations, environment markers, extras and ``--hash`` options are
  handled; ``-r``/``-c``/``-e``/``--index-url`` lines are skipped (a file named by ``-r`` is read on
  its own when its name matches, since an analyzer only sees the file it claimed).
* ``poetry.lock`` (``[[package]]``; ``category``/``groups`` kept as ``group``),
* ``Pipfile.lock`` (``default`` and ``develop``; versions ``==x``),
* ``uv.lock`` (``[[package]]``; the project itself, with an ``editable``/``virtual`` source, is skipped).

Package names keep the spelling of the file; the purl carries the PEP 503 name.
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
    load_json,
    load_toml,
    make_package,
    pep503,
    text_field,
)
from hullscan.model import Package

NAME = "lang/python"
ECOSYSTEM = "PyPI"
#: a one-line License value longer than this is a license text, not a name
MAX_LICENSE_NAME = 120
#: the largest PKG-INFO member read out of a zipped egg
MAX_EGG_PKG_INFO = 1024 * 1024

# The regexes are compiled on first use (functools.cache): importing the analyzers stays cheap.


@functools.cache
def _body() -> re.Pattern[str]:
    """The blank line that ends the headers of a Core Metadata file."""
    return re.compile(r"\r?\n[ \t]*\r?\n")


@functools.cache
def _extra_marker() -> re.Pattern[str]:
    """A Requires-Dist that applies only when an extra is requested (``; extra == "socks"``)."""
    return re.compile(r";.*\bextra\s*==")


def _is_requirements(base: str) -> bool:
    """``requirements.txt``, ``requirements-dev.txt``, ``dev-requirements.txt``, ``requirements/prod.txt``..."""
    return base.endswith(".txt") and "requirements" in base


# --------------------------------------------------------------------------- installed metadata


def core_metadata(text: str) -> dict[str, list[str]]:
    """The headers of a Core Metadata file (RFC 822 style), keys lower-cased, values in file order.

    Parsing stops at the first blank line (the description body). Continuation lines (leading
    blank) are joined to the previous value with a newline. A hand-written reader: the ``email``
    package would cost ~50 ms of import time on every start-up for the same result.
    """
    headers: dict[str, list[list[str]]] = {}  # name -> values, each as its lines (joined once at the end:
    lines: list[str] | None = None  # += per continuation line was quadratic on a hostile file)
    body = _body().search(text)  # do not split the (often long) description into lines
    for line in (text[: body.start()] if body else text).splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            if lines is not None:
                lines.append(line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            lines = None
            continue
        lines = [value.strip()]
        headers.setdefault(name.strip().lower(), []).append(lines)
    return {name: ["\n".join(value) for value in values] for name, values in headers.items()}


def parse_metadata(file: FileInput) -> list[Package]:
    """A ``METADATA``/``PKG-INFO`` file (RFC 822 style headers) -> one installed package."""
    return _metadata_package(file, file.read())


def parse_egg(file: FileInput) -> list[Package]:
    """A zipped ``.egg``: the package of its ``EGG-INFO/PKG-INFO`` member."""
    import zipfile

    try:
        with zipfile.ZipFile(file.open()) as egg:
            info = egg.getinfo("EGG-INFO/PKG-INFO")
            if info.file_size > MAX_EGG_PKG_INFO:
                raise MalformedFileError(f"EGG-INFO/PKG-INFO is {info.file_size} bytes (limit {MAX_EGG_PKG_INFO})")
            with egg.open(info) as member:
                data = member.read(MAX_EGG_PKG_INFO + 1)
    except KeyError:
        raise MalformedFileError("no EGG-INFO/PKG-INFO member") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise MalformedFileError(f"not a readable zip: {exc}") from None
    if len(data) > MAX_EGG_PKG_INFO:  # the header lied about the size
        raise MalformedFileError(f"EGG-INFO/PKG-INFO is larger than {MAX_EGG_PKG_INFO} bytes")
    return _metadata_package(file, data)


def _metadata_package(file: FileInput, data: bytes) -> list[Package]:
    """One installed package from Core Metadata bytes read from ``file``."""
    headers = core_metadata(data.decode("utf-8", errors="replace"))

    def first(key: str) -> str:
        return (headers.get(key) or [""])[0].strip()

    name, version = first("name"), first("version")
    if not name or not version:
        raise MalformedFileError("no Name or Version header")
    licenses: list[str] = []
    expression = first("license-expression")
    if expression:
        licenses.append(expression)
    else:
        value = first("license")
        if value and "\n" not in value and len(value) <= MAX_LICENSE_NAME and value.upper() != "UNKNOWN":
            licenses.append(value)
    if not licenses:
        for classifier in headers.get("classifier", []):
            parts = [p.strip() for p in str(classifier).split("::")]
            if len(parts) >= 2 and parts[0] == "License" and parts[-1] not in ("OSI Approved", "License"):
                licenses.append(parts[-1])
    extra_marker = _extra_marker()
    depends = [
        _requirement_name(r) for r in headers.get("requires-dist", []) if not extra_marker.search(r)
    ]
    return [
        make_package(file, NAME, ECOSYSTEM, name, version, installed=True, licenses=licenses, depends=depends)
    ]


def _requirement_name(spec: str) -> str:
    """The PEP 503 name at the start of a requirement string (``requests[socks] (>=2.0)`` -> ``requests``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return pep503(match.group(1)) if match else ""


# --------------------------------------------------------------------------- requirements.txt

@functools.cache
def _pin() -> re.Pattern[str]:
    """``name[extras] == version`` and what follows (markers, options)."""
    return re.compile(
        r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?"  # name and extras
        r"\s*(?P<op>===|==)\s*(?P<version>[^\s;,#*]+)\s*(?P<rest>.*)$"  # the pin, then markers/options
    )


@functools.cache
def _comment() -> re.Pattern[str]:
    """A ``#`` comment at the start of a line or after a blank."""
    return re.compile(r"(^|\s)#.*$")


def _logical_lines(text: str) -> list[str]:
    """Lines with ``\\`` continuations joined and comments (``#`` at start or after a blank) removed."""
    comment = _comment()
    out: list[str] = []
    pending: list[str] = []  # the pieces of a continued line (joined once: += per piece was quadratic)
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        line = " ".join([*pending, raw]) if pending else raw
        pending = []
        if "#" in line:
            line = comment.sub("", line)
        line = line.strip()
        if line:
            out.append(line)
    if pending:
        line = comment.sub("", " ".join(pending)).strip()
        if line:
            out.append(line)
    return out


def parse_requirements(file: FileInput) -> list[Package]:
    """Exact pins of a pip requirements file; everything else (ranges, URLs, options) is skipped."""
    text = file.read().decode("utf-8")
    packages: list[Package] = []
    pin = _pin()
    for line in _logical_lines(text):
        if line.startswith("-"):
            continue  # -r/-c/-e/--index-url/--hash-only lines
        match = pin.match(line)
        if not match:
            continue
        rest = match.group("rest")
        if rest and not rest.startswith((";", "-")):
            continue  # a second specifier (==1.0,<2), a wildcard (==1.*) or something unknown: not a pin
        packages.append(
            make_package(file, NAME, ECOSYSTEM, match.group("name"), match.group("version"), installed=False)
        )
    return packages


# --------------------------------------------------------------------------- lock files


def _toml_packages(file: FileInput) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, version, table) of every ``[[package]]`` table of a poetry/uv lock file that has both."""
    entries = load_toml(file).get("package", [])
    if not isinstance(entries, list):
        raise MalformedFileError("'package' is not an array of tables")
    out = []
    for entry in entries:
        name, version = text_field(entry, "name"), text_field(entry, "version")
        if name and version:
            out.append((name, version, entry))
    return out


def parse_poetry_lock(file: FileInput) -> list[Package]:
    """``poetry.lock``: every ``[[package]]`` with its dependencies and group."""
    packages = []
    for name, version, entry in _toml_packages(file):
        extra: list[tuple[str, str]] = []
        category = text_field(entry, "category")
        groups = entry.get("groups")
        if isinstance(groups, list):
            extra.extend(("group", str(g)) for g in groups)
        elif category:
            extra.append(("group", "dev" if category == "dev" else category))
        deps = entry.get("dependencies")
        depends = [pep503(str(k)) for k in deps] if isinstance(deps, dict) else []
        packages.append(
            make_package(file, NAME, ECOSYSTEM, name, version, installed=False, depends=depends, extra=extra)
        )
    return packages


def parse_pipfile_lock(file: FileInput) -> list[Package]:
    """``Pipfile.lock``: the ``default`` and ``develop`` sections (entries without a pinned version are skipped)."""
    data = as_dict(load_json(file), "Pipfile.lock")
    packages = []
    for section, group in (("default", "main"), ("develop", "dev")):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise MalformedFileError(f"'{section}' is not an object")
        for name, entry in entries.items():
            version = text_field(entry, "version")
            if not version.startswith("=="):
                continue  # git/path/editable entries have no version
            packages.append(
                make_package(
                    file, NAME, ECOSYSTEM, str(name), version.lstrip("="), installed=False, extra=[("group", group)]
                )
            )
    return packages


def parse_uv_lock(file: FileInput) -> list[Package]:
    """``uv.lock``: every ``[[package]]`` except the project itself (editable/virtual source)."""
    packages = []
    for name, version, entry in _toml_packages(file):
        source = entry.get("source")
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            continue
        deps = entry.get("dependencies")
        depends = [pep503(text_field(d, "name")) for d in deps] if isinstance(deps, list) else []
        packages.append(make_package(file, NAME, ECOSYSTEM, name, version, installed=False, depends=depends))
    return packages


# --------------------------------------------------------------------------- analyzer


class PythonAnalyzer(ManifestAnalyzer):
    """Installed Python distributions and pinned/locked Python requirements."""

    name = NAME
    version = 2
    tags = frozenset({"lang", "python"})
    max_size = 16 * 1024 * 1024
    suffixes = ("/METADATA", "/PKG-INFO", ".egg-info", ".egg", ".lock", ".txt")

    def parser_for(self, path: str) -> Parser | None:
        """Which parser reads ``path``."""
        if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", "/EGG-INFO/PKG-INFO", ".egg-info")):
            return parse_metadata
        if path.endswith(".egg"):
            return parse_egg
        base = basename(path)
        if base == "poetry.lock":
            return parse_poetry_lock
        if base == "Pipfile.lock":
            return parse_pipfile_lock
        if base == "uv.lock":
            return parse_uv_lock
        if _is_requirements(base) or (path.endswith(".txt") and "/requirements/" in path):
            return parse_requirements
        return None
