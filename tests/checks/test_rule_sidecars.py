"""JSON sidecars of the YAML rule files (``rules/<stem>.json``): the same document, loaded without PyYAML."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest

from hullscan.analyzers import files
from hullscan.analyzers.files import _parse_yaml, build_sidecar, rule_bytes, rule_yaml, sidecar_name

RULES = resources.files("hullscan").joinpath("rules")
SIDECARS = sorted(p.name for p in RULES.iterdir() if p.name.endswith(".json"))


def test_the_rule_files_read_at_every_secret_scan_ship_a_sidecar() -> None:
    assert {"secrets.json", "sensitive.json", "baseline.json"} <= set(SIDECARS)


@pytest.mark.parametrize("name", SIDECARS)
def test_sidecar_is_current(name: str) -> None:
    source = json.loads(rule_bytes(name))["source"]
    assert sidecar_name(source) == name
    assert rule_bytes(name).decode("utf-8") == build_sidecar(source), (
        f"rules/{name} is stale: run `python -m hullscan.analyzers.files {source}` after editing rules/{source}")
    assert rule_yaml(source) == _parse_yaml(rule_bytes(source))


def test_a_stale_sidecar_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.rule_bytes
    edited = real("secrets.yaml") + b"\n# edited without rebuilding the sidecar\n"
    monkeypatch.setattr(files, "rule_bytes", lambda name: edited if name == "secrets.yaml" else real(name))
    assert files._sidecar_document("secrets.yaml", edited) is None
    assert files._sidecar_document("secrets.yaml", real("secrets.yaml")) is not None
    assert files._sidecar_document("weak-passwords.txt", b"") is None  # no sidecar at all


def test_a_secret_scan_start_imports_no_yaml() -> None:
    code = ("import sys\n"
            "from hullscan.analyzers.files.secrets import builtin_rules, scan_text\n"
            "from hullscan.analyzers.files.sensitive import builtin_items\n"
            "builtin_items()\n"
            "assert [m.rule.id for m in scan_text('token: ghp_' + 'Ab1' * 12)] == ['github-pat']\n"
            "print('yaml' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    assert out.stdout.strip() == "False"
