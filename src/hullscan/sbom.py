"""SBOM in: read a CycloneDX (JSON or XML) or SPDX (JSON or tag-value) document, ours or another tool's
(Trivy, Syft...), into an :class:`~hullscan.model.Inventory`, then run the post-inventory stages on it.

Packages come from purls: the ecosystem from the purl type (``pypi`` -> ``PyPI``, ``cargo`` -> ``crates.io``...),
the name in the ecosystem's spelling (``group:artifact`` for Maven, ``namespace/name`` for Go, npm scopes and
Packagist), OS packages' source package from the ``upstream`` qualifier or the tool's property, and the distro
from the purl ``distro`` qualifier or the document's operating-system component. Layer, file path and
installed state are restored from hullscan's, Trivy's and Syft's properties where present. A CycloneDX
document's own VEX analyses (``not_affected``, ``false_positive``, ``resolved``) suppress the findings they name.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from hullscan.errors import InputError
from hullscan.model import Artifact, Distro, Inventory, Package, ScanReport, ScanWarning
from hullscan.options import ScanOptions

MAX_SBOM_BYTES = 512 * 1024 * 1024

#: purl type -> ecosystem (OSV spelling for language packages)
PURL_ECOSYSTEMS = {
    "deb": "deb",
    "rpm": "rpm",
    "apk": "apk",
    "pypi": "PyPI",
    "npm": "npm",
    "maven": "Maven",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "composer": "Packagist",
    "nuget": "NuGet",
}
#: purl types that describe the scanned artifact itself, not a package in it
_ARTIFACT_TYPES = {"oci", "docker"}

#: property names (hullscan, Trivy, Syft) -> our field
_LAYER_PROPS = ("hullscan:layer", "aquasecurity:trivy:LayerDiffID", "syft:location:0:layerID")
_PATH_PROPS = ("hullscan:path", "aquasecurity:trivy:FilePath", "syft:location:0:path")
_SRC_NAME_PROPS = ("hullscan:source_name", "aquasecurity:trivy:SrcName")
_SRC_VERSION_PROPS = ("hullscan:source_version", "aquasecurity:trivy:SrcVersion")
_FOUND_BY_PROPS = ("hullscan:found_by", "syft:package:foundBy")


@dataclass
class SbomDocument:
    """What was read from an SBOM."""

    format: str  # cyclonedx-json | cyclonedx-xml | spdx-json | spdx-tag-value
    name: str = ""  # the described artifact's name
    digest: str = ""
    tool: str = ""  # the producing tool, when stated
    distro: Distro | None = None
    packages: list[Package] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    #: CycloneDX VEX: (vulnerability id and aliases, purls it names, state, justification) of analysed vulnerabilities
    vex: list[tuple[frozenset[str], frozenset[str], str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- purls


def split_distro(text: str) -> Distro | None:
    """``debian-12.4`` -> Distro(debian, 12.4); ``opensuse-leap-15.5`` -> (opensuse-leap, 15.5); ``alpine`` -> (alpine)."""
    text = text.strip()
    if not text:
        return None
    match = re.match(r"^(?P<id>.+?)-(?P<version>\d[\w.]*)$", text)
    if match:
        return Distro(id=match["id"].lower(), version_id=match["version"])
    return Distro(id=text.lower())


def _upstream(value: str, ecosystem: str) -> tuple[str, str]:
    """(source name, source version) from an ``upstream`` qualifier (``glibc``, ``glibc@2.36-9``,
    ``openssl-3.0.7-24.el9.src.rpm``)."""
    if "@" in value:
        name, _, version = value.partition("@")
        return name, version
    if ecosystem == "rpm" and value.endswith(".src.rpm"):
        parts = value[: -len(".src.rpm")].rsplit("-", 2)
        if len(parts) == 3:
            return parts[0], f"{parts[1]}-{parts[2]}"
    return value, ""


def package_from_purl(purl_text: str, props: dict[str, str], path_hint: str = "", display_name: str = "") -> tuple[Package | None, Distro | None]:
    """A Package (and the distro its purl names) for one purl with the component's properties.

    Go module paths are case-sensitive but some tools lower-case them in purls (Trivy): the component's own
    name restores the case when it is the same path. A Go purl's subpath (Syft) is part of the module path.
    """
    from packageurl import PackageURL

    purl = PackageURL.from_string(purl_text)
    if purl.type in _ARTIFACT_TYPES:
        return None, None
    ecosystem = PURL_ECOSYSTEMS.get(purl.type, purl.type)
    quals: dict[str, str] = dict(purl.qualifiers or {})  # type: ignore[arg-type]
    name = purl.name
    if ecosystem == "Maven" and purl.namespace:
        name = f"{purl.namespace}:{purl.name}"
    elif ecosystem in ("Go", "npm", "Packagist") and purl.namespace:
        name = f"{purl.namespace}/{purl.name}"
    if ecosystem == "Go":
        if purl.subpath:
            name = f"{name}/{purl.subpath.strip('/')}"
        if display_name and display_name.lower() == name.lower():
            name = display_name
    version = purl.version or ""
    epoch = quals.get("epoch", "")
    if epoch and epoch != "0" and ecosystem in ("deb", "rpm") and ":" not in version:
        version = f"{epoch}:{version}"
    source_name, source_version = _upstream(quals.get("upstream", ""), ecosystem) if quals.get("upstream") else ("", "")
    source_name = _first(props, _SRC_NAME_PROPS) or source_name
    source_version = _first(props, _SRC_VERSION_PROPS) or source_version
    if props.get("aquasecurity:trivy:SrcRelease") and source_version:  # Trivy splits deb/rpm source versions
        source_version = f"{source_version}-{props['aquasecurity:trivy:SrcRelease']}"
    if props.get("aquasecurity:trivy:SrcEpoch", "0") not in ("", "0") and source_version:
        source_version = f"{props['aquasecurity:trivy:SrcEpoch']}:{source_version}"
    extra = tuple(sorted((k.removeprefix("hullscan:extra:"), v) for k, v in props.items() if k.startswith("hullscan:extra:")))
    pkg = Package(
        name=name,
        version=version,
        ecosystem=ecosystem,
        purl=purl_text,
        arch=quals.get("arch", "") or props.get("hullscan:arch", ""),
        source_name=source_name,
        source_version=source_version,
        layer=_first(props, _LAYER_PROPS),
        path=_first(props, _PATH_PROPS) or path_hint,
        found_by=_first(props, _FOUND_BY_PROPS) or "sbom",
        installed=props.get("hullscan:installed", "true") != "false",
        module=(purl.namespace or "") if ecosystem == "Maven" else "",
        extra=extra,
    )
    distro = split_distro(quals["distro"]) if quals.get("distro") else None
    if distro is not None and purl.namespace and distro.id == purl.namespace.lower() and not distro.version_id:
        distro = None
    return pkg, distro


def _first(props: dict[str, str], names: Iterable[str]) -> str:
    for name in names:
        if props.get(name):
            return props[name]
    return ""


# --------------------------------------------------------------------------- CycloneDX


def _cdx_components(components: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for comp in components or ():
        if isinstance(comp, dict):
            yield comp
            yield from _cdx_components(comp.get("components") or ())


def _occurrence(comp: dict[str, Any]) -> str:
    """The first ``evidence.occurrences[].location`` of a component (CycloneDX 1.5+), or ""."""
    evidence = comp.get("evidence")
    occurrences = evidence.get("occurrences") if isinstance(evidence, dict) else None
    if isinstance(occurrences, list) and occurrences and isinstance(occurrences[0], dict):
        return str(occurrences[0].get("location", ""))
    return ""


def _cdx_licenses(comp: dict[str, Any]) -> tuple[str, ...]:
    """License ids, names or expressions of a CycloneDX component."""
    out = []
    for choice in comp.get("licenses") or ():
        if not isinstance(choice, dict):
            continue
        lic = choice.get("license")
        if isinstance(lic, dict) and (lic.get("id") or lic.get("name")):
            out.append(str(lic.get("id") or lic.get("name")))
        elif choice.get("expression"):
            out.append(str(choice["expression"]))
    return tuple(out)


def _cdx_props(comp: dict[str, Any]) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in comp.get("properties") or ():
        if isinstance(prop, dict) and "name" in prop and prop.get("value") is not None:
            props.setdefault(str(prop["name"]), str(prop["value"]))
    return props


def read_cyclonedx(data: dict[str, Any], fmt: str = "cyclonedx-json") -> SbomDocument:
    """Read a CycloneDX document (as JSON data; XML is converted to the same shape first)."""
    meta = data.get("metadata") or {}
    root = meta.get("component") or {}
    doc = SbomDocument(format=fmt, name=str(root.get("name", "")))
    root_props = _cdx_props(root)
    doc.digest = root_props.get("hullscan:image:digest", "") or _digest_of(root)
    tools = meta.get("tools") or {}
    tool_list = tools.get("components", []) if isinstance(tools, dict) else tools
    doc.tool = ", ".join(f"{t.get('name', '')} {t.get('version', '')}".strip() for t in tool_list if isinstance(t, dict))
    by_ref: dict[str, int] = {}
    distros: list[Distro] = []
    apps: dict[str, str] = {}  # bom-ref of an application component (a lock file, a binary) -> its path
    for comp in _cdx_components(data.get("components") or ()):
        if comp.get("type") == "application" and comp.get("bom-ref") and comp.get("name") and not comp.get("purl"):
            apps[str(comp["bom-ref"])] = "/" + str(comp["name"]).lstrip("/")
        if comp.get("type") == "operating-system":
            doc.distro = Distro(id=str(comp.get("name", "")).lower(), version_id=str(comp.get("version", "") or ""),
                                pretty_name=str(comp.get("description", "") or ""))
            continue
        purl = comp.get("purl")
        if not purl:
            continue
        try:
            display = "/".join(str(x) for x in (comp.get("group"), comp.get("name")) if x)
            pkg, distro = package_from_purl(str(purl), _cdx_props(comp), _occurrence(comp), display_name=display)
        except ValueError as exc:
            doc.warnings.append(ScanWarning("malformed-sbom", f"component {comp.get('name', '?')}: bad purl {purl!r}: {exc}"))
            continue
        if pkg is None:
            continue
        if comp.get("licenses"):
            pkg = replace(pkg, licenses=_cdx_licenses(comp))
        if distro is not None:
            distros.append(distro)
        if comp.get("bom-ref"):
            by_ref[str(comp["bom-ref"])] = len(doc.packages)
        doc.packages.append(pkg)
    deps: dict[int, set[str]] = {}
    graph: dict[str, list[str]] = {}
    for dep in data.get("dependencies") or ():
        if not isinstance(dep, dict):
            continue
        graph[str(dep.get("ref"))] = [str(r) for r in dep.get("dependsOn") or ()]
        if dep.get("ref") not in by_ref:
            continue
        names = {doc.packages[by_ref[r]].name for r in dep.get("dependsOn") or () if r in by_ref}
        deps.setdefault(by_ref[dep["ref"]], set()).update(names)
    _apply_depends(doc, deps)
    _paths_from_applications(doc, apps, graph, by_ref)
    if doc.distro is None and distros:
        doc.distro = distros[0]
    doc.vex = _cdx_vex(data, {ref: doc.packages[i].purl for ref, i in by_ref.items()})
    return doc


#: CycloneDX analysis states that mean "this finding does not apply"
VEX_CLEARING_STATES = ("not_affected", "false_positive", "resolved", "resolved_with_pedigree")


def _cdx_vex(data: dict[str, Any], purls: dict[str, str]) -> list[tuple[frozenset[str], frozenset[str], str, str]]:
    """The document's own analyses that clear a vulnerability for the components they name."""
    out = []
    for vuln in data.get("vulnerabilities") or ():
        if not isinstance(vuln, dict) or not isinstance(vuln.get("analysis"), dict):
            continue
        state = str(vuln["analysis"].get("state", ""))
        if state not in VEX_CLEARING_STATES or not vuln.get("id"):
            continue
        ids = {str(vuln["id"])} | {str(r.get("id")) for r in vuln.get("references") or () if isinstance(r, dict) and r.get("id")}
        targets = {purls[str(a.get("ref"))] for a in vuln.get("affects") or () if isinstance(a, dict) and str(a.get("ref")) in purls}
        if targets:
            out.append((frozenset(ids), frozenset(targets), state, str(vuln["analysis"].get("justification", ""))))
    return out


def apply_document_vex(report: ScanReport, doc: SbomDocument) -> None:
    """Move findings the SBOM's own VEX analyses clear to ``report.suppressed``, with the reason."""
    if not doc.vex:
        return
    kept = []
    for f in report.findings:
        ids = {f.id, *(f.vuln.aliases if f.vuln else ())}
        purl = f.vuln.purl if f.vuln else ""
        why = next((f"VEX {state} in the SBOM" + (f": {just}" if just else "")
                    for vids, purls, state, just in doc.vex if ids & vids and purl in purls), "")
        if why:
            report.suppressed.append((f, why))
        else:
            kept.append(f)
    report.findings = kept


def _paths_from_applications(doc: SbomDocument, apps: dict[str, str], graph: dict[str, list[str]], by_ref: dict[str, int]) -> None:
    """Give packages without a path the path of the application component (Trivy: lock file, binary) they hang from."""
    for app_ref, path in sorted(apps.items()):
        todo, seen = list(graph.get(app_ref, ())), set()
        while todo:
            ref = todo.pop()
            if ref in seen:
                continue
            seen.add(ref)
            todo.extend(graph.get(ref, ()))
            i = by_ref.get(ref)
            if i is not None and not doc.packages[i].path:
                doc.packages[i] = replace(doc.packages[i], path=path)


def _digest_of(root: dict[str, Any]) -> str:
    for h in root.get("hashes") or ():
        if isinstance(h, dict) and h.get("alg") == "SHA-256" and h.get("content"):
            return f"sha256:{h['content']}"
    version = str(root.get("version", ""))
    return version if version.startswith("sha256:") else ""


def _apply_depends(doc: SbomDocument, deps: dict[int, set[str]]) -> None:
    """Merge dependency names read from the document's graph into the packages."""
    for i, names in deps.items():
        pkg = doc.packages[i]
        merged = tuple(sorted(set(pkg.depends) | (names - {pkg.name})))
        doc.packages[i] = replace(pkg, depends=merged)


def cyclonedx_xml_to_data(text: bytes) -> dict[str, Any]:
    """The parts of a CycloneDX XML document the reader uses, in the JSON shape."""
    root = ElementTree.fromstring(text)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    def comp(el: ElementTree.Element) -> dict[str, Any]:
        out: dict[str, Any] = {"type": el.get("type", ""), "bom-ref": el.get("bom-ref", "")}
        for tag in ("name", "version", "purl", "description"):
            child = el.find(ns + tag)
            if child is not None and child.text:
                out[tag] = child.text.strip()
        out["properties"] = [{"name": p.get("name"), "value": p.text or ""} for p in el.iter(ns + "property")]
        nested = el.find(ns + "components")
        if nested is not None:
            out["components"] = [comp(c) for c in nested.findall(ns + "component")]
        return out

    data: dict[str, Any] = {"components": [], "dependencies": []}
    meta = root.find(ns + "metadata")
    if meta is not None:
        root_comp = meta.find(ns + "component")
        data["metadata"] = {"component": comp(root_comp)} if root_comp is not None else {}
        tools = meta.find(ns + "tools")
        if tools is not None:  # 1.5+: tools/components/component; older: tools/tool
            data["metadata"]["tools"] = [comp(t) for t in tools.iter() if t.tag in (ns + "component", ns + "tool")]
    comps = root.find(ns + "components")
    if comps is not None:
        data["components"] = [comp(c) for c in comps.findall(ns + "component")]
    deps = root.find(ns + "dependencies")
    if deps is not None:
        for dep in deps.findall(ns + "dependency"):
            data["dependencies"].append({"ref": dep.get("ref"), "dependsOn": [d.get("ref") for d in dep.findall(ns + "dependency")]})
    return data


# --------------------------------------------------------------------------- SPDX

_SOURCE_INFO = re.compile(r"^(?P<state>installed|declared)[^;]*; found by (?P<by>\S+) in (?P<path>.*) \(layer (?P<layer>[^)]*)\)"
                          r"(?:; source package (?P<src>\S+) (?P<srcver>\S+))?$")


def read_spdx(data: dict[str, Any], fmt: str = "spdx-json") -> SbomDocument:
    """Read an SPDX 2.x JSON document (packages with purl external references)."""
    doc = SbomDocument(format=fmt, name=str(data.get("name", "")))
    creators = (data.get("creationInfo") or {}).get("creators") or []
    doc.tool = ", ".join(c.split(":", 1)[1].strip() for c in creators if isinstance(c, str) and c.startswith("Tool:"))
    by_id: dict[str, int] = {}
    distros: list[Distro] = []
    for spdx_pkg in data.get("packages") or ():
        if not isinstance(spdx_pkg, dict):
            continue
        purpose = spdx_pkg.get("primaryPackagePurpose", "")
        if purpose == "OPERATING-SYSTEM" or purpose == "OPERATING_SYSTEM":
            doc.distro = Distro(id=str(spdx_pkg.get("name", "")).lower(), version_id=str(spdx_pkg.get("versionInfo", "") or ""))
            continue
        if purpose == "CONTAINER" and not doc.digest:
            for checksum in spdx_pkg.get("checksums") or ():
                if checksum.get("algorithm") == "SHA256":
                    doc.digest = f"sha256:{checksum.get('checksumValue', '')}"
        purls = [r.get("referenceLocator", "") for r in spdx_pkg.get("externalRefs") or () if r.get("referenceType") == "purl"]
        if not purls:
            continue
        props: dict[str, str] = {}
        match = _SOURCE_INFO.match(str(spdx_pkg.get("sourceInfo", "")))
        if match:
            props = {"hullscan:path": match["path"], "hullscan:found_by": match["by"],
                     "hullscan:installed": "true" if match["state"] == "installed" else "false"}
            if match["layer"] != "unknown":
                props["hullscan:layer"] = match["layer"]
            if match["src"]:
                props["hullscan:source_name"], props["hullscan:source_version"] = match["src"], match["srcver"]
        else:
            path_hint = re.search(r": (/[^,\s]+)", str(spdx_pkg.get("sourceInfo", "")))
            if path_hint:
                props["hullscan:path"] = path_hint.group(1)
        try:
            pkg, distro = package_from_purl(purls[0], props, display_name=str(spdx_pkg.get("name", "")))
        except ValueError as exc:
            doc.warnings.append(ScanWarning("malformed-sbom", f"package {spdx_pkg.get('name', '?')}: bad purl {purls[0]!r}: {exc}"))
            continue
        if pkg is None:
            continue
        declared = spdx_pkg.get("licenseDeclared")
        if isinstance(declared, str) and declared not in ("", "NOASSERTION", "NONE"):
            pkg = replace(pkg, licenses=(declared,))
        if distro is not None:
            distros.append(distro)
        by_id[str(spdx_pkg.get("SPDXID", ""))] = len(doc.packages)
        doc.packages.append(pkg)
    deps: dict[int, set[str]] = {}
    for rel in data.get("relationships") or ():
        a, kind, b = rel.get("spdxElementId"), rel.get("relationshipType"), rel.get("relatedSpdxElement")
        if kind == "DEPENDENCY_OF":
            a, b, kind = b, a, "DEPENDS_ON"
        if kind == "DEPENDS_ON" and a in by_id and b in by_id:
            deps.setdefault(by_id[a], set()).add(doc.packages[by_id[b]].name)
    _apply_depends(doc, deps)
    if doc.distro is None and distros:
        doc.distro = distros[0]
    return doc


def _tag_value_body(raw: bytes) -> bytes:
    """The document after its leading blank and ``#`` comment lines (tag-value allows comments anywhere)."""
    return re.sub(rb"\A(?:[ \t]*(?:#[^\n]*)?\r?\n)*", b"", raw.lstrip(b"\xef\xbb\xbf")).lstrip()


def _spdx_tag_value(path: Path) -> dict[str, Any]:
    """Parse SPDX tag-value with spdx-tools and convert it to the JSON shape."""
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.tagvalue import tagvalue_parser

    try:
        document = tagvalue_parser.parse_from_file(str(path))
    except SPDXParsingError as exc:
        raise InputError(f"{path}: not a valid SPDX tag-value document: {'; '.join(exc.get_messages())[:300]}") from None
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:  # parser failures outside its own error type
        raise InputError(f"{path}: not a valid SPDX tag-value document: {type(exc).__name__}: {exc}") from None
    data: dict[str, Any] = DocumentConverter().convert(document)
    return data


# --------------------------------------------------------------------------- entry points


def read_sbom(path: Path) -> SbomDocument:
    """Read an SBOM file of any supported format; InputError naming the file when it is none of them."""
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise InputError(f"{path}: SBOM larger than {MAX_SBOM_BYTES} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected an SBOM file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and data.get("bomFormat") == "CycloneDX":
            return _guarded(path, "CycloneDX", read_cyclonedx, data)
        if isinstance(data, dict) and "spdxVersion" in data:
            return _guarded(path, "SPDX", read_spdx, data)
        raise InputError(f"{path}: JSON but neither CycloneDX (bomFormat) nor SPDX (spdxVersion)")
    if head == b"<":
        try:
            data = cyclonedx_xml_to_data(raw)
        except ElementTree.ParseError as exc:
            raise InputError(f"{path}: not valid XML ({exc})") from None
        return _guarded(path, "CycloneDX XML", read_cyclonedx, data, "cyclonedx-xml")
    if _tag_value_body(raw).startswith(b"SPDXVersion:"):
        return _guarded(path, "SPDX tag-value", read_spdx, _spdx_tag_value(path), "spdx-tag-value")
    raise InputError(f"{path}: not a CycloneDX (JSON/XML) or SPDX (JSON/tag-value) document")


def _guarded(path: Path, kind: str, reader: Any, data: dict[str, Any], *args: str) -> SbomDocument:
    """Run a reader; a document of the right kind but the wrong shape is an InputError naming the file."""
    try:
        doc: SbomDocument = reader(data, *args)
    except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: malformed {kind} document ({type(exc).__name__}: {exc})") from None
    return doc


def scan_sbom(path: Path, options: ScanOptions) -> ScanReport:
    """Read an SBOM and run the post-inventory stages (vulnerability matching...) on its packages."""
    from hullscan.scan import run_stages
    from hullscan.stages import ScanContext

    started = time.monotonic()
    doc = read_sbom(path)
    packages = sorted({p.key(): p for p in doc.packages}.values(), key=Package.key)
    inventory = Inventory(distro=doc.distro, packages=packages, warnings=list(doc.warnings))
    artifact = Artifact(name=str(path), kind="sbom", digest=doc.digest)
    report = ScanReport(artifact=artifact, os=doc.distro, packages=packages, warnings=list(doc.warnings))
    report.notes.append(f"read {len(packages)} package(s) from {doc.format} document {doc.name or path.name}"
                        + (f" made by {doc.tool}" if doc.tool else ""))
    ctx = ScanContext(options=options, inventory=inventory)
    run_stages(ctx, report)
    apply_document_vex(report, doc)
    report.findings.sort(key=lambda f: f.sort_key())
    report.scanned_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report
