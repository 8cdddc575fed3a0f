""".NET analyzer: ``*.deps.json`` and NuGet ``packages.lock.json`` (``tests/data/lang/dotnet/README.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hullscan.analyzers.lang.dotnet import DotnetAnalyzer
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

NET = DATA / "dotnet"


@pytest.fixture()
def analyzer() -> DotnetAnalyzer:
    return DotnetAnalyzer()


def test_app_golden(analyzer: DotnetAnalyzer) -> None:
    got = check_case(analyzer, "dotnet", "app")
    deps = {f"{p['name']}@{p['version']}": p for p in got["packages"] if p["installed"]}
    # project entries (WebApi, WebApi.Core) are the app itself (Trivy agrees; Syft lists them)
    assert set(deps) == {"Newtonsoft.Json@13.0.1", "Serilog@2.10.0", "Serilog.Sinks.Console@4.1.0",
                         "Microsoft.SourceLink.GitHub@1.1.1"}
    # SourceLink is not in the runtime target: kept (as Trivy and Syft do), flagged
    assert dict(deps["Microsoft.SourceLink.GitHub@1.1.1"]["extra"]) == {"runtime": "false"}
    assert dict(deps["Serilog@2.10.0"]["extra"]) == {}
    assert deps["Serilog.Sinks.Console@4.1.0"]["depends"] == ["Serilog"]
    assert deps["Newtonsoft.Json@13.0.1"]["purl"] == "pkg:nuget/Newtonsoft.Json@13.0.1"
    assert deps["Newtonsoft.Json@13.0.1"]["layer"] == LAYER
    locked = {f"{p['name']}@{p['version']}": p for p in got["packages"] if not p["installed"]}
    assert set(locked) == {"Newtonsoft.Json@13.0.1", "Serilog@2.10.0", "Serilog.Sinks.Console@4.1.0",
                           "System.Text.Json@8.0.4"}  # the Project entry is skipped, Serilog reported once
    assert dict(locked["Newtonsoft.Json@13.0.1"]["extra"]) == {"direct": "true"}
    assert all(p["ecosystem"] == "NuGet" for p in got["packages"])


def test_deps_json_without_runtime_target_keeps_all_packages(analyzer: DotnetAnalyzer) -> None:
    data = (
        b'\xef\xbb\xbf{"libraries": {"A/1.0.0": {"type": "project"}, "Dapper/2.0.123": {"type": "package"},'
        b' "Polly/7.2.3": {"type": "package"}, "ref/1.0": {"type": "referenceassembly"}}}'
    )
    result = analyze_bytes(analyzer, "/app/A.deps.json", data)  # with a UTF-8 BOM, as dotnet writes it
    assert [(p.name, p.version) for p in result.packages] == [("Dapper", "2.0.123"), ("Polly", "7.2.3")]


def test_wants(analyzer: DotnetAnalyzer) -> None:
    def wants(path: str) -> bool:
        return analyzer.wants(path, FileInfo(path=path))

    assert wants("/app/WebApi.deps.json") and wants("/src/x/packages.lock.json")
    assert not wants("/app/WebApi.runtimeconfig.json") and not wants("/app/WebApi.dll")


@pytest.mark.parametrize("rel", ["app/root/app/WebApi.deps.json", "app/root/src/WebApi/packages.lock.json"])
def test_truncated_json_gives_warning(analyzer: DotnetAnalyzer, rel: str) -> None:
    path, truncated = truncated_case("dotnet", rel, len((NET / rel).read_bytes()) // 3)
    assert_malformed(analyze_bytes(analyzer, path, truncated), path)


def test_wrong_shapes_give_warnings(tmp_path: Path, analyzer: DotnetAnalyzer) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.deps.json").write_text('{"libraries": ["Newtonsoft.Json/13.0.1"]}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b/packages.lock.json").write_text('{"version": 1, "dependencies": {"net8.0": []}}')
    (tmp_path / "c").mkdir()
    (tmp_path / "c/packages.lock.json").write_text(
        '{"version": 2, "dependencies": {"net8.0": {"Polly": {"type": "Direct", "resolved": "8.0.0"}}}}'
    )
    got = run_tree(analyzer, tmp_path)
    assert nv(got) == {"Polly@8.0.0"}
    assert sorted(w["path"] for w in got["warnings"]) == ["/a/x.deps.json", "/b/packages.lock.json"]
