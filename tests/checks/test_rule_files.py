"""The rule files: YAML is the one source (nothing derived is committed); the parsed form is kept in the cache
folder at first use, keyed by the YAML's digest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from hullscan.analyzers.files.rulefiles import load_document, parse_yaml, parsed_cache_path, rule_bytes

RULES = resources.files("hullscan").joinpath("rules")


def test_only_yaml_rule_files_are_shipped() -> None:
    names = {p.name for p in RULES.iterdir()}
    assert {"secrets.yaml", "sensitive.yaml", "baseline.yaml", "history.yaml"} <= names
    assert not [n for n in names if n.endswith(".json")], "no committed JSON copies of the YAML rule files"


def test_parsed_form_is_kept_by_digest_and_rebuilt_when_the_yaml_changes(tmp_path: Path) -> None:
    raw = rule_bytes("secrets.yaml")
    want = parse_yaml(raw)
    assert load_document("secrets.yaml", raw, tmp_path) == want
    kept = parsed_cache_path("secrets.yaml", raw, tmp_path)
    assert kept.is_file() and json.loads(kept.read_bytes()) == want
    kept.write_text(json.dumps({"rules": [], "marker": True}))  # what is kept is what is loaded (no second parse)
    assert load_document("secrets.yaml", raw, tmp_path) == {"rules": [], "marker": True}
    edited = raw + b"\n# edited\n"  # another digest: parsed anew, the old copy is not used
    assert load_document("secrets.yaml", edited, tmp_path) == want
    assert parsed_cache_path("secrets.yaml", edited, tmp_path) != kept
    kept.write_text("{not json")  # a damaged copy is parsed and written again
    assert load_document("secrets.yaml", raw, tmp_path) == want and json.loads(kept.read_bytes()) == want


def test_unwritable_cache_folder_only_means_parsing(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    raw = rule_bytes("baseline.yaml")
    assert load_document("baseline.yaml", raw, blocked) == parse_yaml(raw)


def test_a_second_secret_scan_start_imports_no_yaml(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from hullscan.analyzers.files.secrets import builtin_rules, scan_text\n"
            "from hullscan.analyzers.files.sensitive import builtin_items\n"
            "builtin_items()\n"
            "assert [m.rule.id for m in scan_text('token: ghp_' + 'Ab1' * 12)] == ['github-pat']\n"
            "print('yaml' in sys.modules)\n")
    env = {**os.environ, "HULLSCAN_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                           stdin=subprocess.DEVNULL).stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]  # the first start parses the YAML, the next ones load its parsed form
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "rules").iterdir()) == ["secrets", "sensitive"]
