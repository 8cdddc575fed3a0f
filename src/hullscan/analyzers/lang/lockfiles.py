"""Shared helpers of the Python, JavaScript, Ruby, PHP and .NET package analyzers.

Each of those analyzers claims a few file names and hands each file to one parser function
``(FileInput) -> list[Package]``. :class:`ManifestAnalyzer` does the dispatch, turns any parse
failure into a ``malformed-file`` warning naming the file (the scan goes on), removes duplicates
and sorts the output. :func:`make_package` builds a :class:`~hullscan.model.Package` with its
package URL from the ecosystem's purl type (https://github.com/package-url/purl-spec).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.model import AnalysisResult, Package, ScanWarning

#: OSV ecosystem name -> purl type
PURL_TYPES = {
    "PyPI": "pypi",
    "npm": "npm",
    "RubyGems": "gem",
    "Packagist": "composer",
    "NuGet": "nuget",
}

Parser = Callable[[FileInput], list[Package]]


class MalformedFileError(ValueError):
    """A manifest or lock file that does not have the expected shape."""


#: what a parser may raise on malformed input; anything else is a bug and propagates
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes JSONDecodeError, TOMLDecodeError, UnicodeDecodeError, MalformedFileError
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    RecursionError,
)


def pep503(name: str) -> str:
    """A Python project name normalised per PEP 503 (``Zope.Interface`` -> ``zope-interface``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=16384)
def make_purl(ecosystem: str, name: str, version: str) -> str:
    """The package URL of one language package.

    npm ``@scope/name`` and Composer ``vendor/name`` become namespace + name; PyPI names are
    normalised per PEP 503; NuGet and RubyGems names are kept as they are.
    """
    from packageurl import PackageURL  # imported on first use: start-up stays cheap

    ptype = PURL_TYPES[ecosystem]
    namespace: str | None = None
    if ecosystem == "PyPI":
        name = pep503(name)
    elif ecosystem in ("npm", "Packagist") and "/" in name:
        namespace, _, name = name.rpartition("/")
    return PackageURL(type=ptype, namespace=namespace, name=name, version=version or None).to_string()


def make_package(
    file: FileInput,
    found_by: str,
    ecosystem: str,
    name: str,
    version: str,
    *,
    installed: bool,
    licenses: Iterable[str] = (),
    depends: Iterable[str] = (),
    extra: Iterable[tuple[str, str]] = (),
) -> Package:
    """A Package read from ``file`` (path and layer from the file; licenses and depends sorted, unique)."""
    return Package(
        name=name,
        version=version,
        ecosystem=ecosystem,
        purl=make_purl(ecosystem, name, version),
        layer=file.layer,
        path=file.path,
        found_by=found_by,
        installed=installed,
        licenses=tuple(dict.fromkeys(lic for lic in licenses if lic)),
        depends=tuple(sorted({d for d in depends if d})),
        extra=tuple(sorted(extra)),
    )


def load_json(file: FileInput) -> Any:
    """The file's content parsed as JSON (a BOM is tolerated, .NET tools write one)."""
    return json.loads(file.read().decode("utf-8-sig"))


def load_toml(file: FileInput) -> dict[str, Any]:
    """The file's content parsed as TOML (tomllib is imported on first use)."""
    import tomllib

    return tomllib.loads(file.read().decode("utf-8"))


#: the deepest flow-collection nesting (``[[[…`` / ``{{{…``) accepted in YAML: PyYAML's C composer recurses
#: per level and crashes the process (SIGSEGV) on ~100,000 levels; real lock files nest fewer than 10
MAX_YAML_FLOW_DEPTH = 1000


def flow_depth(text: str) -> int:
    """An upper bound of the flow-collection nesting in YAML ``text`` (brackets inside quotes count too)."""
    if text.count("[") + text.count("{") <= MAX_YAML_FLOW_DEPTH:
        return text.count("[") + text.count("{")
    depth = deepest = 0
    for match in re.finditer(r"[\[\]{}]", text):  # rare: only past MAX_YAML_FLOW_DEPTH brackets
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif depth:
            depth -= 1
    return deepest


def load_yaml(file: FileInput) -> Any:
    """The file's content parsed as YAML (safe loader; PyYAML is imported lazily). Block nesting is bounded
    by the file size limit (each level indents one more column); flow nesting is checked first."""
    import yaml

    text = file.read().decode("utf-8")
    if flow_depth(text) > MAX_YAML_FLOW_DEPTH:
        raise MalformedFileError(f"YAML nested more than {MAX_YAML_FLOW_DEPTH} levels deep")
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise MalformedFileError(f"invalid YAML: {str(exc).splitlines()[0]}") from None


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON/TOML/YAML mapping; MalformedFileError naming ``what`` otherwise."""
    if not isinstance(value, dict):
        raise MalformedFileError(f"{what} is not an object")
    return value


def text_field(entry: Any, key: str) -> str:
    """``entry[key]`` when ``entry`` is a mapping and the value a string (or number); else ``""``."""
    if not isinstance(entry, dict):
        return ""
    value = entry.get(key)
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    return ""


def dict_keys(entry: Any, *keys: str) -> list[str]:
    """The keys of every mapping ``entry[key]`` (dependency maps), as strings."""
    out: list[str] = []
    if isinstance(entry, dict):
        for key in keys:
            value = entry.get(key)
            if isinstance(value, dict):
                out.extend(str(k) for k in value)
    return out


def license_names(value: Any) -> list[str]:
    """License names from the common shapes: ``"MIT"``, ``["MIT", ...]``, ``{"type": "MIT"}``, ``[{"type": ...}]``."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        return license_names(value.get("type") or value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in license_names(item)]
    return []


def basename(path: str) -> str:
    """The last path component (plain string slicing: this runs for every entry of every layer)."""
    return path[path.rfind("/") + 1 :]


def malformed(file: FileInput, message: str) -> AnalysisResult:
    """A result holding one ``malformed-file`` warning naming the file."""
    warning = ScanWarning(code="malformed-file", message=f"{file.path}: {message}", path=file.path, layer=file.layer)
    return AnalysisResult(warnings=[warning])


def dedupe(packages: Iterable[Package]) -> list[Package]:
    """Unique packages by (ecosystem, name, version, path), sorted; the first occurrence wins."""
    seen: dict[tuple[str, str, str, str], Package] = {}
    for pkg in packages:
        seen.setdefault(pkg.key(), pkg)
    return [seen[k] for k in sorted(seen)]


class ManifestAnalyzer(Analyzer):
    """An analyzer that maps each claimed file to a parser and reports malformed files as warnings.

    Subclasses set :attr:`suffixes` and implement :meth:`parser_for` (which parser reads a path).
    """

    #: every claimed path ends with one of these: a cheap pre-filter, since ``wants`` runs for every entry
    suffixes: ClassVar[tuple[str, ...]] = ()

    def path_hint(self) -> EntryHint:
        """The suffixes of the files this analyzer parses."""
        return EntryHint(tuple(s.lower() for s in self.suffixes))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Regular files whose path has a parser."""
        return path.endswith(self.suffixes) and info.kind == "file" and self.parser_for(path) is not None

    def parser_for(self, path: str) -> Parser | None:  # pragma: no cover - abstract
        """The parser for ``path`` (None: not ours after all)."""
        raise NotImplementedError

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Parse the file; a malformed file gives a warning naming it instead of an exception."""
        parser = self.parser_for(file.path)
        if parser is None:
            return None
        try:
            packages = parser(file)
        except PARSE_ERRORS as exc:
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, UnicodeDecodeError):
                detail = "not valid UTF-8"
            return malformed(file, f"malformed {basename(file.path)}: {detail}")
        if not packages:
            return None
        return AnalysisResult(packages=dedupe(packages))
