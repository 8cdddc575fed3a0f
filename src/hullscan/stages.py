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
from dataclasses import field

from hullscan.model import FACTORY, Finding, ImageConfigSummary, Inventory, Layer, lean_dataclass
from hullscan.options import ScanOptions

_set = object.__setattr__


@lean_dataclass()
class ScanContext:
    """What a stage sees."""

    options: ScanOptions
    inventory: Inventory
    config: ImageConfigSummary = field(default_factory=ImageConfigSummary)
    layers: list[Layer] = field(default_factory=list)
    raw_config: dict[str, object] = field(default_factory=dict)  # the image config JSON, when there is an image
    notes: list[str] = field(default_factory=list)

    def __init__(self, options: ScanOptions, inventory: Inventory, config: ImageConfigSummary = FACTORY,
                 layers: list[Layer] = FACTORY, raw_config: dict[str, object] = FACTORY,
                 notes: list[str] = FACTORY) -> None:
        self.options = options
        self.inventory = inventory
        self.config = ImageConfigSummary() if config is FACTORY else config
        self.layers = list() if layers is FACTORY else layers
        self.raw_config = dict() if raw_config is FACTORY else raw_config
        self.notes = list() if notes is FACTORY else notes


@lean_dataclass(frozen=True)
class Stage:
    """A named, versioned post-inventory stage enabled by ``scanner``."""

    name: str
    version: int
    scanner: str  # vuln | secret | malware | baseline | history
    target: str  # "module:function"

    def __init__(self, name: str, version: int, scanner: str, target: str) -> None:
        _set(self, "name", name)
        _set(self, "version", version)
        _set(self, "scanner", scanner)
        _set(self, "target", target)

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
