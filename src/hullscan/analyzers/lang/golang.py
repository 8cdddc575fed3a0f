"""Go: modules compiled into binaries (embedded build info) and modules declared in ``go.mod`` / ``go.sum``.

Binary packages (``installed=True``):

* the main module (``mod`` line; a ``(devel)`` version is taken from ``-ldflags -X ...version=`` when the build
  stamped one, else kept as ``(devel)`` and noted in ``extra``),
* every ``dep`` line, with its ``=>`` replacement applied (the replacement's path and version; a local
  directory replacement keeps the original path with version ``(devel)``),
* ``stdlib`` at the toolchain version (``go1.21.3`` -> ``1.21.3``) so the Go standard library is matched too.

Build settings (``-ldflags``, ``CGO_ENABLED``, ``vcs.revision``...) go to ``extra`` of the main module
(or of ``stdlib`` when the binary has no main module, as GOPATH-mode builds).
Versions keep Go's canonical ``v`` prefix (``v1.2.3``), as ``go version -m`` prints them.

``go.mod`` packages (``installed=False``): every ``require`` with ``replace`` applied (``// indirect`` noted), and
``stdlib`` from the ``toolchain`` directive; ``go.sum``: every module whose code (not only its go.mod) was hashed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.lang.binary import ExecutableAnalyzer, malformed
from hullscan.analyzers.os.purls import build_purl
from hullscan.model import AnalysisResult, Package

if TYPE_CHECKING:  # the executable readers are imported when a candidate binary is analyzed
    from hullscan.analyzers.lang.gobuildinfo import Executable, GoBuildInfo, GoModule

ECOSYSTEM = "Go"
#: smallest executable worth reading: a stripped stdlib-only Go binary is ~1 MiB
DEVEL = "(devel)"


def go_purl(module: str, version: str) -> str:
    """``pkg:golang/<namespace>/<name>@<version>`` for a module path."""
    namespace, _, name = module.rpartition("/")
    return build_purl("golang", namespace, name, version, {})


def stdlib_version(go_version: str) -> str:
    """``go1.21.3`` -> ``1.21.3``; ``go1.19`` -> ``1.19.0``; ``go1.22rc1`` -> ``1.22.0-rc.1``; other -> ``(devel)``."""
    word = go_version.split()[0] if go_version.split() else ""
    match = re.fullmatch(r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?(?:[-+].*)?", word)
    if not match:
        return DEVEL
    major, minor, patch, pre, pre_n = match.groups()
    base = f"{major}.{minor}.{patch or 0}"
    return f"{base}-{pre}.{pre_n}" if pre else base


def _is_local(path: str) -> bool:
    return path.startswith(("./", "../", "/")) or path in (".", "..") or bool(re.match(r"^[A-Za-z]:\\", path))


def _resolved(mod: GoModule) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(name, version, extra) of a module after applying its replacement."""
    repl = mod.replace
    if repl is None:
        return mod.path, mod.version, ()
    note = (("replaces", f"{mod.path}@{mod.version}" if mod.version else mod.path),)
    if _is_local(repl.path):
        return mod.path, DEVEL, note + (("replaced_by_dir", repl.path),)
    return repl.path, repl.version or mod.version, note


@functools.cache
def _ldflag_x() -> re.Pattern[str]:
    """``-X <symbol>=<value>`` in ``-ldflags`` (compiled on first use: start-up stays cheap)."""
    return re.compile(r"""-X[= ]?\s*['"]?([^\s='"]+)=['"]?([^\s'"]+)""")


def ldflags_version(ldflags: str, main_module: str) -> str:
    """The main module's version set with ``-ldflags "-X <pkg>.version=1.2.3"``, or "" (as Trivy and Syft do).

    Only symbols in package ``main`` or under the main module whose name is ``version``/``ver``
    (any case, e.g. ``Version``, ``gitVersion``) and whose value looks like a version count.
    """
    for symbol, value in _ldflag_x().findall(ldflags):
        package, _, var = symbol.rpartition(".")
        if not (package == "main" or package == main_module or package.startswith(main_module + "/")):
            continue
        if not (var.lower().endswith("version") or var.lower() == "ver"):
            continue
        if re.fullmatch(r"v?\d+(\.\d+){1,2}([-+][0-9A-Za-z.+-]+)?", value):
            return value if value.startswith("v") else f"v{value}"
    return ""


def buildinfo_packages(info: GoBuildInfo, file: FileInput, found_by: str) -> list[Package]:
    """Packages for one binary's build info."""
    settings = tuple((f"build:{k}", v) for k, v in info.settings)
    toolchain = (("go_toolchain", info.go_version),)
    main_path = (("main_package", info.path),) if info.path else ()

    def make(name: str, version: str, extra: tuple[tuple[str, str], ...] = (), depends: tuple[str, ...] = ()) -> Package:
        return Package(
            name=name,
            version=version,
            ecosystem=ECOSYSTEM,
            purl=go_purl(name, version),
            layer=file.layer,
            path=file.path,
            found_by=found_by,
            module=info.main.path if info.main else "",
            depends=depends,
            extra=extra,
        )

    deps = [make(*_resolved(dep)) for dep in info.deps]
    std_version = stdlib_version(info.go_version)
    std_extra = toolchain + (() if info.main else main_path + settings)
    if std_version == DEVEL:
        std_extra += (("version_note", f"toolchain {info.go_version!r} is not a release"),)
    packages = deps + [make("stdlib", std_version, std_extra)]
    if info.main is not None:
        name, version, extra = _resolved(info.main)
        if version in ("", DEVEL):
            stamped = ldflags_version(dict(info.settings).get("-ldflags", ""), name)
            if stamped:
                version, extra = stamped, extra + (("version_source", "ldflags"),)
            else:
                version = DEVEL
                extra += (("version_note", "(devel): built from a source tree without a module version"),)
        depends = tuple(sorted({p.name for p in packages}))  # build info does not tell direct from indirect
        packages.append(make(name, version, extra + toolchain + main_path + settings, depends))
    return sorted(packages, key=Package.key)


class GoBinaryAnalyzer(ExecutableAnalyzer):
    """Modules embedded in Go executables (ELF, PE, Mach-O), read in pure Python."""

    name = "lang/go-binary"
    version = 3
    tags = frozenset({"lang", "go"})
    marker = b"\xff Go buildinf:"
    what = "Go build info"

    def extract(self, exe: Executable) -> Any:
        """The build info, or None when the executable is not a Go binary."""
        from hullscan.analyzers.lang.gobuildinfo import read_go_buildinfo

        return read_go_buildinfo(exe)

    def result(self, file: FileInput, payload: Any) -> AnalysisResult | None:
        """Main module, dependencies and the standard library."""
        return AnalysisResult(packages=buildinfo_packages(payload, file, self.name))


# --------------------------------------------------------------------------- go.mod / go.sum

@functools.cache
def _require_line() -> re.Pattern[str]:
    """``<path> <version> [rest]`` of a ``require`` line (compiled on first use)."""
    return re.compile(r"^(\S+)\s+(\S+)(.*)$")


def _strip_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("//")
    return code.strip(), comment.strip()


@dataclass
class GoModFile:
    """The directives of a ``go.mod`` that name versions."""

    module: str = ""
    go: str = ""  # the ``go`` directive (language version, e.g. 1.21 or 1.21.3)
    toolchain: str = ""  # the ``toolchain`` directive (e.g. go1.21.3)
    requires: list[tuple[str, str, bool]] = field(default_factory=list)  # (path, version, indirect)
    replaces: dict[str, tuple[str, str]] = field(default_factory=dict)  # path or path@version -> (new path, new version)


def parse_go_mod(text: str) -> GoModFile:
    """Parse ``module``, ``go``, ``toolchain``, ``require`` and ``replace`` directives (single lines and blocks)."""
    mod = GoModFile()
    require_line = _require_line()
    block = ""
    for raw in text.splitlines():
        code, comment = _strip_comment(raw)
        if not code:
            continue
        if block:
            if code == ")":
                block = ""
                continue
            directive, rest = block, code
        else:
            directive, _, rest = code.partition(" ")
            rest = rest.strip()
            if rest == "(":
                block = directive
                continue
        if directive == "module":
            mod.module = rest.strip('"')
        elif directive == "go":
            mod.go = rest
        elif directive == "toolchain":
            mod.toolchain = rest
        elif directive == "require":
            match = require_line.match(rest)
            if match:
                mod.requires.append((match.group(1).strip('"'), match.group(2), comment == "indirect"))
        elif directive == "replace":
            left, sep, right = rest.partition("=>")
            if not sep:
                continue
            old = left.split()
            new = right.split()
            if old and new:
                key = "@".join(old[:2])
                mod.replaces[key] = (new[0], new[1] if len(new) > 1 else "")
    return mod


def declared_toolchain(mod: GoModFile) -> str:
    """The Go release a module declares it builds with: the ``toolchain`` directive, else a ``go`` directive
    with a patch level (``go 1.21.3``; since Go 1.21 that names a release); "" otherwise."""
    if mod.toolchain:
        version = stdlib_version(mod.toolchain)
        return "" if version == DEVEL else version
    if re.fullmatch(r"\d+\.\d+\.\d+", mod.go):
        return mod.go
    return ""


class GoModAnalyzer(Analyzer):
    """Modules declared in ``go.mod`` (require + replace) and downloaded per ``go.sum`` (``installed=False``)."""

    name = "lang/go-mod"
    version = 2
    tags = frozenset({"lang", "go"})
    max_size = 16 * 1024 * 1024

    def path_hint(self) -> EntryHint:
        """``go.mod`` and ``go.sum`` files."""
        return EntryHint(("/go.mod", "/go.sum"))

    def wants(self, path: str, info: FileMeta) -> bool:
        """``go.mod`` and ``go.sum`` files."""
        return path.endswith(("/go.mod", "/go.sum")) and info.kind == "file"

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Dispatch on the file name."""
        try:
            text = file.read().decode("utf-8")
        except UnicodeDecodeError:
            return malformed(file, "not UTF-8 text")
        if file.path.endswith("go.sum"):
            return self._go_sum(file, text)
        return self._go_mod(file, text)

    def _package(self, file: FileInput, name: str, version: str, module: str, extra: tuple[tuple[str, str], ...]) -> Package:
        return Package(
            name=name,
            version=version,
            ecosystem=ECOSYSTEM,
            purl=go_purl(name, version),
            layer=file.layer,
            path=file.path,
            found_by=self.name,
            installed=False,
            module=module,
            extra=extra,
        )

    def _go_mod(self, file: FileInput, text: str) -> AnalysisResult:
        mod = parse_go_mod(text)
        module, replaces = mod.module, mod.replaces
        if not module and not mod.requires:
            return malformed(file, "no module or require directive")
        packages = []
        toolchain = declared_toolchain(mod)
        if toolchain:  # the standard library the module is built with (as Trivy reports it)
            source = "toolchain directive" if mod.toolchain else "go directive"
            packages.append(self._package(file, "stdlib", toolchain, module, (("source", source),)))
        for path, version, indirect in mod.requires:
            extra: tuple[tuple[str, str], ...] = (("indirect", "true"),) if indirect else ()
            name, ver = path, version
            repl = replaces.get(f"{path}@{version}") or replaces.get(path)
            if repl is not None:
                extra += (("replaces", f"{path}@{version}"),)
                if _is_local(repl[0]):
                    ver, extra = DEVEL, extra + (("replaced_by_dir", repl[0]),)
                else:
                    name, ver = repl[0], repl[1] or version
            packages.append(self._package(file, name, ver, module, extra))
        return AnalysisResult(packages=sorted(packages, key=Package.key))

    def _go_sum(self, file: FileInput, text: str) -> AnalysisResult:
        seen: set[tuple[str, str]] = set()
        bad = 0
        for line in text.splitlines():
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3 or not fields[2].startswith("h1:"):
                bad += 1
                continue
            if not fields[1].endswith("/go.mod"):  # module zip hash: the module's code was downloaded
                seen.add((fields[0], fields[1]))
        if bad and not seen:
            return malformed(file, f"{bad} line(s) are not '<module> <version> h1:<hash>'")
        packages = [self._package(file, n, v, "", (("source", "go.sum"),)) for n, v in sorted(seen)]
        return AnalysisResult(packages=packages)
