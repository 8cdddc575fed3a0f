"""Post-inventory stages: matchers and image-level checks.

After the layers are analysed and squashed into an :class:`~hullscan.model.Inventory`, the scan runs
each stage whose scanner is enabled. A stage is a function ``(ScanContext) -> list[Finding]``;
it may add human notes (``ctx.notes``), e.g. "no vulnerability data for alpine 3.99".
:data:`STAGES` is the one explicit registry (tagged with the scanner that enables each stage); a stage that raises a non-hullscan exception is reported as a
failed plugin (never silently dropped), a :class:`~hullscan.errors.HullscanError` ends the scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hullscan.model import DatabaseInfo, Finding, ImageConfigSummary, Inventory, Layer
from hullscan.options import ScanOptions
from hullscan.plugins import Entry, Registry, lazy_object


@dataclass(slots=True)
class ScanContext:
    """What a stage sees."""

    options: ScanOptions
    inventory: Inventory
    config: ImageConfigSummary = field(default_factory=ImageConfigSummary)
    layers: list[Layer] = field(default_factory=list)
    raw_config: dict[str, object] = field(default_factory=dict)  # the image config JSON, when there is an image
    notes: list[str] = field(default_factory=list)
    database: DatabaseInfo | None = None  # set by the vuln stage: the database it matched against



StageFunction = Callable[[ScanContext], list[Finding]]

#: the one explicit registry of stages, run in this order; each is tagged with the scanner that enables it
STAGES: Registry[StageFunction] = Registry("stage", [
    Entry("vuln", 1, lazy_object("hullscan.match:vulnerability_stage"), frozenset({"vuln"})),
    # image-level risk checks (hullscan.checks)
    Entry("checks/config-secrets", 1, lazy_object("hullscan.checks.config:secrets_in_config"), frozenset({"secret"})),
    Entry("checks/baseline-config", 1, lazy_object("hullscan.checks.config:baseline_config"), frozenset({"baseline"})),
    Entry("checks/history", 1, lazy_object("hullscan.checks.history:check_history"), frozenset({"history"})),
    Entry("checks/unowned-libraries", 1, lazy_object("hullscan.checks.suspicious:unowned_libraries"), frozenset({"malware"})),
])
