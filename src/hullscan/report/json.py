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
    """Write the JSON report (in one write: ``json.dump`` writes piece by piece, one system call per piece on an
    unbuffered stdout, e.g. under ``PYTHONUNBUFFERED``)."""
    out.write(json.dumps(report_data(report), indent=2) + "\n")
