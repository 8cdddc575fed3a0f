"""The one registry shape: lazy entries import their module on first use; every registry of the project is a
:class:`hullscan.plugins.Registry` whose lazy targets resolve."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hullscan.plugins import DuplicatePluginError, Entry, LazyFactory, LazyObject, Registry, lazy, lazy_object, load


def test_lazy_entries_import_on_first_use_only() -> None:
    # a fresh interpreter: listing and selecting a lazy registry imports nothing; the factory imports once
    code = textwrap.dedent("""
        import sys
        from hullscan.plugins import Entry, Registry, lazy, lazy_object
        reg = Registry("demo", [
            Entry("dec", 1, lazy("decimal:Decimal"), frozenset({"num"})),
            Entry("frac", 1, lazy_object("fractions:Fraction"), frozenset({"num"})),
        ])
        assert [e.name for e in reg.select(tags=["num"])] == ["dec", "frac"]
        assert "decimal" not in sys.modules and "fractions" not in sys.modules
        assert str(reg.get("dec").factory("1.5")) == "1.5"   # lazy(): called with the arguments
        assert "decimal" in sys.modules and "fractions" not in sys.modules
        import fractions
        assert reg.get("frac").factory() is fractions.Fraction  # lazy_object(): the object itself
        assert reg.get("dec").target == "decimal:Decimal"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_bad_targets_and_duplicates() -> None:
    with pytest.raises(ValueError, match="not 'module:attr'"):
        load("decimal.Decimal")
    with pytest.raises(ModuleNotFoundError):
        lazy("hullscan.no_such_module:X")()
    entry = Entry("a", 1, lazy_object("decimal:Decimal"))
    with pytest.raises(DuplicatePluginError, match="task kind plugin 'a' registered twice"):
        Registry("task kind", [entry, entry])
    with pytest.raises(KeyError, match="unknown task kind 'b' \\(known: a\\)"):
        Registry("task kind", [entry]).get("b")


def test_task_kinds_registry() -> None:
    from hullscan.server import rematch, scanning, sync
    from hullscan.server.tasks import TASK_KINDS

    assert isinstance(TASK_KINDS, Registry)
    assert TASK_KINDS.names()[:3] == ["sync", "scan", "rematch"]  # more kinds follow (fix, runtime scan...)
    assert TASK_KINDS.get("sync").factory() is sync.run_sync
    assert TASK_KINDS.get("scan").factory() is scanning.run_scan
    assert TASK_KINDS.get("rematch").factory() is rematch.run_rematch


def test_every_registry_is_one_shape_and_its_lazy_targets_resolve() -> None:
    from hullscan.analyzers import ANALYZERS
    from hullscan.match import MATCHERS
    from hullscan.report import FORMATS
    from hullscan.server.providers import PROVIDERS
    from hullscan.server.tasks import TASK_KINDS
    from hullscan.stages import STAGES
    from hullscan.version import SCHEMES
    from hullscan.vulndb.feeds import FEEDS

    registries = [ANALYZERS, MATCHERS, FORMATS, PROVIDERS, TASK_KINDS, STAGES, SCHEMES, FEEDS]
    for reg in registries:
        assert isinstance(reg, Registry) and len(reg) > 0
        for entry in reg:
            if isinstance(entry.factory, (LazyFactory, LazyObject)):
                assert load(entry.target) is not None, entry.target
    assert PROVIDERS.get("harbor").target == "hullscan.server.providers.harbor:HarborProvider"
    assert STAGES.names()[:4] == ["vuln", "checks/config-secrets", "checks/baseline-config", "checks/history"]
    assert FORMATS.names() == ["table", "json", "sarif", "cyclonedx", "spdx-json", "html", "template"]
