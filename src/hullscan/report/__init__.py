"""Report writers: :data:`FORMATS`, one explicit registry of ``(report, out) -> None`` functions imported on use."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from hullscan.errors import InputError
from hullscan.model import ScanReport
from hullscan.plugins import Entry, Registry, lazy_object

Writer = Callable[[ScanReport, TextIO], None]

FORMATS: Registry[Writer] = Registry("report format", [
    Entry("table", 1, lazy_object("hullscan.report.table:write"), description="human-readable tables (default)"),
    Entry("json", 1, lazy_object("hullscan.report.json:write"),
          description="the versioned JSON report (docs/report-schema.md)"),
    Entry("sarif", 1, lazy_object("hullscan.report.sarif:write"),
          description="SARIF 2.1.0 (code scanning: GitHub, Azure DevOps...)"),
    Entry("cyclonedx", 1, lazy_object("hullscan.report.cyclonedx:write"),
          description="CycloneDX 1.6 JSON SBOM with vulnerabilities"),
    Entry("spdx-json", 1, lazy_object("hullscan.report.spdx:write"), description="SPDX 2.3 JSON SBOM"),
    Entry("html", 1, lazy_object("hullscan.report.template:write_html"),
          description="one self-contained HTML page: filters by severity and category, the layers and what each added"),
    Entry("template", 1, lazy_object("hullscan.report.template:write_template"),
          description="a Jinja2 template (sandboxed): --template FILE, or @html, @junit, @gitlab"),
])


def writer(name: str) -> Writer:
    """The writer of format ``name``; InputError naming the known formats otherwise."""
    if name not in FORMATS:
        raise InputError(f"unknown format {name!r}: choose from {', '.join(FORMATS.names())}")
    return FORMATS.get(name).factory()
