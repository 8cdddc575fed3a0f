"""Ruby gems: installed gem specifications and ``Gemfile.lock``.

Installed (``installed=True``): ``specifications/*.gemspec`` (also ``specifications/default/``),
the files RubyGems writes when it installs a gem. They are Ruby code in a fixed generated shape::

    Gem::Specification.new do |s|
      s.name = "test-unit".freeze
      s.version = "3.5.3"
      s.licenses = ["Ruby".freeze, "BSDL".freeze]
      s.add_runtime_dependency(%q<power_assert>.freeze, [">= 0"])

The text is parsed with regular expressions, never executed. Runtime dependencies
are the depends: ``add_runtime_dependency`` calls, or plain ``add_dependency`` calls when the spec
has no typed (runtime/development) form at all; generated specs repeat every dependency, development
ones included, as ``add_dependency`` in a fallback branch for old RubyGems, which must not count.

Declared (``installed=False``): ``Gemfile.lock`` / ``gems.locked``, the ``specs:`` of its ``GEM``,
``GIT`` and ``PATH`` sections (four-space ``name (version)`` lines; six-space lines are their
dependencies). A platform suffix (``nokogiri (1.16.0-x86_64-linux)``) is kept as ``platform``.
"""

from __future__ import annotations

import functools
import re

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.lockfiles import MalformedFileError, ManifestAnalyzer, Parser, basename, make_package
from hullscan.model import Package

NAME = "lang/ruby"
ECOSYSTEM = "RubyGems"

# a Ruby string literal: "x", 'x', %q<x>, %q{x}, %q(x), %q[x], %Q..., optionally .freeze
_STR = (
    r"""(?:"(?P<{0}_dq>[^"]*)"|'(?P<{0}_sq>[^']*)'"""  # "x" 'x'
    r"""|%[qQ]?(?:<(?P<{0}_lt>[^>]*)>|\{{(?P<{0}_br>[^}}]*)\}}"""  # %q<x> %q{x}
    r"""|\((?P<{0}_pa>[^)]*)\)|\[(?P<{0}_sb>[^\]]*)\]))"""  # %q(x) %q[x]
    r"""(?:\.freeze)?"""
)


def _string_re(group: str) -> str:
    """The string-literal pattern with its capture groups named ``<group>_dq``, ``<group>_sq``..."""
    return _STR.format(group)


_Pattern = re.Pattern[str]


@functools.cache
def _gemspec_patterns() -> tuple[_Pattern, _Pattern, _Pattern, _Pattern]:
    """The gemspec regexes, compiled on first use (importing the analyzers stays cheap): ``s.<field> = <value>``,
    any string literal, ``s.add_[runtime_|development_]dependency "<name>"`` and ``Gem::Version.new("<v>")``."""
    return (
        re.compile(r"^\s*\w+\.(?P<field>name|version|license|licenses)\s*=\s*(?P<value>.+?)\s*$", re.MULTILINE),
        re.compile(_string_re("s")),
        re.compile(r"^\s*\w+\.add_(?P<kind>runtime_|development_)?dependency[ (]\s*" + _string_re("d"), re.MULTILINE),
        re.compile(r"Gem::Version\.new\(\s*" + _string_re("v") + r"\s*\)"),
    )


def _string_value(match: re.Match[str], group: str) -> str:
    """The content of whichever quoting alternative matched."""
    for suffix in ("dq", "sq", "lt", "br", "pa", "sb"):
        value = match.group(f"{group}_{suffix}")
        if value is not None:
            return value
    return ""


def parse_gemspec(file: FileInput) -> list[Package]:
    """One installed gem from its generated specification."""
    text = file.read().decode("utf-8", errors="replace")
    if "Gem::Specification.new" not in text:
        raise MalformedFileError("no Gem::Specification.new block")
    assign, any_string, dependency, gem_version = _gemspec_patterns()
    fields: dict[str, list[str]] = {}
    for match in assign.finditer(text):
        value = match.group("value")
        version_call = gem_version.search(value)
        if version_call:
            strings = [_string_value(version_call, "v")]
        else:
            strings = [_string_value(m, "s") for m in any_string.finditer(value)]
        fields.setdefault(match.group("field"), strings)
    name = (fields.get("name") or [""])[0].strip()
    version = (fields.get("version") or [""])[0].strip()
    if not name or not version:
        raise MalformedFileError("no s.name or s.version assignment")
    licenses = fields.get("licenses") or fields.get("license") or []
    kinds: dict[str, list[str]] = {"runtime_": [], "development_": [], "": []}
    for match in dependency.finditer(text):
        kinds[match.group("kind") or ""].append(_string_value(match, "d"))
    # generated specs list each dependency twice: typed in the ``respond_to? :add_runtime_dependency``
    # branch, untyped (development ones included) in the fallback branch; the typed form wins
    typed = kinds["runtime_"] or kinds["development_"]
    depends = kinds["runtime_"] if typed else kinds[""]
    return [make_package(file, NAME, ECOSYSTEM, name, version, installed=True, licenses=licenses, depends=depends)]


@functools.cache
def _lock_patterns() -> tuple[_Pattern, _Pattern]:
    """A ``specs:`` entry (``    name (version)``) and one of its dependencies (``      name [(range)]``),
    compiled on first use."""
    return (
        re.compile(r"^    (?P<name>[^\s(]+) \((?P<version>[^)]+)\)$"),
        re.compile(r"^      (?P<name>[^\s(]+)(?: \(.*\))?$"),
    )


_SECTIONS = ("GEM", "GIT", "PATH")


def parse_gemfile_lock(file: FileInput) -> list[Package]:
    """The ``specs:`` of the ``GEM``, ``GIT`` and ``PATH`` sections of a ``Gemfile.lock``."""
    text = file.read().decode("utf-8")
    spec_line, dep_line = _lock_patterns()
    out: list[Package] = []
    section = ""
    in_specs = False
    current: tuple[str, str, str] | None = None  # name, version, platform
    depends: list[str] = []

    def flush() -> None:
        if current:
            name, version, platform = current
            extra = [("source", section.lower())] + ([("platform", platform)] if platform else [])
            out.append(make_package(file, NAME, ECOSYSTEM, name, version, installed=False, depends=depends,
                                    extra=extra))

    saw_section = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            flush()
            current, depends = None, []
            section, in_specs = line.strip(), False
            saw_section = saw_section or section in _SECTIONS
            continue
        if section not in _SECTIONS:
            continue
        if line == "  specs:":
            in_specs = True
            continue
        if not in_specs:
            continue
        spec = spec_line.match(line)
        if spec:
            flush()
            version, _, platform = spec.group("version").partition("-")
            if platform and not re.match(r"^[a-z]", platform):  # "1.0.0-rc1"-like prerelease, not a platform
                version, platform = spec.group("version"), ""
            current, depends = (spec.group("name"), version, platform), []
            continue
        dep = dep_line.match(line)
        if dep and current:
            depends.append(dep.group("name"))
    flush()
    if not saw_section:
        raise MalformedFileError("no GEM, GIT or PATH section")
    return out


class RubyAnalyzer(ManifestAnalyzer):
    """Installed gem specifications and Bundler lock files."""

    name = NAME
    version = 1
    tags = frozenset({"lang", "ruby"})
    max_size = 8 * 1024 * 1024
    suffixes = (".gemspec", "/Gemfile.lock", "/gems.locked")

    def parser_for(self, path: str) -> Parser | None:
        """``specifications/*.gemspec`` and ``Gemfile.lock``/``gems.locked``."""
        if path.endswith(".gemspec"):
            return parse_gemspec if ("/specifications/" in path) else None
        if basename(path) in ("Gemfile.lock", "gems.locked"):
            return parse_gemfile_lock
        return None
