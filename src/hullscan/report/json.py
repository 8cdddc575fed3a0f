"""The JSON report: :class:`~hullscan.model.ScanReport` as data, schema in ``docs/report-schema.md``."""

from __future__ import annotations

import json
from typing import Any, TextIO

from hullscan import serde
from hullscan.model import ScanReport


def report_data(report: ScanReport) -> dict[str, Any]:
    """The report as JSON-ready data (``suppressed`` as objects with the finding and the reason)."""
    data: dict[str, Any] = serde.to_data(report)
    data["suppressed"] = [{"finding": serde.to_data(f), "reason": reason} for f, reason in report.suppressed]
    return data


def write(report: ScanReport, out: TextIO) -> None:
    """Write the JSON report."""
    json.dump(report_data(report), out, indent=2, sort_keys=False)
    out.write("\n")
