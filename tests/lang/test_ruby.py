"""Ruby analyzer: real gem specifications and Bundler lock files (``tests/data/lang/ruby/README.md``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hullscan.analyzers.lang.ruby import RubyAnalyzer
from hullscan.model import FileInfo
from tests.lang._golden import DATA, LAYER, analyze_bytes, check_case, nv, run_tree

RUBY = DATA / "ruby"


@pytest.fixture()
def analyzer() -> RubyAnalyzer:
    return RubyAnalyzer()


def test_installed_golden(analyzer: RubyAnalyzer) -> None:
    got = check_case(analyzer, "ruby", "installed")
    assert nv(got) == {
        "bundler@2.3.27", "debug@1.6.3", "json@2.6.1", "power_assert@2.0.1", "rake@13.0.6",
        "rexml@3.3.9", "test-unit@3.5.3", "webrick@1.8.1",
    }
    by_name = {p["name"]: p for p in got["packages"]}
    assert by_name["test-unit"]["licenses"] == ["Ruby", "BSDL", "PSFL"]
    assert by_name["test-unit"]["depends"] == ["power_assert"]  # development dependencies left out
    assert by_name["power_assert"]["depends"] == []  # only development dependencies
    assert by_name["debug"]["depends"] == ["irb", "reline"]
    assert by_name["rake"]["purl"] == "pkg:gem/rake@13.0.6"
    assert all(p["installed"] and p["ecosystem"] == "RubyGems" and p["layer"] == LAYER for p in got["packages"])


def test_locks_golden(analyzer: RubyAnalyzer) -> None:
    got = check_case(analyzer, "ruby", "locks")
    simple = {f"{p['name']}@{p['version']}" for p in got["packages"] if "/simple/" in p["path"]}
    assert simple == {"power_assert@2.0.1", "rake@13.0.6", "rexml@3.3.9", "test-unit@3.5.3", "webrick@1.8.1"}
    mylib = next(p for p in got["packages"] if p["name"] == "mylib")
    assert (mylib["version"], mylib["depends"], dict(mylib["extra"])) == ("0.4.2", ["rexml"], {"source": "path"})
    assert all(not p["installed"] for p in got["packages"])


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby not installed")
def test_installed_gems_agree_with_rubygems(analyzer: RubyAnalyzer, tmp_path: Path) -> None:
    """Every spec of the system's gem directory parses to what RubyGems itself loads."""
    gem_dir = Path(subprocess.run(["ruby", "-e", "print Gem.dir"], capture_output=True, text=True).stdout)
    script = "Gem::Specification.each { |s| puts \"#{s.name}@#{s.version}\" if s.loaded_from.start_with?(Gem.dir) }"
    want = set(subprocess.run(["ruby", "-e", script], capture_output=True, text=True, check=True).stdout.split())
    got = run_tree(analyzer, gem_dir / "specifications")
    assert not got["warnings"]
    assert nv(got) == want


def test_platform_gems_and_prereleases(analyzer: RubyAnalyzer) -> None:
    # the GEM section shape Bundler writes for platform-specific gems (bundler docs, Gemfile.lock)
    text = (
        "GEM\n  remote: https://rubygems.org/\n  specs:\n"
        "    nokogiri (1.16.0-x86_64-linux)\n      racc (~> 1.4)\n"
        "    racc (1.7.3)\n    rails (7.1.0.rc1)\n    sorbet-static (0.5.11-java)\n\n"
        "GIT\n  remote: https://github.com/x/y.git\n  revision: abc\n  specs:\n    y (0.1.0)\n\n"
        "PLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  nokogiri\n"
    )
    result = analyze_bytes(analyzer, "/app/Gemfile.lock", text.encode())
    got = {(p.name, p.version, dict(p.extra).get("platform", ""), dict(p.extra)["source"]) for p in result.packages}
    assert got == {
        ("nokogiri", "1.16.0", "x86_64-linux", "gem"), ("racc", "1.7.3", "", "gem"),
        ("rails", "7.1.0.rc1", "", "gem"), ("sorbet-static", "0.5.11", "java", "gem"), ("y", "0.1.0", "", "git"),
    }
    assert next(p for p in result.packages if p.name == "nokogiri").depends == ("racc",)


def test_gemspec_string_forms(analyzer: RubyAnalyzer) -> None:
    text = (
        "Gem::Specification.new do |spec|\n  spec.name = %q{my-gem}\n"
        "  spec.version = Gem::Version.new('2.1.0')\n  spec.license = 'Apache-2.0'\n"
        "  spec.add_dependency %q<rack>, ['>= 2']\nend\n"
    )
    result = analyze_bytes(analyzer, "/gems/specifications/my-gem-2.1.0.gemspec", text.encode())
    (pkg,) = result.packages
    assert (pkg.name, pkg.version, pkg.licenses, pkg.depends) == ("my-gem", "2.1.0", ("Apache-2.0",), ("rack",))


def test_wants(analyzer: RubyAnalyzer) -> None:
    def wants(path: str) -> bool:
        return analyzer.wants(path, FileInfo(path=path))

    assert wants("/usr/local/bundle/specifications/rack-3.0.0.gemspec")
    assert not wants("/src/mygem/mygem.gemspec")  # a source gemspec is Ruby code to run, not an install record
    assert wants("/app/Gemfile.lock") and wants("/app/gems.locked") and not wants("/app/Gemfile")


def test_malformed_inputs_give_warnings_and_scan_goes_on(tmp_path: Path, analyzer: RubyAnalyzer) -> None:
    specs = tmp_path / "gems/specifications"
    specs.mkdir(parents=True)
    real = (RUBY / "installed/root/usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec").read_bytes()
    (specs / "rake-13.0.6.gemspec").write_bytes(real)
    (specs / "cut-1.0.gemspec").write_bytes(real[: real.index(b"s.name")])  # truncated before the name
    (specs / "bin-1.0.gemspec").write_bytes(b"\x00\x01\x02" * 50)
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Gemfile.lock").write_text("this is not a lock file\n  at all\n")
    got = run_tree(analyzer, tmp_path)
    assert nv(got) == {"rake@13.0.6"}
    assert sorted(w["path"] for w in got["warnings"]) == [
        "/app/Gemfile.lock", "/gems/specifications/bin-1.0.gemspec", "/gems/specifications/cut-1.0.gemspec",
    ]
    assert all(w["code"] == "malformed-file" and w["path"] in w["message"] for w in got["warnings"])
