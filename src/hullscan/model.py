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

import enum
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform (``os/architecture[/variant]``)."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of an image, in order from the base (index 0) up."""

    index: int
    digest: str  # digest of the blob as stored (compressed)
    diff_id: str  # digest of the uncompressed tar; the cache key
    size: int  # compressed size in bytes
    media_type: str = ""
    created_by: str = ""  # the history entry that produced it, when known


@dataclass(frozen=True, slots=True)
class Distro:
    """The operating system of an image, as read from ``/etc/os-release`` and distro files."""

    id: str  # os-release ID: debian, ubuntu, alpine, rhel, almalinux, rocky, centos, fedora, amzn, sles, opensuse-leap, wolfi, chainguard, distroless...
    version_id: str = ""
    name: str = ""
    pretty_name: str = ""
    codename: str = ""
    id_like: tuple[str, ...] = ()


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Metadata of one entry in a layer (already normalised: ``path`` is absolute, inside the root)."""

    path: str
    size: int = 0
    mode: int = 0o644  # permission bits incl. setuid/setgid/sticky
    uid: int = 0
    gid: int = 0
    kind: str = "file"  # file | dir | symlink | hardlink
    linkname: str = ""  # normalised target for links


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding lives inside the image."""

    path: str = ""
    line: int = 0
    layer: str = ""  # diff_id of the layer that holds it
    removed_in: str = ""  # diff_id of a later layer that deleted or replaced it (still extractable)


@dataclass(frozen=True, slots=True)
class ScanWarning:
    """A non-fatal problem met while scanning (neutralised tar entry, malformed file, limit hit...)."""

    code: str  # e.g. path-traversal, link-escape, device-file, size-limit, malformed-file
    message: str
    path: str = ""
    layer: str = ""


# --------------------------------------------------------------------------- inventory


@dataclass(frozen=True, slots=True)
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

    @property
    def is_os(self) -> bool:
        """True for OS (distro) packages."""
        return self.ecosystem in ("deb", "rpm", "apk")

    def key(self) -> tuple[str, str, str, str]:
        """Identity used to deduplicate and sort."""
        return (self.ecosystem, self.name, self.version, self.path)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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

    def sort_key(self) -> tuple[int, str, str, str, int]:
        """Deterministic order: most severe first, then id and place."""
        return (-self.severity.rank, self.category.value, self.id, self.location.path, self.location.line)


@dataclass(slots=True)
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


@dataclass(slots=True)
class FileResult:
    """One analyzer's result for one path in one layer."""

    path: str
    analyzer: str
    result: AnalysisResult


@dataclass(slots=True)
class LayerResult:
    """Everything the analyzers found in one layer; cached by the layer's diff_id + analyzer versions."""

    diff_id: str
    files: list[FileResult] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)  # absolute paths deleted by this layer
    opaque_dirs: list[str] = field(default_factory=list)  # directories whose lower content is hidden
    written: list[str] = field(default_factory=list)  # paths this layer wrote (regular files and links)
    warnings: list[ScanWarning] = field(default_factory=list)
    bytes_read: int = 0  # decompressed bytes of the layer (the limits hold for it when it comes from the cache)
    links: dict[str, str] = field(default_factory=dict)  # symlinks this layer wrote: path -> target as stored
    entries: int = 0  # tar entries of the layer


@dataclass(slots=True)
class Inventory:
    """The squashed view of an image's analysis results."""

    distro: Distro | None = None
    packages: list[Package] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    facts: dict[str, list[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Artifact:
    """What was scanned."""

    name: str  # the reference or path given by the user
    kind: str  # registry | oci-layout | docker-archive | oci-archive | rootfs | sbom
    digest: str = ""  # manifest digest (registry, layouts); empty for rootfs
    config_digest: str = ""
    repository: str = ""
    tag: str = ""
    platform: Platform = field(default_factory=Platform)


@dataclass(frozen=True, slots=True)
class PluginStatus:
    """How each plugin fared; a plugin that failed is reported, never silently skipped."""

    name: str
    version: int
    kind: str  # analyzer | matcher | check
    status: str = "ok"  # ok | failed | skipped
    message: str = ""


@dataclass(frozen=True, slots=True)
class DatabaseSource:
    """One source of the vulnerability database (``hullscan db status`` lists them)."""

    name: str  # e.g. osv:PyPI, debian-tracker
    feed: str  # the feed parser that read it
    records: int
    newest: str  # the newest record's modification time in the source
    imported_at: str  # when this database imported it (UTC, ISO 8601)


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """The vulnerability database a scan matched against: its schema, build time and sources."""

    schema_version: int
    built_at: str  # UTC, ISO 8601
    sources: list[DatabaseSource] = field(default_factory=list)


@dataclass(slots=True)
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
    #: the vulnerability database matched against (None when the vuln scanner did not run or nothing was matched)
    database: DatabaseInfo | None = None
