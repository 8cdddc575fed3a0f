"""Report writers (``FORMATS``): one explicit list, each ``(report, out, options) -> None`` imported on use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from hullscan.model import ScanReport


@dataclass(frozen=True, slots=True)
class Format:
    """An output format: its name and the writer function ``"module:function"``."""

    name: str
    target: str
    description: str

    def load(self) -> Callable[[ScanReport, TextIO], None]:
        """Import the writer."""
        module, _, func = self.target.partition(":")
        fn: Callable[[ScanReport, TextIO], None] = getattr(importlib.import_module(module), func)
        return fn


FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format("table", "hullscan.report.table:write", "human-readable tables (default)"),
        Format("json", "hullscan.report.json:write", "the versioned JSON report (docs/report-schema.md)"),
        Format("sarif", "hullscan.report.sarif:write", "SARIF 2.1.0 (code scanning: GitHub, Azure DevOps...)"),
        Format("cyclonedx", "hullscan.report.cyclonedx:write", "CycloneDX 1.6 JSON SBOM with vulnerabilities"),
        Format("spdx-json", "hullscan.report.spdx:write", "SPDX 2.3 JSON SBOM"),
    ]
}
