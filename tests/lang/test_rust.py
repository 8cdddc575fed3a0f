"""Rust analyzers: cargo-auditable data in a real cargo-built binary, and Cargo.lock versions 1, 3 and 4."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.rust import CargoLockAnalyzer, RustBinaryAnalyzer
from hullscan.model import AnalysisResult

DATA = Path(__file__).parent.parent / "data" / "lang" / "rust"
LOCK_V1 = DATA / "lock-v1" / "root" / "app" / "Cargo.lock"
LOCK_V3 = DATA / "lock-v3" / "root" / "app" / "Cargo.lock"
LAYER = "sha256:" + "ef" * 32
CARGO = shutil.which("cargo") or (str(Path.home() / ".cargo/bin/cargo") if (Path.home() / ".cargo/bin/cargo").exists() else None)
OBJCOPY = shutil.which("objcopy")

#: what cargo auditable records for the workspace below (auditable-serde format; "kind" omitted = runtime)
WORKSPACE_AUDIT = {
    "packages": [
        {"name": "app", "version": "0.1.0", "source": "local", "dependencies": [1], "root": True},
        {"name": "util", "version": "0.2.0", "source": "local"},
    ]
}
#: a typical crates.io dependency graph, as in the cargo-auditable documentation
CRATES_AUDIT = {
    "packages": [
        {"name": "adler", "version": "1.0.2", "source": "crates.io"},
        {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
        {"name": "flate2", "version": "1.0.26", "source": "crates.io", "dependencies": [0, 1, 3]},
        {"name": "miniz_oxide", "version": "0.7.1", "source": "crates.io", "dependencies": [0]},
        {"name": "demo", "version": "0.1.0", "source": "local", "dependencies": [2], "root": True},
    ]
}


def run(cmd: list[str], cwd: Path) -> None:
    env = dict(os.environ, CARGO_NET_OFFLINE="true")
    res = subprocess.run(cmd, cwd=cwd, env=env, check=False, capture_output=True, stdin=subprocess.DEVNULL)
    if res.returncode:  # say why: a bare CalledProcessError hid cargo's message when this failed under load
        raise AssertionError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.decode(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-crate cargo workspace, locked and built offline with the real cargo."""
    if CARGO is None:
        pytest.skip("cargo not installed")
    root = tmp_path_factory.mktemp("rustws")
    (root / "Cargo.toml").write_text('[workspace]\nmembers = ["app", "util"]\nresolver = "2"\n')
    for crate, manifest, src, body in [
        ("app", '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nutil = { path = "../util" }\n',
         "main.rs", 'fn main() { println!("{}", util::f()); }\n'),
        ("util", '[package]\nname = "util"\nversion = "0.2.0"\nedition = "2021"\n', "lib.rs", "pub fn f() -> u32 { 7 }\n"),
    ]:
        (root / crate / "src").mkdir(parents=True)
        (root / crate / "Cargo.toml").write_text(manifest)
        (root / crate / "src" / src).write_text(body)
    run([CARGO, "generate-lockfile", "--offline"], root)
    run([CARGO, "build", "--release", "--offline", "-q"], root)
    return root


def audited(workspace: Path, audit: dict[str, object], name: str) -> Path:
    """The workspace binary with a ``.dep-v0`` section holding ``audit``, added by objcopy."""
    if OBJCOPY is None:
        pytest.skip("objcopy not installed")
    blob = workspace / f"{name}.dep"
    blob.write_bytes(zlib.compress(json.dumps(audit).encode(), 9))
    out = workspace / name
    subprocess.run(
        [OBJCOPY, "--add-section", f".dep-v0={blob}", "--set-section-flags", ".dep-v0=noload,readonly",
         str(workspace / "target" / "release" / "app"), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def analyze_bin(path: Path, data: bytes | None = None) -> AnalysisResult | None:
    return RustBinaryAnalyzer().analyze(FileInput.from_bytes(str(path), data or path.read_bytes(), layer=LAYER, mode=0o755))


def test_auditable_binary_of_the_workspace(workspace: Path) -> None:
    binary = audited(workspace, WORKSPACE_AUDIT, "app-audited")
    result = analyze_bin(binary)
    assert result is not None and not result.warnings
    got = {(p.name, p.version, p.purl, p.depends, dict(p.extra).get("source")) for p in result.packages}
    assert got == {
        ("app", "0.1.0", "pkg:cargo/app@0.1.0", ("util",), "local"),
        ("util", "0.2.0", "pkg:cargo/util@0.2.0", (), "local"),
    }
    for pkg in result.packages:
        assert (pkg.ecosystem, pkg.layer, pkg.path, pkg.found_by, pkg.installed) == (
            "crates.io", LAYER, str(binary), "lang/rust-binary", True)
        assert pkg.module == "app"


def test_auditable_crates_io_graph(workspace: Path) -> None:
    result = analyze_bin(audited(workspace, CRATES_AUDIT, "demo-audited"))
    assert result is not None and not result.warnings
    by_name = {p.name: p for p in result.packages}
    assert sorted(by_name) == ["adler", "cc", "demo", "flate2", "miniz_oxide"]
    assert by_name["flate2"].depends == ("adler", "cc", "miniz_oxide")
    assert dict(by_name["cc"].extra) == {"source": "crates.io", "kind": "build"}
    assert dict(by_name["demo"].extra) == {"source": "local", "root": "true"}


def test_binary_without_audit_data_is_skipped(workspace: Path) -> None:
    assert analyze_bin(workspace / "target" / "release" / "app") is None


def test_corrupt_audit_section_and_garbage_elf_warn(workspace: Path) -> None:
    binary = audited(workspace, WORKSPACE_AUDIT, "app-corrupt")
    data = bytearray(binary.read_bytes())
    start = data.find(zlib.compress(json.dumps(WORKSPACE_AUDIT).encode(), 9))
    data[start + 2 : start + 12] = b"\x00" * 10  # break the deflate stream
    result = analyze_bin(Path("/usr/local/bin/app"), bytes(data))
    assert result is not None and not result.packages
    assert result.warnings[0].code == "malformed-file" and "/usr/local/bin/app" in result.warnings[0].message

    garbage = b"\x7fELF\x02\x01\x01" + b"\xff" * 100 + b".dep-v0"
    result = analyze_bin(Path("/bin/junk"), garbage)
    assert result is not None and result.warnings[0].path == "/bin/junk" and "/bin/junk" in result.warnings[0].message


def lock_packages(path: Path, name: str = "/src/Cargo.lock") -> AnalysisResult:
    result = CargoLockAnalyzer().analyze(FileInput.from_bytes(name, path.read_bytes(), layer=LAYER))
    assert result is not None
    return result


def test_cargo_lock_v4_from_real_cargo(workspace: Path) -> None:
    assert "version = 4" in (workspace / "Cargo.lock").read_text()
    result = lock_packages(workspace / "Cargo.lock")
    assert not result.warnings
    got = [(p.name, p.version, p.depends, dict(p.extra)) for p in result.packages]
    assert got == [
        ("app", "0.1.0", ("util",), {"source": "local", "lock_version": "4"}),
        ("util", "0.2.0", (), {"source": "local", "lock_version": "4"}),
    ]
    assert all(not p.installed and p.ecosystem == "crates.io" for p in result.packages)


def test_cargo_lock_v1_golden() -> None:
    result = lock_packages(LOCK_V1)
    got = {(p.name, p.version, p.depends, dict(p.extra)["source"], dict(p.extra)["lock_version"]) for p in result.packages}
    assert got == {
        ("adler32", "1.0.4", (), "crates.io", "1"),
        ("demo", "0.1.0", ("flate2", "smallvec"), "local", "1"),
        ("flate2", "1.0.13", ("miniz_oxide",), "crates.io", "1"),
        ("miniz_oxide", "0.3.5", ("adler32",), "crates.io", "1"),
        ("smallvec", "0.6.10", (), "crates.io", "1"),
    }


def test_cargo_lock_v3_golden_with_two_versions_of_a_crate() -> None:
    result = lock_packages(LOCK_V3)
    names = [(p.name, p.version) for p in result.packages]
    assert ("time", "0.1.45") in names and ("time", "0.3.20") in names and len(names) == 9
    toolbox = next(p for p in result.packages if p.name == "toolbox")
    assert toolbox.depends == ("rand", "time") and dict(toolbox.extra)["source"] == "local"
    from packageurl import PackageURL

    assert all(p.purl == PackageURL(type="cargo", name=p.name, version=p.version).to_string() for p in result.packages)
    rand = next(p for p in result.packages if p.name == "rand")
    assert rand.purl == "pkg:cargo/rand@0.8.5" and dict(rand.extra) == {"source": "crates.io", "lock_version": "3"}


def test_cargo_lock_v2_has_no_version_line(tmp_path: Path) -> None:
    v3 = (LOCK_V3).read_text()
    v2 = tmp_path / "Cargo.lock"
    v2.write_text(v3.replace("version = 3\n", ""))  # lock format 2 is format 3 without the marker
    result = lock_packages(v2)
    assert {dict(p.extra)["lock_version"] for p in result.packages} == {"2"}
    assert len(result.packages) == 9


def test_malformed_cargo_lock_warns() -> None:
    analyzer = CargoLockAnalyzer()
    for data in (b"[[package]\nname = ", b'[[package]]\nname = "x"\n', b"package = 3\n"):
        result = analyzer.analyze(FileInput.from_bytes("/app/Cargo.lock", data))
        assert result is not None and not result.packages
        assert result.warnings[0].code == "malformed-file" and "/app/Cargo.lock" in result.warnings[0].message


def test_end_to_end_scan(workspace: Path, tmp_path: Path) -> None:
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import F, ImageBuilder

    binary = audited(workspace, CRATES_AUDIT, "demo-e2e")
    image = ImageBuilder()
    image.add_layer({"usr/bin/demo": F(binary.read_bytes(), mode=0o755),
                     "srv/Cargo.lock": (LOCK_V1).read_bytes(),
                     "srv/broken/Cargo.lock": b"[[package]\n"})
    image.write_oci_layout(tmp_path / "layout")
    report = scan(str(tmp_path / "layout"), ScanOptions(scanners=frozenset(), use_cache=False, cache_dir=tmp_path / "c"))
    crates = {(p.name, p.version, p.path, p.installed) for p in report.packages if p.ecosystem == "crates.io"}
    assert ("flate2", "1.0.26", "/usr/bin/demo", True) in crates
    assert ("flate2", "1.0.13", "/srv/Cargo.lock", False) in crates
    assert len(crates) == 10
    assert any(w.path == "/srv/broken/Cargo.lock" and w.code == "malformed-file" for w in report.warnings)


@pytest.mark.parametrize("case", ["lock-v1", "lock-v3"])
def test_cargo_lock_golden_cases(case: str) -> None:
    """Every field of every package against want.json (``HULLSCAN_UPDATE_GOLDEN=1`` rewrites it)."""
    from tests.lang._golden import check_case

    got = check_case(CargoLockAnalyzer(), "rust", case)
    assert got["wanted"] == ["/app/Cargo.lock"] and not got["warnings"] and got["packages"]
