"""JavaScript analyzer: node_modules and lock files written by the real npm, yarn and pnpm
(see ``tests/data/lang/npm/README.md``), and malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hullscan.analyzers.lang.lockfiles import flow_depth
from hullscan.analyzers.lang.npm import NpmAnalyzer, installed_manifest
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

NPM = DATA / "npm"
FOUR = {"@sindresorhus/is@4.6.0", "debug@2.6.9", "left-pad@1.3.0", "ms@2.0.0", "ms@2.1.3"}


@pytest.fixture()
def analyzer() -> NpmAnalyzer:
    return NpmAnalyzer()


def _npm_ls(root: Path) -> set[str]:
    """What ``npm ls --all`` would list, read from npm's own hidden lockfile (written by npm install)."""
    hidden = json.loads((root / "node_modules/.package-lock.json").read_text())
    out = set()
    for key, entry in hidden["packages"].items():
        name = entry.get("name") or key.rpartition("node_modules/")[2]
        out.add(f"{name}@{entry['version']}")
    return out


def test_installed_golden(analyzer: NpmAnalyzer) -> None:
    got = check_case(analyzer, "npm", "installed")
    deps = [p for p in got["packages"] if dict(p["extra"]).get("project") != "true"]
    installed = {f"{p['name']}@{p['version']}" for p in deps if p["installed"]}
    declared = {f"{p['name']}@{p['version']}" for p in deps if not p["installed"]}
    # node_modules agrees with what npm recorded, and with the lock file
    assert installed == _npm_ls(NPM / "installed/root/app") == declared
    assert "string-width@4.2.3" in installed  # alias folder string-width-cjs: the real name wins
    assert "/app/node_modules/.package-lock.json" not in got["wanted"]
    # the application itself is reported (as Trivy and Syft do), flagged as the project
    (app,) = [p for p in got["packages"] if p["path"] == "/app/package.json"]
    assert (app["name"], app["version"], dict(app["extra"])) == ("demo-app", "1.0.0", {"private": "true",
                                                                                        "project": "true"})
    assert app["depends"] == ["@sindresorhus/is", "debug", "ms", "string-width-cjs", "uuid"]
    nested = [p for p in got["packages"] if p["path"] == "/app/node_modules/debug/node_modules/ms/package.json"]
    assert [(p["name"], p["version"], p["installed"]) for p in nested] == [("ms", "2.0.0", True)]
    scoped = next(p for p in got["packages"] if p["name"] == "@sindresorhus/is" and p["installed"])
    assert scoped["purl"] == "pkg:npm/%40sindresorhus/is@4.6.0" and scoped["licenses"] == ["MIT"]
    assert scoped["layer"] == LAYER and scoped["found_by"] == "lang/npm"
    left_pad = next(p for p in got["packages"] if p["name"] == "left-pad" and not p["installed"])
    assert dict(left_pad["extra"]) == {"scope": "dev"}


def test_lock_formats_golden(analyzer: NpmAnalyzer) -> None:
    got = check_case(analyzer, "npm", "locks")
    by_dir: dict[str, set[str]] = {}
    for p in got["packages"]:
        by_dir.setdefault(Path(p["path"]).parent.name, set()).add(f"{p['name']}@{p['version']}")
    # every lock format of the same four dependencies gives the same packages
    assert by_dir == {d: FOUR for d in ("npm1", "npm2", "yarn1", "berry", "pnpm7", "pnpm8", "pnpm9")}
    assert all(not p["installed"] for p in got["packages"])
    debug_deps = {Path(p["path"]).parent.name: p["depends"] for p in got["packages"] if p["name"] == "debug"}
    assert set(map(tuple, debug_deps.values())) == {("ms",)}
    dev = {Path(p["path"]).parent.name for p in got["packages"]
           if p["name"] == "left-pad" and dict(p["extra"]).get("scope") == "dev"}
    assert dev == {"npm1", "npm2", "pnpm7", "pnpm8", "pnpm9"}  # yarn does not record dev-ness


def test_workspace_links_and_aliases(analyzer: NpmAnalyzer) -> None:
    got = check_case(analyzer, "npm", "workspace")
    lock = {f"{p['name']}@{p['version']}": p for p in got["packages"] if not p["installed"]}
    assert set(lock) == {"ansi-regex@5.0.1", "lib-a@0.1.0", "ms@2.1.3", "strip-ansi@6.0.1"}
    assert dict(lock["lib-a@0.1.0"]["extra"]) == {"link": "packages/lib-a"}
    assert lock["lib-a@0.1.0"]["depends"] == ["ms"]
    # the workspace member's own manifest is a project manifest, like the root
    projects = {(p["name"], p["version"], p["path"]) for p in got["packages"]
                if dict(p["extra"]).get("project") == "true"}
    assert projects == {("ws-root", "1.0.0", "/app/package.json"),
                        ("lib-a", "0.1.0", "/app/packages/lib-a/package.json")}


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/app/node_modules/a/package.json", True),
        ("/app/node_modules/@s/a/package.json", True),
        ("/app/node_modules/a/node_modules/@s/b/package.json", True),
        ("node_modules/a/package.json", True),
        ("/app/package.json", False),
        ("/app/node_modules/a/esm/package.json", False),
        ("/app/node_modules/a/test/fixtures/package.json", False),
        ("/app/node_modules/@s/package.json", False),
        ("/app/node_modules/.bin/package.json", False),
        ("/app/my_node_modules/a/package.json", False),
    ],
)
def test_installed_manifest_paths(path: str, expected: bool) -> None:
    assert installed_manifest(path) is expected


def test_lock_files_inside_node_modules_are_not_claimed(analyzer: NpmAnalyzer) -> None:
    for name in ("package-lock.json", "yarn.lock", "pnpm-lock.yaml"):
        assert analyzer.wants(f"/srv/{name}", FileInfo(path=f"/srv/{name}"))
        path = f"/srv/node_modules/some-pkg/{name}"
        assert not analyzer.wants(path, FileInfo(path=path))


def test_package_json_without_version_is_skipped(analyzer: NpmAnalyzer) -> None:
    assert analyze_bytes(analyzer, "/a/node_modules/x/package.json", b'{"name": "x", "private": true}') is None
    assert analyze_bytes(analyzer, "/srv/site/package.json", b'{"private": true, "scripts": {}}') is None
    inner = "/a/node_modules/x/dist/package.json"
    assert not analyzer.wants(inner, FileInfo(path=inner))


def test_yarn_v1_alias_and_multi_spec_headers(analyzer: NpmAnalyzer) -> None:
    text = (
        '# yarn lockfile v1\n\n\n'
        '"string-width-cjs@npm:string-width@^4.2.0", "string-width@^4.1.0":\n'
        '  version "4.2.3"\n'
        '  dependencies:\n    emoji-regex "^8.0.0"\n    strip-ansi "^6.0.1"\n\n'
        '"local@file:../local":\n  version "0.0.1"\n'
    )
    result = analyze_bytes(analyzer, "/srv/yarn.lock", text.encode())
    assert [(p.name, p.version, p.depends) for p in result.packages] == [
        ("string-width", "4.2.3", ("emoji-regex", "strip-ansi")),  # "local@file:" is the project's own code
    ]


@pytest.mark.parametrize(
    "rel, cut_after",
    [
        ("installed/root/app/package-lock.json", b'"version": "'),
        ("locks/root/srv/pnpm9/pnpm-lock.yaml", b"resolution: {"),
        ("locks/root/srv/berry/yarn.lock", b'resolution: "'),
        ("installed/root/app/node_modules/debug/package.json", b'"dependencies": {'),
    ],
)
def test_truncated_files_give_warning(analyzer: NpmAnalyzer, rel: str, cut_after: bytes) -> None:
    path, truncated = truncated_case("npm", rel, cut_after)
    assert_malformed(analyze_bytes(analyzer, path, truncated), path)


def test_broken_yarn_v1_and_wrong_shapes(tmp_path: Path, analyzer: NpmAnalyzer) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/yarn.lock").write_text('  version "1.0.0"\nfoo@^1\n')
    (tmp_path / "b").mkdir()
    (tmp_path / "b/package-lock.json").write_text('{"lockfileVersion": 1, "dependencies": ["x"]}')
    (tmp_path / "c").mkdir()
    (tmp_path / "c/pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\npackages: [1, 2]\n")
    good = tmp_path / "d/node_modules/ok"
    good.mkdir(parents=True)
    (good / "package.json").write_text('{"name": "ok", "version": "1.0.0"}')
    got = run_tree(analyzer, tmp_path)
    assert nv(got) == {"ok@1.0.0"}
    assert sorted(w["path"] for w in got["warnings"]) == ["/a/yarn.lock", "/b/package-lock.json", "/c/pnpm-lock.yaml"]


def test_deeply_nested_yaml_is_malformed_not_a_crash(tmp_path: Path) -> None:
    """PyYAML's C composer recurses per flow level: 200,000 ``[`` crashed the whole scan with SIGSEGV.
    Run through the CLI in a child process, so a regression is a failed test, not a dead test worker."""
    import subprocess
    import sys

    root = tmp_path / "root"
    for rel, text in {
        "etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n",
        "app/pnpm-lock.yaml": "lockfileVersion: '9.0'\npackages: " + "[" * 200_000 + "]" * 200_000 + "\n",
        "web/yarn.lock": "__metadata:\n  version: 6\n" + '"x@npm:1": {a: ' * 50_000 + "1" + "}" * 50_000 + "\n",
        "app/node_modules/ok/package.json": '{"name": "ok", "version": "1.0.0"}',
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    res = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", str(root), "--scanners", "none", "-f", "json",
                          "--no-cache", "--cache-dir", str(tmp_path / "c")], capture_output=True, text=True, timeout=300,
                         check=False)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert [(p["name"], p["version"]) for p in report["packages"]] == [("ok", "1.0.0")]
    warned = {w["path"]: w for w in report["warnings"]}
    assert sorted(warned) == ["/app/pnpm-lock.yaml", "/web/yarn.lock"]
    assert all(w["code"] == "malformed-file" and "nested more than 1000 levels" in w["message"] for w in warned.values())
    for real in sorted((NPM / "locks/root/srv").glob("*/*.y*")):  # lock files written by pnpm 7-9 and yarn berry
        assert flow_depth(real.read_text()) < 100, real


def test_flow_depth_ignores_balanced_siblings() -> None:
    assert flow_depth("a: [1, [2], {b: [3]}]\n" * 600) == 3
    assert flow_depth("k: v\n") == 0
    assert flow_depth("x: " + "[" * 1001 + "]" * 1001) == 1001
