"""SPDX 2.3 JSON via ``spdx-tools`` (imported lazily).

The document ``DESCRIBES`` the image package (purpose ``CONTAINER``, SHA256 checksum = manifest digest); the image
``CONTAINS`` the operating system (purpose ``OPERATING_SYSTEM``) and every package (``LIBRARY``); known
dependencies are ``DEPENDS_ON`` relationships. Each package carries its purl as a ``PACKAGE-MANAGER purl``
external reference, and its layer and file path in ``sourceInfo``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, TextIO

from hullscan import __version__
from hullscan.model import Package, ScanReport
from hullscan.report.cyclonedx import (
    dependency_edges,
    document_id,
    document_time,
    image_name,
    image_purl,
    package_refs,
)

if TYPE_CHECKING:  # pragma: no cover
    from spdx_tools.spdx.model import Document

NAMESPACE_BASE = "https://hullscan.dev/spdxdocs"
IMAGE_ID = "SPDXRef-Image"
OS_ID = "SPDXRef-OperatingSystem"


def spdx_id(prefix: str, ref: str) -> str:
    """A valid, unique SPDX id (``SPDXRef-[A-Za-z0-9.-]+``) for a package reference."""
    digest = hashlib.sha256(ref.encode()).hexdigest()[:12]
    return f"SPDXRef-{prefix}-{re.sub(r'[^A-Za-z0-9.-]+', '-', ref.split('?')[0].split('#')[0])[:80].strip('-')}-{digest}"


def source_info(pkg: Package) -> str:
    """Where the package was found, in words (``sourceInfo``)."""
    state = "installed" if pkg.installed else "declared (lock file, not installed)"
    text = f"{state}; found by {pkg.found_by} in {pkg.path} (layer {pkg.layer or 'unknown'})"
    if pkg.source_name or pkg.source_version:
        # the source package, which OS matching keys on (SPDX 2.3 has no field for it; read back by hullscan.sbom)
        text += f"; source package {pkg.source_name or pkg.name} {pkg.source_version or pkg.version}"
    return text


def license_ref(name: str) -> str:
    """The ``LicenseRef-`` id of a licence outside the SPDX list (``BSD-like`` -> ``LicenseRef-BSD-like``)."""
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", name.strip()).strip("-") or "unknown")


def declared_license(licenses: tuple[str, ...], refs: dict[str, str] | None = None) -> Any:
    """The licenses as one SPDX expression (``A AND (B OR C)``); a part that is no valid SPDX expression of known
    identifiers (a free-text name such as ``BSD-like``) becomes a ``LicenseRef-`` id, recorded in ``refs``
    (id -> the text as found) for the document's extracted licensing infos. None when there is no licence."""
    if not licenses:
        return None
    from spdx_tools.common.spdx_licensing import spdx_licensing

    parts = []
    for lic in licenses:
        info = spdx_licensing.validate(lic)
        if info.errors or info.invalid_symbols:
            ref = license_ref(lic)
            if refs is not None:
                refs.setdefault(ref, lic)
            parts.append(ref)
            continue
        parts.append(f"({lic})" if " " in lic.strip() and not lic.strip().startswith("(") else lic)
    return spdx_licensing.parse(" AND ".join(parts))


def build_document(report: ScanReport) -> Document:
    """The SPDX model of a scan report."""
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        Checksum,
        ChecksumAlgorithm,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        ExtractedLicensingInfo,
        PackagePurpose,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )
    from spdx_tools.spdx.model import Package as SpdxPackage

    def spdx_package(sid: str, name: str, version: str | None, purpose: PackagePurpose, purl: str = "", **kw: object) -> SpdxPackage:
        refs = [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)] if purl else []
        return SpdxPackage(
            spdx_id=sid,
            name=name,
            version=version or None,
            download_location=SpdxNoAssertion(),
            files_analyzed=False,
            license_concluded=SpdxNoAssertion(),
            license_declared=SpdxNoAssertion(),
            copyright_text=SpdxNoAssertion(),
            external_references=refs,
            primary_package_purpose=purpose,
            **kw,  # type: ignore[arg-type]
        )

    art = report.artifact
    name = image_name(report)
    created = document_time(report)
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=name,
        document_namespace=f"{NAMESPACE_BASE}/{re.sub(r'[^A-Za-z0-9.-]+', '-', name).strip('-') or 'image'}-{document_id(report)}",
        creators=[Actor(ActorType.TOOL, f"hullscan-{__version__}")],
        created=created.replace(tzinfo=None),
    )
    checksums = [Checksum(ChecksumAlgorithm.SHA256, art.digest.split(":", 1)[1])] if art.digest.startswith("sha256:") else []
    image = spdx_package(
        IMAGE_ID, name, art.digest or art.tag or None, PackagePurpose.CONTAINER, image_purl(report),
        checksums=checksums, comment=f"{art.kind} {art.name}; platform {art.platform}",
    )
    packages = [image]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, IMAGE_ID)]
    if report.os is not None:
        packages.append(spdx_package(OS_ID, report.os.id, report.os.version_id or report.os.codename, PackagePurpose.OPERATING_SYSTEM,
                                     description=report.os.pretty_name or None))
        relationships.append(Relationship(IMAGE_ID, RelationshipType.CONTAINS, OS_ID))
    pkgs = sorted(report.packages, key=Package.key)
    license_refs: dict[str, str] = {}  # LicenseRef- id -> the licence text as the package gave it
    ids = [spdx_id("Package", ref) for ref in package_refs(pkgs)]
    for pkg, sid in zip(pkgs, ids):
        lib = spdx_package(sid, pkg.name, pkg.version, PackagePurpose.LIBRARY, pkg.purl, source_info=source_info(pkg),
                           comment=f"ecosystem {pkg.ecosystem}" + (f"; arch {pkg.arch}" if pkg.arch else ""))
        declared = declared_license(pkg.licenses, license_refs)
        if declared is not None:
            lib.license_declared = declared
        packages.append(lib)
        relationships.append(Relationship(IMAGE_ID, RelationshipType.CONTAINS, sid))
    for i, targets in sorted(dependency_edges(pkgs).items()):
        relationships += [Relationship(ids[i], RelationshipType.DEPENDS_ON, ids[j]) for j in targets]
    extracted = [ExtractedLicensingInfo(license_id=ref, extracted_text=text, license_name=text)
                 for ref, text in sorted(license_refs.items())]
    return Document(creation_info=creation, packages=packages, relationships=relationships,
                    extracted_licensing_info=extracted)


def write(report: ScanReport, out: TextIO) -> None:
    """Write the report as SPDX 2.3 JSON.

    spdx-tools' validation pass is skipped here: it costs O(packages x relationships) (about 25 s for 1,800
    packages) and checks what :func:`build_document` guarantees by construction; the tests run the full
    validator on the output.
    """
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    write_document_to_stream(build_document(report), out, validate=False)
    out.write("\n")
