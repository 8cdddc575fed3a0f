"""The domain model: frozen, typed dataclasses with no I/O.

Data flows one way through these types::

    ImageSource -> Layer streams -> FileInput -> Analyzer -> AnalysisResult
      -> LayerResult (cached per layer digest) -> Inventory (squashed)
      -> matchers and checks -> Finding -> ScanReport

Everything here is plain data so it can be cached, stored and serialised with
:mod:`hullscan.serde`.

(No ``from __future__ import annotations``: the annotations are built once at import, so that
``typing.get_type_hints``, which :mod:`hullscan.serde` and the report schema use, does not compile ~100 strings.)
"""

import dataclasses
import enum
import operator
import reprlib
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")
_set = object.__setattr__


class _Factory:
    """The default of a ``default_factory`` field in a written-out ``__init__`` (as ``dataclasses`` shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


FACTORY: Any = _Factory()


def lean_dataclass(*, frozen: bool = False) -> Callable[[type[_T]], type[_T]]:
    """``@dataclass(frozen=frozen)`` for a class that writes its ``__init__`` out, without compiling code at import.

    ``dataclasses`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and
    ``__delattr__`` as source text and compiles it: ~10 ms for this module, on every start of the program. Here
    ``__init__`` is in the class body (compiled once into the ``.pyc``) and the other methods are closures with
    the generated ones' behaviour (tuple equality of the fields for the exact same class, hash of the field
    tuple, ``Class(a=..., b=...)`` repr guarded against recursion, ``FrozenInstanceError``).
    ``dataclasses.fields``, ``replace``, ``asdict`` and ``__dataclass_params__`` are those of the plain
    decorator; tests/test_model.py checks every class against a class ``dataclasses`` makes from its fields."""

    def wrap(cls: type[_T]) -> type[_T]:
        if "__init__" not in cls.__dict__:
            raise TypeError(f"{cls.__name__}: a @lean_dataclass class writes its __init__ out")
        cls = dataclass(cls, init=False, repr=False, eq=False)  # fields and __match_args__ only: nothing compiled
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        params.init = params.repr = params.eq = True
        params.frozen = frozen
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        if len(names) > 1:
            values: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
        else:  # attrgetter of one name gives the value, not a 1-tuple (whose == tests identity first)
            values = lambda obj: tuple(getattr(obj, n) for n in names)  # noqa: E731

        def __eq__(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return values(self) == values(other)
            return NotImplemented

        @reprlib.recursive_repr()
        def __repr__(self: Any) -> str:
            return self.__class__.__qualname__ + "(" + ", ".join([f"{n}={getattr(self, n)!r}" for n in names]) + ")"

        methods: dict[str, Any] = {"__eq__": __eq__, "__repr__": __repr__}
        if frozen:
            field_names = frozenset(names)

            def __hash__(self: Any) -> int:
                return hash(values(self))

            def __setattr__(self: Any, name: str, value: Any) -> None:
                if type(self) is cls or name in field_names:
                    raise FrozenInstanceError(f"cannot assign to field {name!r}")
                super(cls, self).__setattr__(name, value)  # type: ignore[misc]

            def __delattr__(self: Any, name: str) -> None:
                if type(self) is cls or name in field_names:
                    raise FrozenInstanceError(f"cannot delete field {name!r}")
                super(cls, self).__delattr__(name)  # type: ignore[misc]

            methods.update(__hash__=__hash__, __setattr__=__setattr__, __delattr__=__delattr__)
        else:
            methods["__hash__"] = None  # eq without frozen: unhashable, as dataclasses makes it
        for name, fn in methods.items():
            if name in cls.__dict__ and name != "__hash__":
                raise TypeError(f"{cls.__name__}: {name} is made by @lean_dataclass")
            if fn is not None:
                fn.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, fn)
        return cls

    return wrap

#: Version of the JSON report schema (``docs/report-schema.md``). Bump on any incompatible change.
SCHEMA_VERSION = 1


class Severity(str, enum.Enum):
    """Severity of a finding, ordered from least to most severe."""

    UNKNOWN = "UNKNOWN"
    NEGLIGIBLE = "NEGLIGIBLE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """Position in the order UNKNOWN < NEGLIGIBLE < LOW < MEDIUM < HIGH < CRITICAL."""
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def parse(cls, text: str | None) -> "Severity":
        """Map a free-form severity word (``important``, ``moderate``, ``urgent``...) onto the scale."""
        if not text:
            return cls.UNKNOWN
        word = text.strip().upper()
        if word in cls.__members__:
            return cls[word]
        return _SEVERITY_SYNONYMS.get(word, cls.UNKNOWN)


_SEVERITY_ORDER = list(Severity)
_SEVERITY_SYNONYMS = {
    "IMPORTANT": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MINOR": Severity.LOW,
    "UNIMPORTANT": Severity.NEGLIGIBLE,
    "NOT YET ASSIGNED": Severity.UNKNOWN,
    "UNTRIAGED": Severity.UNKNOWN,
    "URGENT": Severity.CRITICAL,
    "NONE": Severity.NEGLIGIBLE,
    "INFO": Severity.NEGLIGIBLE,
}


class Category(str, enum.Enum):
    """The six kinds of image risk a security center reports (vulnerabilities plus five check kinds)."""

    VULNERABILITY = "vulnerability"
    BASELINE = "baseline"
    MALICIOUS = "malicious"
    SENSITIVE = "sensitive"
    HISTORY = "history"


class FixStatus(str, enum.Enum):
    """Whether a fix exists for a vulnerable package."""

    FIXED = "fixed"
    AFFECTED = "affected"  # affected, no fix released yet
    WILL_NOT_FIX = "will_not_fix"
    END_OF_LIFE = "end_of_life"
    UNKNOWN = "unknown"


# --------------------------------------------------------------------------- image


@lean_dataclass(frozen=True)
class Platform:
    """An OCI platform (``os/architecture[/variant]``)."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __init__(self, os: str = "linux", architecture: str = "amd64", variant: str = "") -> None:
        _set(self, "os", os)
        _set(self, "architecture", architecture)
        _set(self, "variant", variant)

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@lean_dataclass(frozen=True)
class Layer:
    """One layer of an image, in order from the base (index 0) up."""

    index: int
    digest: str  # digest of the blob as stored (compressed)
    diff_id: str  # digest of the uncompressed tar; the cache key
    size: int  # compressed size in bytes
    media_type: str = ""
    created_by: str = ""  # the history entry that produced it, when known

    def __init__(self, index: int, digest: str, diff_id: str, size: int, media_type: str = "",
                 created_by: str = "") -> None:
        _set(self, "index", index)
        _set(self, "digest", digest)
        _set(self, "diff_id", diff_id)
        _set(self, "size", size)
        _set(self, "media_type", media_type)
        _set(self, "created_by", created_by)


@lean_dataclass(frozen=True)
class Distro:
    """The operating system of an image, as read from ``/etc/os-release`` and distro files."""

    id: str  # os-release ID: debian, ubuntu, alpine, rhel, almalinux, rocky, centos, fedora, amzn, sles, opensuse-leap, wolfi, chainguard, distroless...
    version_id: str = ""
    name: str = ""
    pretty_name: str = ""
    codename: str = ""
    id_like: tuple[str, ...] = ()

    def __init__(self, id: str, version_id: str = "", name: str = "", pretty_name: str = "", codename: str = "",
                 id_like: tuple[str, ...] = ()) -> None:
        _set(self, "id", id)
        _set(self, "version_id", version_id)
        _set(self, "name", name)
        _set(self, "pretty_name", pretty_name)
        _set(self, "codename", codename)
        _set(self, "id_like", id_like)


# --------------------------------------------------------------------------- files


@lean_dataclass(frozen=True)
class FileInfo:
    """Metadata of one entry in a layer (already normalised: ``path`` is absolute, inside the root)."""

    path: str
    size: int = 0
    mode: int = 0o644  # permission bits incl. setuid/setgid/sticky
    uid: int = 0
    gid: int = 0
    kind: str = "file"  # file | dir | symlink | hardlink
    linkname: str = ""  # normalised target for links

    def __init__(self, path: str, size: int = 0, mode: int = 0o644, uid: int = 0, gid: int = 0, kind: str = "file",
                 linkname: str = "") -> None:
        _set(self, "path", path)
        _set(self, "size", size)
        _set(self, "mode", mode)
        _set(self, "uid", uid)
        _set(self, "gid", gid)
        _set(self, "kind", kind)
        _set(self, "linkname", linkname)


@lean_dataclass(frozen=True)
class Location:
    """Where a finding lives inside the image."""

    path: str = ""
    line: int = 0
    layer: str = ""  # diff_id of the layer that holds it
    removed_in: str = ""  # diff_id of a later layer that deleted or replaced it (still extractable)

    def __init__(self, path: str = "", line: int = 0, layer: str = "", removed_in: str = "") -> None:
        _set(self, "path", path)
        _set(self, "line", line)
        _set(self, "layer", layer)
        _set(self, "removed_in", removed_in)


@lean_dataclass(frozen=True)
class ScanWarning:
    """A non-fatal problem met while scanning (neutralised tar entry, malformed file, limit hit...)."""

    code: str  # e.g. path-traversal, link-escape, device-file, size-limit, malformed-file
    message: str
    path: str = ""
    layer: str = ""

    def __init__(self, code: str, message: str, path: str = "", layer: str = "") -> None:
        _set(self, "code", code)
        _set(self, "message", message)
        _set(self, "path", path)
        _set(self, "layer", layer)


# --------------------------------------------------------------------------- inventory


@lean_dataclass(frozen=True)
class Package:
    """An installed (or declared) package.

    ``version`` is the full version as the ecosystem's comparison scheme expects it
    (deb ``[epoch:]upstream[-revision]``; rpm ``[epoch:]version-release``; apk ``1.2.3-r0``).
    ``ecosystem`` is ``deb``, ``rpm`` or ``apk`` for OS packages and the OSV ecosystem name for
    language packages (``PyPI``, ``npm``, ``Maven``, ``Go``, ``crates.io``, ``RubyGems``,
    ``Packagist``, ``NuGet``).
    """

    name: str
    version: str
    ecosystem: str
    purl: str = ""
    arch: str = ""
    source_name: str = ""  # deb Source, rpm SOURCERPM name, apk origin
    source_version: str = ""
    layer: str = ""  # diff_id of the layer that introduced it
    path: str = ""  # the database or manifest file it was read from
    found_by: str = ""  # analyzer name
    installed: bool = True  # False: only declared in a lock file
    files: tuple[str, ...] = ()  # installed files, where the database lists them
    licenses: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()  # names of direct dependencies, where known
    module: str = ""  # rpm modularity label / Go main module / Maven groupId
    extra: tuple[tuple[str, str], ...] = ()  # small ecosystem-specific facts (key, value)

    def __init__(self, name: str, version: str, ecosystem: str, purl: str = "", arch: str = "", source_name: str = "",
                 source_version: str = "", layer: str = "", path: str = "", found_by: str = "", installed: bool = True,
                 files: tuple[str, ...] = (), licenses: tuple[str, ...] = (), depends: tuple[str, ...] = (),
                 module: str = "", extra: tuple[tuple[str, str], ...] = ()) -> None:
        _set(self, "name", name)
        _set(self, "version", version)
        _set(self, "ecosystem", ecosystem)
        _set(self, "purl", purl)
        _set(self, "arch", arch)
        _set(self, "source_name", source_name)
        _set(self, "source_version", source_version)
        _set(self, "layer", layer)
        _set(self, "path", path)
        _set(self, "found_by", found_by)
        _set(self, "installed", installed)
        _set(self, "files", files)
        _set(self, "licenses", licenses)
        _set(self, "depends", depends)
        _set(self, "module", module)
        _set(self, "extra", extra)

    @property
    def is_os(self) -> bool:
        """True for OS (distro) packages."""
        return self.ecosystem in ("deb", "rpm", "apk")

    def key(self) -> tuple[str, str, str, str]:
        """Identity used to deduplicate and sort."""
        return (self.ecosystem, self.name, self.version, self.path)


@lean_dataclass(frozen=True)
class VulnInfo:
    """Vulnerability-specific detail of a finding."""

    package_name: str
    installed_version: str
    ecosystem: str
    purl: str = ""
    source_name: str = ""
    aliases: tuple[str, ...] = ()
    fixed_versions: tuple[str, ...] = ()
    fix_status: FixStatus = FixStatus.UNKNOWN
    cvss_score: float | None = None
    cvss_vector: str = ""
    severity_source: str = ""
    data_source: str = ""
    references: tuple[str, ...] = ()
    published: str = ""
    modified: str = ""

    def __init__(self, package_name: str, installed_version: str, ecosystem: str, purl: str = "", source_name: str = "",
                 aliases: tuple[str, ...] = (), fixed_versions: tuple[str, ...] = (),
                 fix_status: FixStatus = FixStatus.UNKNOWN, cvss_score: float | None = None, cvss_vector: str = "",
                 severity_source: str = "", data_source: str = "", references: tuple[str, ...] = (),
                 published: str = "", modified: str = "") -> None:
        _set(self, "package_name", package_name)
        _set(self, "installed_version", installed_version)
        _set(self, "ecosystem", ecosystem)
        _set(self, "purl", purl)
        _set(self, "source_name", source_name)
        _set(self, "aliases", aliases)
        _set(self, "fixed_versions", fixed_versions)
        _set(self, "fix_status", fix_status)
        _set(self, "cvss_score", cvss_score)
        _set(self, "cvss_vector", cvss_vector)
        _set(self, "severity_source", severity_source)
        _set(self, "data_source", data_source)
        _set(self, "references", references)
        _set(self, "published", published)
        _set(self, "modified", modified)


@lean_dataclass(frozen=True)
class Finding:
    """One risk in an image: a vulnerability or a check result, uniform across categories."""

    id: str  # vulnerability id (CVE-..., GHSA-...) or check id (e.g. secret-aws-access-key)
    category: Category
    severity: Severity
    title: str
    description: str = ""
    location: Location = field(default_factory=Location)
    evidence: str = ""  # never an unmasked secret
    remediation: str = ""
    vuln: VulnInfo | None = None

    def __init__(self, id: str, category: Category, severity: Severity, title: str, description: str = "",
                 location: Location = FACTORY, evidence: str = "", remediation: str = "",
                 vuln: VulnInfo | None = None) -> None:
        _set(self, "id", id)
        _set(self, "category", category)
        _set(self, "severity", severity)
        _set(self, "title", title)
        _set(self, "description", description)
        _set(self, "location", Location() if location is FACTORY else location)
        _set(self, "evidence", evidence)
        _set(self, "remediation", remediation)
        _set(self, "vuln", vuln)

    def sort_key(self) -> tuple[int, str, str, str, int]:
        """Deterministic order: most severe first, then id and place."""
        return (-self.severity.rank, self.category.value, self.id, self.location.path, self.location.line)


@lean_dataclass()
class AnalysisResult:
    """What one analyzer found in one file. All fields are optional."""

    packages: list[Package] = field(default_factory=list)
    distro: Distro | None = None
    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    #: installed files per package, for databases that keep them in separate files (dpkg ``info/*.list``):
    #: key ``"<ecosystem>:<name>"``
    owners: dict[str, list[str]] = field(default_factory=dict)
    #: facts other checks need, e.g. ``{"setuid": ["/usr/bin/x"]}``
    facts: dict[str, list[str]] = field(default_factory=dict)

    def __init__(self, packages: list[Package] = FACTORY, distro: Distro | None = None,
                 findings: list[Finding] = FACTORY, warnings: list[ScanWarning] = FACTORY,
                 owners: dict[str, list[str]] = FACTORY, facts: dict[str, list[str]] = FACTORY) -> None:
        self.packages = list() if packages is FACTORY else packages
        self.distro = distro
        self.findings = list() if findings is FACTORY else findings
        self.warnings = list() if warnings is FACTORY else warnings
        self.owners = dict() if owners is FACTORY else owners
        self.facts = dict() if facts is FACTORY else facts


@lean_dataclass()
class FileResult:
    """One analyzer's result for one path in one layer."""

    path: str
    analyzer: str
    result: AnalysisResult

    def __init__(self, path: str, analyzer: str, result: AnalysisResult) -> None:
        self.path = path
        self.analyzer = analyzer
        self.result = result


@lean_dataclass()
class LayerResult:
    """Everything the analyzers found in one layer; cached by the layer's diff_id + analyzer versions."""

    diff_id: str
    files: list[FileResult] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)  # absolute paths deleted by this layer
    opaque_dirs: list[str] = field(default_factory=list)  # directories whose lower content is hidden
    written: list[str] = field(default_factory=list)  # paths this layer wrote (regular files and links)
    warnings: list[ScanWarning] = field(default_factory=list)
    bytes_read: int = 0
    links: dict[str, str] = field(default_factory=dict)  # symlinks this layer wrote: path -> target as stored

    def __init__(self, diff_id: str, files: list[FileResult] = FACTORY, whiteouts: list[str] = FACTORY,
                 opaque_dirs: list[str] = FACTORY, written: list[str] = FACTORY,
                 warnings: list[ScanWarning] = FACTORY, bytes_read: int = 0, links: dict[str, str] = FACTORY) -> None:
        self.diff_id = diff_id
        self.files = list() if files is FACTORY else files
        self.whiteouts = list() if whiteouts is FACTORY else whiteouts
        self.opaque_dirs = list() if opaque_dirs is FACTORY else opaque_dirs
        self.written = list() if written is FACTORY else written
        self.warnings = list() if warnings is FACTORY else warnings
        self.bytes_read = bytes_read
        self.links = dict() if links is FACTORY else links


@lean_dataclass()
class Inventory:
    """The squashed view of an image's analysis results."""

    distro: Distro | None = None
    packages: list[Package] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    facts: dict[str, list[str]] = field(default_factory=dict)

    def __init__(self, distro: Distro | None = None, packages: list[Package] = FACTORY,
                 findings: list[Finding] = FACTORY, warnings: list[ScanWarning] = FACTORY,
                 facts: dict[str, list[str]] = FACTORY) -> None:
        self.distro = distro
        self.packages = list() if packages is FACTORY else packages
        self.findings = list() if findings is FACTORY else findings
        self.warnings = list() if warnings is FACTORY else warnings
        self.facts = dict() if facts is FACTORY else facts


# --------------------------------------------------------------------------- report


@lean_dataclass(frozen=True)
class ImageConfigSummary:
    """The parts of the image config that checks and reports use."""

    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    healthcheck: tuple[str, ...] = ()
    created: str = ""
    history: tuple[tuple[str, bool], ...] = ()  # (created_by, empty_layer)

    def __init__(self, user: str = "", env: tuple[str, ...] = (), entrypoint: tuple[str, ...] = (),
                 cmd: tuple[str, ...] = (), working_dir: str = "", exposed_ports: tuple[str, ...] = (),
                 labels: tuple[tuple[str, str], ...] = (), healthcheck: tuple[str, ...] = (), created: str = "",
                 history: tuple[tuple[str, bool], ...] = ()) -> None:
        _set(self, "user", user)
        _set(self, "env", env)
        _set(self, "entrypoint", entrypoint)
        _set(self, "cmd", cmd)
        _set(self, "working_dir", working_dir)
        _set(self, "exposed_ports", exposed_ports)
        _set(self, "labels", labels)
        _set(self, "healthcheck", healthcheck)
        _set(self, "created", created)
        _set(self, "history", history)


@lean_dataclass(frozen=True)
class Artifact:
    """What was scanned."""

    name: str  # the reference or path given by the user
    kind: str  # registry | oci-layout | docker-archive | oci-archive | rootfs | sbom
    digest: str = ""  # manifest digest (registry, layouts); empty for rootfs
    config_digest: str = ""
    repository: str = ""
    tag: str = ""
    platform: Platform = field(default_factory=Platform)

    def __init__(self, name: str, kind: str, digest: str = "", config_digest: str = "", repository: str = "",
                 tag: str = "", platform: Platform = FACTORY) -> None:
        _set(self, "name", name)
        _set(self, "kind", kind)
        _set(self, "digest", digest)
        _set(self, "config_digest", config_digest)
        _set(self, "repository", repository)
        _set(self, "tag", tag)
        _set(self, "platform", Platform() if platform is FACTORY else platform)


@lean_dataclass(frozen=True)
class PluginStatus:
    """How each plugin fared; a plugin that failed is reported, never silently skipped."""

    name: str
    version: int
    kind: str  # analyzer | matcher | check
    status: str = "ok"  # ok | failed | skipped
    message: str = ""

    def __init__(self, name: str, version: int, kind: str, status: str = "ok", message: str = "") -> None:
        _set(self, "name", name)
        _set(self, "version", version)
        _set(self, "kind", kind)
        _set(self, "status", status)
        _set(self, "message", message)


@lean_dataclass()
class ScanReport:
    """The result of one scan; the JSON report is this object (see ``docs/report-schema.md``)."""

    artifact: Artifact
    schema_version: int = SCHEMA_VERSION
    os: Distro | None = None
    layers: list[Layer] = field(default_factory=list)
    config: ImageConfigSummary = field(default_factory=ImageConfigSummary)
    packages: list[Package] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)  # (finding, reason)
    warnings: list[ScanWarning] = field(default_factory=list)
    plugins: list[PluginStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "no vulnerability data for alpine 3.99"
    scanned_at: str = ""
    duration_seconds: float = 0.0

    def __init__(self, artifact: Artifact, schema_version: int = SCHEMA_VERSION, os: Distro | None = None,
                 layers: list[Layer] = FACTORY, config: ImageConfigSummary = FACTORY,
                 packages: list[Package] = FACTORY, findings: list[Finding] = FACTORY,
                 suppressed: list[tuple[Finding, str]] = FACTORY, warnings: list[ScanWarning] = FACTORY,
                 plugins: list[PluginStatus] = FACTORY, notes: list[str] = FACTORY, scanned_at: str = "",
                 duration_seconds: float = 0.0) -> None:
        self.artifact = artifact
        self.schema_version = schema_version
        self.os = os
        self.layers = list() if layers is FACTORY else layers
        self.config = ImageConfigSummary() if config is FACTORY else config
        self.packages = list() if packages is FACTORY else packages
        self.findings = list() if findings is FACTORY else findings
        self.suppressed = list() if suppressed is FACTORY else suppressed
        self.warnings = list() if warnings is FACTORY else warnings
        self.plugins = list() if plugins is FACTORY else plugins
        self.notes = list() if notes is FACTORY else notes
        self.scanned_at = scanned_at
        self.duration_seconds = duration_seconds
