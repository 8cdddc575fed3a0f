"""Post-inventory stages: matchers and image-level checks.

After the layers are analysed and squashed into an :class:`~hullscan.model.Inventory`, the scan runs
each stage whose scanner is enabled. A stage is a function ``(ScanContext) -> list[Finding]``;
it may add human notes (``ctx.notes``), e.g. "no vulnerability data for alpine 3.99".
:data:`STAGES` is the one explicit list; a stage that raises a non-hullscan exception is reported as a
failed plugin (never silently dropped), a :class:`~hullscan.errors.HullscanError` ends the scan.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hullscan.model import Finding, ImageConfigSummary, Inventory, Layer
from hullscan.options import ScanOptions


@dataclass(slots=True)
class ScanContext:
    """What a stage sees."""

    options: ScanOptions
    inventory: Inventory
    config: ImageConfigSummary = field(default_factory=ImageConfigSummary)
    layers: list[Layer] = field(default_factory=list)
    raw_config: dict[str, object] = field(default_factory=dict)  # the image config JSON, when there is an image
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Stage:
    """A named, versioned post-inventory stage enabled by ``scanner``."""

    name: str
    version: int
    scanner: str  # vuln | secret | malware | baseline | history
    target: str  # "module:function"

    def load(self) -> Callable[[ScanContext], list[Finding]]:
        """Import the stage function."""
        module, _, func = self.target.partition(":")
        fn: Callable[[ScanContext], list[Finding]] = getattr(importlib.import_module(module), func)
        return fn


#: the one explicit list of stages, run in this order
STAGES: list[Stage] = [
    Stage(name="vuln", version=1, scanner="vuln", target="hullscan.match:vulnerability_stage"),
    # risk checks (hullscan.checks.CHECKS)
    Stage(name="checks/config-secrets", version=1, scanner="secret", target="hullscan.checks.config:secrets_in_config"),
    Stage(name="checks/baseline-config", version=1, scanner="baseline", target="hullscan.checks.config:baseline_config"),
    Stage(name="checks/history", version=1, scanner="history", target="hullscan.checks.history:check_history"),
]
