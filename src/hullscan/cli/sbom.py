"""``hullscan sbom`` (an image's SBOM) and ``hullscan sbom-scan`` (the vulnerabilities of an SBOM's packages):
thin over :mod:`hullscan.sbom` and :func:`hullscan.scan.scan`."""

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from hullscan.cli.groups import (
    FindingFilters,
    ImageInput,
    ReportOutput,
    command,
    finding_filters,
    image_source,
    report_output,
)
from hullscan.cli.output import load_writer, write_report

SBOM_FORMATS = ("cyclonedx", "spdx-json")


def register(app: typer.Typer) -> None:
    """Add ``hullscan sbom`` and ``hullscan sbom-scan``."""
    sbom_output = report_output("cyclonedx", "cyclonedx (CycloneDX 1.6 JSON) or spdx-json (SPDX 2.3).", "SBOM")
    command(app, "sbom", source=image_source, out=sbom_output)(sbom_cmd)
    command(app, "sbom-scan", out=report_output(), found=finding_filters)(sbom_scan_cmd)


def sbom_cmd(source: ImageInput, out: ReportOutput) -> None:
    """Write the image's SBOM: OS and application packages, the image as the root component."""
    from hullscan.cli.image import run_scan

    writer = load_writer(out.format, SBOM_FORMATS, "SBOM format")
    write_report(writer, run_scan(source.target, source.scan_options(frozenset())), out.output)


def sbom_scan_cmd(
    file: Annotated[Path, typer.Argument(help="CycloneDX (JSON/XML) or SPDX (JSON/tag-value) SBOM, from hullscan or another tool.")],
    out: ReportOutput,
    found: FindingFilters,
) -> None:
    """Report the vulnerabilities of the packages an SBOM lists, without the image."""
    from hullscan.options import ScanOptions
    from hullscan.sbom import scan_sbom
    from hullscan.suppress import apply_filters, write_suppressed

    writer = load_writer(out.format, template=out.template)
    filters = found.build()
    options = ScanOptions(scanners=frozenset({"vuln"}))
    options = replace(options, prepare_db=found.preparer(False))
    if found.db is not None:
        options = replace(options, db_path=found.db)
    report = apply_filters(scan_sbom(file, options), filters)
    write_report(writer, report, out.output)
    if found.show_suppressed and out.format == "table" and out.output is None:
        write_suppressed(report, sys.stdout)
    if found.exit_code and report.findings:
        sys.exit(found.exit_code)  # typer.Exit is swallowed by click's standalone_mode=False
