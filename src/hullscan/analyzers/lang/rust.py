"""Rust: crates recorded by ``cargo auditable`` in binaries, and crates locked in ``Cargo.lock``.

``cargo auditable`` (https://github.com/rust-secure-code/cargo-auditable, format ``auditable-serde``)
stores zlib-compressed JSON in a ``.dep-v0`` section::

    {"packages": [{"name": "adler", "version": "1.0.2", "source": "crates.io",
                   "kind": "runtime", "dependencies": [3, 5], "root": true}, ...]}

``source`` is ``crates.io``, ``registry``, ``git``, ``local`` or ``other``; ``kind`` defaults to
``runtime``; ``dependencies`` are indices into ``packages``. ``Cargo.lock`` (lock file versions 1 to 4) lists
``[[package]]`` tables with ``name``, ``version``, ``source`` and ``dependencies``
(``"name"``, ``"name version"`` or ``"name version (source)"``).
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

from hullscan.analyzers.base import Analyzer, EntryHint, FileInput, FileMeta
from hullscan.analyzers.lang.binary import ExecutableAnalyzer, malformed
from hullscan.analyzers.os.purls import build_purl
from hullscan.model import AnalysisResult, Package

if TYPE_CHECKING:  # the executable readers are imported when a candidate binary is analyzed
    from hullscan.analyzers.lang.gobuildinfo import Executable

ECOSYSTEM = "crates.io"
SECTION = ".dep-v0"
#: small static Rust binaries start around 300 KiB
MIN_BINARY_SIZE = 64 * 1024
#: decompressed audit data larger than this is refused (the real thing is a few KiB)
MAX_AUDIT_JSON = 8 * 1024 * 1024


def cargo_purl(name: str, version: str) -> str:
    """``pkg:cargo/<name>@<version>``."""
    return build_purl("cargo", "", name, version, {})


def crate(
    file: FileInput, found_by: str, name: str, version: str, *, installed: bool, depends: tuple[str, ...],
    extra: tuple[tuple[str, str], ...], module: str = "",
) -> Package:
    """A crates.io package read from ``file`` (path and layer from the file, fields in the order given)."""
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=cargo_purl(name, version), layer=file.layer,
                   path=file.path, found_by=found_by, installed=installed, depends=depends, module=module, extra=extra)


def _source_kind(source: str) -> str:
    """``crates.io``, ``git``, ``local``, ``registry`` from a Cargo.lock ``source`` URL (or audit ``source``)."""
    if not source:
        return "local"
    if source in ("crates.io", "git", "local", "registry", "other"):
        return source
    if source.startswith(("registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io")):
        return "crates.io"
    if source.startswith("git+"):
        return "git"
    return "registry"


class RustBinaryAnalyzer(ExecutableAnalyzer):
    """Crates embedded by ``cargo auditable`` (``.dep-v0`` section of ELF, PE or Mach-O binaries)."""

    name = "lang/rust-binary"
    version = 2
    tags = frozenset({"lang", "rust"})
    min_size = MIN_BINARY_SIZE
    marker = SECTION.encode()
    what = f"{SECTION} section"

    def extract(self, exe: Executable) -> Any:
        """The compressed audit data, or None when the binary has none."""
        return exe.section(SECTION, "__" + SECTION)

    def result(self, file: FileInput, payload: Any) -> AnalysisResult | None:
        """Decode the audit JSON into packages."""
        raw = payload
        try:
            inflater = zlib.decompressobj()
            text = inflater.decompress(raw, MAX_AUDIT_JSON)
            if inflater.unconsumed_tail:
                return malformed(file, f"{SECTION} audit data larger than {MAX_AUDIT_JSON} bytes")
            doc = json.loads(text)
            entries = doc["packages"]
            if not isinstance(entries, list):
                raise TypeError("packages is not a list")
            packages = self._packages(file, entries)
        except (zlib.error, ValueError, KeyError, TypeError, IndexError) as exc:
            return malformed(file, f"corrupt cargo-auditable data in {SECTION}: {exc}")
        return AnalysisResult(packages=packages)

    def _packages(self, file: FileInput, entries: list[dict[str, Any]]) -> list[Package]:
        names = [str(e["name"]) for e in entries]
        root = next((names[i] for i, e in enumerate(entries) if e.get("root")), "")
        packages = []
        for entry in entries:
            name, version = str(entry["name"]), str(entry["version"])
            extra = [("source", _source_kind(str(entry.get("source", "local"))))]
            if entry.get("kind", "runtime") != "runtime":
                extra.append(("kind", str(entry["kind"])))
            if entry.get("root"):
                extra.append(("root", "true"))
            depends = tuple(sorted({names[int(i)] for i in entry.get("dependencies", [])}))
            packages.append(crate(file, self.name, name, version, installed=True, depends=depends, module=root,
                                  extra=tuple(extra)))
        return sorted(packages, key=Package.key)


class CargoLockAnalyzer(Analyzer):
    """Crates locked in ``Cargo.lock`` (versions 1-4), ``installed=False``."""

    name = "lang/cargo-lock"
    version = 1
    tags = frozenset({"lang", "rust"})
    max_size = 32 * 1024 * 1024

    def path_hint(self) -> EntryHint:
        """Files named ``Cargo.lock``."""
        return EntryHint(("/cargo.lock",))

    def wants(self, path: str, info: FileMeta) -> bool:
        """Files named ``Cargo.lock``."""
        return path.endswith("/Cargo.lock") and info.kind == "file"

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Parse the TOML and turn every ``[[package]]`` into a Package."""
        import tomllib  # on first use: start-up stays cheap

        try:
            doc = tomllib.loads(file.read().decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return malformed(file, f"not a valid Cargo.lock (TOML): {exc}")
        entries = doc.get("package", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return malformed(file, "'package' is not an array of tables")
        lock_version = str(doc.get("version", 1 if "metadata" in doc else 2))
        packages = []
        for entry in entries:
            name, version = entry.get("name"), entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str):
                return malformed(file, "a [[package]] lacks a name or a version")
            depends = tuple(sorted({str(d).split(" ", 1)[0] for d in entry.get("dependencies", [])}))
            extra = (("source", _source_kind(str(entry.get("source", "")))), ("lock_version", lock_version))
            packages.append(crate(file, self.name, name, version, installed=False, depends=depends, extra=extra))
        return AnalysisResult(packages=sorted(packages, key=Package.key))
