"""A node's containers and their images: list what a runtime runs, scan each image once, report per container.

:func:`scan_node` takes a :class:`NodeRuntime` (containerd or a Docker-API socket), lists its containers, groups them
by the image digest they run (an image used by ten containers is scanned once) and scans each image through the
runtime's own store. :func:`write_node_report` renders the result in the formats of ``hullscan image``: ``json`` (one
document: the runtime, its containers and one report per image), ``table`` (the containers, then each image's tables),
``sarif`` (one run per image, each naming its containers). ``cyclonedx`` and ``spdx-json`` describe a single artifact:
they are written one file per image into the ``--output`` folder.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from hullscan.errors import HullscanError, InputError
from hullscan.image.source import ImageSource
from hullscan.model import ScanReport
from hullscan.options import ScanOptions
from hullscan.runtime.containerd import ContainerInfo


class NodeRuntime(Protocol):
    """What :func:`scan_node` needs of a runtime."""

    kind: str  # containerd | docker | podman
    address: str
    namespace: str

    def containers(self) -> list[ContainerInfo]:
        """The containers, with the image each was created from."""

    def image_digest(self, image: str) -> str:
        """The digest the runtime stores for ``image`` (its target: manifest or index)."""

    def source(self, image: str) -> ImageSource:
        """An image source reading ``image`` from the runtime's store."""


@dataclass
class ImageResult:
    """One image of the node: its digest, the containers that run it, and its report (or why it failed)."""

    image: str
    digest: str
    containers: list[str]
    report: ScanReport | None = None
    error: str = ""


@dataclass
class NodeReport:
    """The containers of one runtime and one result per distinct image."""

    runtime: str
    address: str
    namespace: str
    containers: list[ContainerInfo]
    images: list[ImageResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ImageResult]:
        """The images that could not be scanned."""
        return [r for r in self.images if r.error]


ScanFn = Callable[[str, ScanOptions, ImageSource], ScanReport]


def _scan(target: str, options: ScanOptions, source: ImageSource) -> ScanReport:
    from hullscan.checks import selection
    from hullscan.scan import scan

    return selection.apply(scan(target, options, source=source), options)


def scan_node(runtime: NodeRuntime, options: ScanOptions, scan_fn: ScanFn = _scan,
              log: Callable[[str], None] = lambda _msg: None) -> NodeReport:
    """List the runtime's containers and scan each distinct image once (by digest). An image that can't be read
    or scanned is reported with its error; the others go on."""
    containers = runtime.containers()
    out = NodeReport(runtime.kind, runtime.address, runtime.namespace, containers)
    by_digest: dict[str, ImageResult] = {}
    for c in containers:
        try:
            digest = runtime.image_digest(c.image)
        except HullscanError as exc:
            out.images.append(ImageResult(c.image, "", [c.id], error=str(exc)))
            continue
        result = by_digest.get(digest)
        if result is None:
            result = by_digest[digest] = ImageResult(c.image, digest, [])
            out.images.append(result)
        result.containers.append(c.id)
    for result in out.images:
        if result.error:
            continue
        log(f"scanning {result.image} ({result.digest}) for {len(result.containers)} container(s)")
        try:
            result.report = scan_fn(_target(runtime, result.image), options, runtime.source(result.image))
        except HullscanError as exc:
            result.error = str(exc)
    return out


def _target(runtime: NodeRuntime, image: str) -> str:
    if runtime.kind == "containerd":
        return f"containerd://{runtime.namespace}/{image}"
    return f"{runtime.kind}://{image}"


# --------------------------------------------------------------------------- output

SINGLE_ARTIFACT = {"cyclonedx": ".cdx.json", "spdx-json": ".spdx.json"}


def node_data(node: NodeReport) -> dict[str, Any]:
    """The JSON document of a node scan."""
    from hullscan.report.json import report_data

    return {
        "runtime": {"kind": node.runtime, "address": node.address, "namespace": node.namespace},
        "containers": [{"id": c.id, "image": c.image, "status": c.status,
                        "image_digest": next((r.digest for r in node.images if c.id in r.containers), "")}
                       for c in node.containers],
        "images": [{"image": r.image, "digest": r.digest, "containers": r.containers,
                    **({"error": r.error} if r.error else {}),
                    **({"report": report_data(r.report)} if r.report is not None else {})} for r in node.images],
    }


def render_node_report(node: NodeReport, fmt: str, writer: Callable[[ScanReport, TextIO], None]) -> str:
    """The text of ``node`` in format ``fmt`` (``json``, ``sarif`` or ``table``; ``writer``: that format's
    single-image writer, used for the table's per-image sections)."""
    if fmt in SINGLE_ARTIFACT:
        raise InputError(f"--format {fmt} describes one image: give --output FOLDER to write one file per image")
    if fmt == "json":
        return json.dumps(node_data(node), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(_sarif(node), indent=2) + "\n"
    buf = io.StringIO()
    _table(node, buf, writer)
    return buf.getvalue()


def sbom_files(node: NodeReport, fmt: str, folder: Path) -> list[tuple[Path, ScanReport]]:
    """Where each scanned image's single-artifact report (``cyclonedx``, ``spdx-json``) goes in ``folder``."""
    return [(folder / (_file_name(r.image, r.digest) + SINGLE_ARTIFACT[fmt]), r.report)
            for r in node.images if r.report is not None]


def _file_name(image: str, digest: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", image).strip("_")[:150] + "-" + digest.partition(":")[2][:12]


def _sarif(node: NodeReport) -> dict[str, Any]:
    from hullscan.report.sarif import sarif_data

    doc: dict[str, Any] | None = None
    for r in node.images:
        if r.report is None:
            continue
        data = sarif_data(r.report)
        for run in data["runs"]:
            run.setdefault("properties", {}).update({"image": r.image, "digest": r.digest, "containers": r.containers,
                                                     "runtime": node.runtime, "namespace": node.namespace})
        if doc is None:
            doc = data
        else:
            doc["runs"].extend(data["runs"])
    return doc or {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": []}


def _table(node: NodeReport, out: TextIO, writer: Callable[[ScanReport, TextIO], None]) -> None:
    where = f"{node.runtime} at {node.address}" + (f", namespace {node.namespace}" if node.namespace else "")
    out.write(f"{where}: {len(node.containers)} container(s), {len(node.images)} image(s)\n\n")
    digests = {c: r.digest for r in node.images for c in r.containers}
    width = max([len("CONTAINER")] + [len(c.id) for c in node.containers])
    iwidth = max([len("IMAGE")] + [len(c.image) for c in node.containers])
    out.write(f"{'CONTAINER':<{width}}  {'STATUS':<8}  {'IMAGE':<{iwidth}}  DIGEST\n")
    out.writelines(f"{c.id:<{width}}  {c.status or '-':<8}  {c.image:<{iwidth}}  {digests.get(c.id, '') or '-'}\n" for c in node.containers)
    for r in node.images:
        out.write(f"\n=== image {r.image} ({r.digest or 'digest unknown'}) run by: {', '.join(r.containers)}\n")
        if r.error:
            out.write(f"not scanned: {r.error}\n")
        elif r.report is not None:
            writer(r.report, out)
