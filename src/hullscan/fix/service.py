"""``fix_image(target, options) -> FixResult``: scan, plan, fetch, patch, write, rescan, log.

1. the image is resolved; when its top layer is a hullscan patch layer, that layer is dropped and the fix starts
   again from the original base, so a new patch holds every update since the base (no layer build-up);
2. the base is scanned for vulnerabilities (the scan pipeline and the vulnerability database ``hullscan image``
   uses); OS packages with a fixed version are the targets;
3. the package database, package configuration and keyrings are read from the image; the repositories' signed
   indexes are fetched and verified (:mod:`hullscan.fix.apt`, :mod:`hullscan.fix.apk`); the upgrades are planned
   (:mod:`hullscan.fix.resolve`), their packages fetched and checked;
4. one patch layer is written over the base (:mod:`hullscan.fix.layer`), the image as an OCI layout, rescanned,
   then written as an OCI archive or pushed (:mod:`hullscan.fix.output`), with an OpenVEX document and this log.

A refusal (:class:`~hullscan.fix.errors.FixRefused`) ends in a result with ``status == "refused"`` and nothing
written or pushed.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from hullscan.errors import InputError
from hullscan.fix import errors as reasons
from hullscan.fix.errors import FixRefused
from hullscan.image.source import ImageSource, ResolvedImage
from hullscan.model import Category, Platform, ScanReport, Severity
from hullscan.oci import Descriptor
from hullscan.options import ScanOptions

DEFAULT_SUFFIX = "-patched"
#: ``dataclasses.replace`` for the options objects (typed loosely: they are hand-written dataclasses for now)
replace: Any = dataclasses.replace


@dataclass
class FixOptions:
    """Everything one fix needs."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    apt_sources: list[str] = field(default_factory=list)
    apk_repositories: list[str] = field(default_factory=list)
    keyrings: list[Path] = field(default_factory=list)
    output: Path | None = None
    push: str | None = None
    tag_suffix: str = DEFAULT_SUFFIX
    #: allow pushing over the image's own tag
    overwrite: bool = False
    #: folder for the working layout (default: a temporary folder, removed afterwards)
    work_dir: Path | None = None


@dataclass
class Upgrade:
    """One package the patch upgraded (or installed: ``old`` empty)."""

    name: str
    old: str
    new: str
    why: str


@dataclass
class Unfixed:
    """A vulnerable package the patch did not fix, and why."""

    package: str
    installed: str
    reason: str
    message: str
    vulnerabilities: list[str] = field(default_factory=list)


@dataclass
class FixResult:
    """The fix log."""

    target: str
    status: str = "refused"  # patched | refused
    reason: str = ""
    message: str = ""
    distro: str = ""
    base_digest: str = ""
    replaced_patch_layer: bool = False
    patched_digest: str = ""
    written_to: str = ""
    pushed_to: str = ""
    layer_digest: str = ""
    layer_size: int = 0
    upgraded: list[Upgrade] = field(default_factory=list)
    unfixed: list[Unfixed] = field(default_factory=list)
    fixed_vulnerabilities: dict[str, list[str]] = field(default_factory=dict)
    still_reported: list[str] = field(default_factory=list)
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    skipped_scripts: list[str] = field(default_factory=list)
    kept_conffiles: list[str] = field(default_factory=list)
    whiteouts: int = 0
    repositories: list[str] = field(default_factory=list)
    vex: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready log."""
        from dataclasses import asdict

        return asdict(self)


class TrimmedSource(ImageSource):
    """An image source showing only the first ``keep`` layers of the image (the base under a patch layer)."""

    def __init__(self, inner: ImageSource, keep: int | None) -> None:
        self.inner = inner
        self.keep = keep
        self.kind = inner.kind
        self.parallel = inner.parallel
        self.name = getattr(inner, "name", "")

    def resolve(self, platform: Platform | None = None) -> ResolvedImage:
        """The inner image, trimmed."""
        from hullscan.fix.output import trimmed

        resolved = self.inner.resolve(platform)
        return resolved if self.keep is None else trimmed(resolved, self.keep)

    def open_blob(self, desc: Descriptor) -> BinaryIO:
        """The inner source's blob."""
        return self.inner.open_blob(desc)

    def prefetch(self, layers: Sequence[Descriptor]) -> None:
        """Passed on."""
        self.inner.prefetch(layers)

    def in_memory(self, layers: Sequence[Descriptor]) -> bool:
        """Passed on."""
        return self.inner.in_memory(layers)

    def close(self) -> None:
        """Passed on."""
        self.inner.close()


def severity_counts(report: ScanReport) -> dict[str, int]:
    """Vulnerability findings per severity (every severity listed, highest first)."""
    counts = {s.value: 0 for s in reversed(list(Severity))}
    for f in report.findings:
        if f.category is Category.VULNERABILITY:
            counts[f.severity.value] += 1
    return counts


def _vuln_options(options: ScanOptions) -> ScanOptions:
    out: ScanOptions = replace(options, scanners=frozenset({"vuln"}), checks=(), skip_checks=())
    return out


def _open(target: str, options: ScanOptions) -> ImageSource:
    from hullscan.image.targets import open_source

    source = open_source(target, options)
    if isinstance(source, Path):
        raise InputError(f"{target}: a root filesystem folder cannot be patched: give an image (reference, OCI "
                         "layout or archive)")
    return source


def _targets(report: ScanReport, scheme: str) -> dict[str, tuple[str, str, list[str]]]:
    """Vulnerable OS packages with a fixed version: ``name -> (installed, highest fixed version, vuln ids)``;
    vulnerabilities without a fixed version are listed under ``""`` as fixed version."""
    from hullscan.version import compare

    out: dict[str, tuple[str, str, list[str]]] = {}
    for f in report.findings:
        v = f.vuln
        if v is None or f.category is not Category.VULNERABILITY or v.ecosystem != scheme:
            continue
        installed, fixed, ids = out.get(v.package_name, (v.installed_version, "", []))
        for fv in v.fixed_versions:
            try:
                if not fixed or compare(scheme, fv, fixed) > 0:
                    fixed = fv
            except ValueError:
                continue
        if f.id not in ids:
            ids.append(f.id)
        out[v.package_name] = (installed, fixed, ids)
    return out


def fix_image(target: str, options: FixOptions) -> FixResult:
    """Patch ``target``; see the module docstring. Never raises FixRefused: a refusal is the result's status."""
    result = FixResult(target=target)
    if options.output is None and not options.push:
        raise InputError("give --output ARCHIVE or --push REF")
    work = Path(tempfile.mkdtemp(prefix="hullscan-fix-", dir=options.work_dir))
    try:
        _fix(target, options, result, work)
    except FixRefused as exc:
        result.status, result.reason, result.message = "refused", exc.reason, exc.message
    finally:
        if options.work_dir is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    return result


def _fix(target: str, options: FixOptions, result: FixResult, work: Path) -> None:
    from hullscan.fix import output
    from hullscan.fix.imagefs import collect
    from hullscan.scan import scan

    scan_options = _vuln_options(options.scan)
    with _open(target, scan_options) as source:
        resolved = source.resolve(scan_options.platform)
        keep: int | None = None
        result.base_digest = resolved.artifact.digest
        if output.is_patch(resolved.config) and len(resolved.layers) > 1:
            keep = len(resolved.layers) - 1
            result.replaced_patch_layer = True
            result.base_digest = dict(resolved.manifest.get("annotations") or {}).get(output.ANN_BASE_DIGEST,
                                                                                      result.base_digest)
        base = resolved if keep is None else output.trimmed(resolved, keep)
        before = scan(target, scan_options, source=TrimmedSource(_open(target, scan_options), keep))
        result.before = severity_counts(before)
        result.distro = f"{before.os.id} {before.os.version_id or before.os.codename}".strip() if before.os else ""
        files = collect(source, base.layers, scan_options.limits)
        from hullscan.fix.dpkgdb import read_database

        db = read_database(files)
        if db is not None:
            from hullscan.fix.debian import patch_debian

            patch = patch_debian(before, base, files, db, options, result, work)
        else:
            from hullscan.fix.apk import read_installed

            apk_db = read_installed(files)
            if apk_db is None:
                raise FixRefused(reasons.UNSUPPORTED, f"{target}: no dpkg or apk package database in the image")
            from hullscan.fix.apk import patch_alpine

            patch = patch_alpine(before, base, files, apk_db, options, result, work)
        if not result.upgraded:
            if result.unfixed:
                first = result.unfixed[0]
                summary = "; ".join(f"{u.package}: {u.reason}: {u.message}" for u in result.unfixed)
                raise FixRefused(first.reason if len({u.reason for u in result.unfixed}) == 1 else "nothing-fixable",
                                 f"no package could be upgraded ({summary})")
            raise FixRefused(reasons.NOTHING_TO_FIX, f"{target}: no OS package has a fixed version to upgrade to")
        tag = (resolved.artifact.tag or "latest") + options.tag_suffix
        fixed_ids = sorted(patch.predicted)
        base_name = resolved.artifact.repository or target
        annotations = {output.ANN_BASE_DIGEST: result.base_digest, output.ANN_BASE_NAME: base_name,
                       output.ANN_FIXED: ",".join(fixed_ids),
                       output.ANN_UPGRADED: ",".join(f"{u.name}={u.new}" for u in result.upgraded)}
        created_by = "hullscan fix: " + ", ".join(f"{u.name} {u.old or '(new)'} -> {u.new}" for u in result.upgraded)
        image = output.write_layout(source, base, patch.tar, annotations, created_by, work / "layout", tag)
    result.patched_digest = image.manifest_digest
    result.layer_digest, result.layer_size = image.layer_digest, image.layer_size
    after = scan(str(image.layout), replace(scan_options, quiet=True))
    result.after = severity_counts(after)
    after_keys = {(f.id, f.vuln.package_name) for f in after.findings if f.vuln is not None}
    fixed: dict[str, list[str]] = {}
    upgraded = {u.name: u for u in result.upgraded}
    for f in before.findings:
        v = f.vuln
        if v is None or v.package_name not in upgraded:
            continue
        if (f.id, v.package_name) in after_keys:
            if f.id in patch.predicted:
                result.still_reported.append(f"{f.id} ({v.package_name})")
            continue
        pkg = next((p for p in after.packages if p.name == v.package_name and p.version == upgraded[v.package_name].new),
                   None)
        fixed.setdefault(f.id, []).append(pkg.purl if pkg is not None and pkg.purl else v.package_name)
    result.fixed_vulnerabilities = {k: sorted(set(v)) for k, v in sorted(fixed.items())}
    from hullscan.fix.vex import document, oci_purl

    if options.push:
        ref = push_reference(options.push, resolved.artifact.repository, resolved.artifact.tag, options)
        digest = output.push(image, ref, options.scan.registry)
        result.pushed_to = f"{ref.rsplit(':', 1)[0] if ':' in ref.rsplit('/', 1)[-1] else ref}@{digest}"
        repo_name = ref.rsplit("/", 1)[-1].split(":")[0]
        purl = oci_purl(repo_name, digest, ref.rsplit("/", 1)[0] if "/" in ref else "")
    else:
        assert options.output is not None
        output.write_archive(image.layout, options.output)
        result.written_to = str(options.output)
        purl = oci_purl((resolved.artifact.repository or "image").rsplit("/", 1)[-1], image.manifest_digest)
    result.vex = document(purl, result.fixed_vulnerabilities)
    result.status = "patched"


def push_reference(given: str, repository: str, tag: str, options: FixOptions) -> str:
    """The reference to push to: ``given`` as is when it has a tag; else ``given:<tag><suffix>``. The image's own
    tag is refused unless ``options.overwrite``."""
    from hullscan.registry.reference import parse_reference

    last = given.rsplit("/", 1)[-1]
    ref = given if ":" in last or "@" in last else f"{given}:{(tag or 'latest')}{options.tag_suffix}"
    parsed = parse_reference(ref)
    if parsed.digest:
        raise InputError(f"--push {given}: give a tag, not a digest")
    if not options.overwrite and repository and parsed.name == repository and parsed.tag == tag:
        raise InputError(f"--push {ref}: that is the original image's tag; pass --overwrite to replace it")
    return ref
