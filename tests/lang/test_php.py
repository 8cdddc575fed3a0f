"""PHP analyzer: Composer's installed.json (v1 and v2) and composer.lock (``tests/data/lang/php/README.md``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hullscan.analyzers.lang.php import PhpAnalyzer
from hullscan.model import FileInfo
from tests.lang._golden import (
    DATA,
    LAYER,
    analyze_bytes,
    assert_malformed,
    check_case,
    nv,
    run_tree,
    truncated_case,
)

PHP = DATA / "php"
ACME = {"acme/http@v2.0.1", "acme/log@1.2.0", "acme/testkit@0.3.0"}


@pytest.fixture()
def analyzer() -> PhpAnalyzer:
    return PhpAnalyzer()


def test_composer2_golden(analyzer: PhpAnalyzer) -> None:
    got = check_case(analyzer, "php", "composer2")
    installed = {f"{p['name']}@{p['version']}" for p in got["packages"] if p["installed"]}
    locked = {f"{p['name']}@{p['version']}" for p in got["packages"] if not p["installed"]}
    assert installed == locked == ACME
    http = next(p for p in got["packages"] if p["name"] == "acme/http" and p["installed"])
    assert http["purl"] == "pkg:composer/acme/http@v2.0.1"
    assert http["depends"] == ["acme/log"]  # php and ext-json are platform requirements
    assert http["licenses"] == ["MIT", "Apache-2.0"]
    assert http["layer"] == LAYER and http["ecosystem"] == "Packagist"
    dev = {(p["name"], p["installed"]) for p in got["packages"] if dict(p["extra"]).get("scope") == "dev"}
    assert dev == {("acme/testkit", True), ("acme/testkit", False)}
    assert "/var/www/app/composer.json" not in got["wanted"]


def test_composer1_golden(analyzer: PhpAnalyzer) -> None:
    got = check_case(analyzer, "php", "composer1")
    assert nv(got) == ACME and all(p["installed"] for p in got["packages"])


@pytest.mark.skipif(shutil.which("composer") is None, reason="composer not installed")
def test_agrees_with_a_fresh_composer_install(tmp_path: Path, analyzer: PhpAnalyzer) -> None:
    """Run the real Composer offline (path repositories) and read what it wrote."""
    for name, manifest in {
        "core": {"name": "demo/core", "version": "3.4.5", "license": "MIT"},
        "web": {"name": "demo/web", "version": "1.0.0-beta2", "require": {"demo/core": "^3.4", "php": ">=7"}},
    }.items():
        (tmp_path / "pkgs" / name).mkdir(parents=True)
        (tmp_path / "pkgs" / name / "composer.json").write_text(json.dumps(manifest))
    (tmp_path / "composer.json").write_text(json.dumps({
        "name": "demo/app", "minimum-stability": "beta",
        "repositories": [{"packagist.org": False}, {"type": "path", "url": "pkgs/*", "options": {"symlink": False}}],
        "require": {"demo/web": "^1.0@beta"},
    }))
    env = dict(os.environ, COMPOSER_ALLOW_SUPERUSER="1", COMPOSER_HOME=str(tmp_path / ".home"), COMPOSER_NO_AUDIT="1")
    subprocess.run(["composer", "install", "--no-interaction", "--no-progress", "-q"], cwd=tmp_path, env=env,
                   check=True, timeout=120)
    got = run_tree(analyzer, tmp_path)
    assert sorted(got["wanted"]) == ["/composer.lock", "/vendor/composer/installed.json"]
    assert {(p["name"], p["version"], p["installed"]) for p in got["packages"]} == {
        ("demo/core", "3.4.5", True), ("demo/web", "1.0.0-beta2", True),
        ("demo/core", "3.4.5", False), ("demo/web", "1.0.0-beta2", False),
    }


def test_wants(analyzer: PhpAnalyzer) -> None:
    def wants(path: str) -> bool:
        return analyzer.wants(path, FileInfo(path=path))

    assert wants("/app/vendor/composer/installed.json") and wants("/app/composer.lock")
    assert not wants("/app/vendor/composer/installed.php") and not wants("/app/composer.json")
    assert not wants("/app/vendor/acme/http/composer.lock")  # a dependency's own lock file


@pytest.mark.parametrize("rel", ["composer2/root/var/www/app/composer.lock",
                                 "composer2/root/var/www/app/vendor/composer/installed.json"])
def test_truncated_json_gives_warning(analyzer: PhpAnalyzer, rel: str) -> None:
    path, truncated = truncated_case("php", rel, len((PHP / rel).read_bytes()) // 2)
    assert_malformed(analyze_bytes(analyzer, path, truncated), path)


def test_wrong_shapes_give_warnings(tmp_path: Path, analyzer: PhpAnalyzer) -> None:
    (tmp_path / "a/vendor/composer").mkdir(parents=True)
    (tmp_path / "a/vendor/composer/installed.json").write_text('{"packages": {"name": "x"}}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b/composer.lock").write_text('"just a string"')
    (tmp_path / "c").mkdir()
    (tmp_path / "c/composer.lock").write_text('{"packages": [{"name": "ok/ok", "version": "1.0.0"}, 7, {"name": 3}]}')
    got = run_tree(analyzer, tmp_path)
    assert nv(got) == {"ok/ok@1.0.0"}  # entries that are not packages are skipped, the rest is kept
    assert sorted(w["path"] for w in got["warnings"]) == ["/a/vendor/composer/installed.json", "/b/composer.lock"]
