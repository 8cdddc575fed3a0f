"""Java archive analyzer on Debian's real jars, and on shaded, nested, manifest-only and hostile archives built from them."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.lang.java import (
    JavaArchiveAnalyzer,
    ZipLimits,
    filename_coordinates,
    parse_manifest,
    parse_properties,
)
from hullscan.model import AnalysisResult, FileInfo

JAVA = Path("/usr/share/java")
LANG3 = JAVA / "commons-lang3.jar"
DATABIND = JAVA / "jackson-databind.jar"
COMMONS_IO = JAVA / "commons-io.jar"
LAYER = "sha256:" + "cd" * 32

pytestmark = pytest.mark.skipif(
    not (LANG3.exists() and DATABIND.exists() and COMMONS_IO.exists()),
    reason="Debian Java packages libcommons-lang3-java, libjackson2-databind-java, libcommons-io-java not installed",
)


def analyze(path: str, data: bytes, analyzer: JavaArchiveAnalyzer | None = None) -> AnalysisResult:
    result = (analyzer or JavaArchiveAnalyzer()).analyze(FileInput.from_bytes(path, data, layer=LAYER))
    assert result is not None
    return result


def pom_properties(jar: Path) -> dict[str, str]:
    """The jar's own pom.properties, read with zipfile (the reference answer)."""
    with zipfile.ZipFile(jar) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/pom.properties"))
        return parse_properties(zf.read(name).decode())


def rezip(sources: list[Path], drop: tuple[str, ...] = (), add: dict[str, bytes] | None = None) -> bytes:
    """A new jar holding every entry of ``sources`` (first wins), minus names containing ``drop``, plus ``add``."""
    buf = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for src in sources:
            with zipfile.ZipFile(src) as zf:
                for info in zf.infolist():
                    if info.filename in seen or any(d in info.filename for d in drop):
                        continue
                    seen.add(info.filename)
                    out.writestr(info.filename, zf.read(info))
        for name, data in (add or {}).items():
            out.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("jar", [LANG3, DATABIND, COMMONS_IO], ids=lambda p: p.name)
def test_debian_jars_match_their_pom_properties(jar: Path) -> None:
    want = pom_properties(jar)
    result = analyze(f"/usr/share/java/{jar.name}", jar.read_bytes())
    assert not result.warnings
    [pkg] = result.packages
    group, artifact, version = want["groupId"], want["artifactId"], want["version"]
    assert (pkg.name, pkg.version, pkg.ecosystem) == (f"{group}:{artifact}", version, "Maven")
    assert pkg.purl == f"pkg:maven/{group}/{artifact}@{version}"
    assert (pkg.layer, pkg.path, pkg.found_by, pkg.installed) == (LAYER, f"/usr/share/java/{jar.name}", "lang/java-archive", True)
    assert dict(pkg.extra)["version_source"] == "pom.properties"
    from packageurl import PackageURL

    assert pkg.purl == PackageURL(type="maven", namespace=group, name=artifact, version=version).to_string()


def test_commons_lang3_golden() -> None:
    [pkg] = analyze("/usr/share/java/commons-lang3.jar", LANG3.read_bytes()).packages
    assert (pkg.name, pkg.version, pkg.module) == ("org.apache.commons:commons-lang3", "3.12.0", "org.apache.commons")


def test_shaded_jar_yields_every_artifact() -> None:
    shaded = rezip([DATABIND, LANG3, COMMONS_IO])
    result = analyze("/app/app-all.jar", shaded)
    assert not result.warnings
    got = {(p.name, p.version) for p in result.packages}
    want = {(f"{pp['groupId']}:{pp['artifactId']}", pp["version"]) for pp in map(pom_properties, (DATABIND, LANG3, COMMONS_IO))}
    assert got == want and len(got) == 3
    assert all(p.path == "/app/app-all.jar" for p in result.packages)


def test_fat_jar_reports_itself_and_what_it_shades() -> None:
    manifest = b"Manifest-Version: 1.0\r\nImplementation-Title: billing\r\nImplementation-Version: 2.1.0\r\n\r\n"
    fat = rezip([LANG3, COMMONS_IO], drop=("MANIFEST.MF",), add={"META-INF/MANIFEST.MF": manifest})
    result = analyze("/app/billing-service-2.1.0.jar", fat)
    got = {(p.name, p.version, dict(p.extra)["version_source"]) for p in result.packages}
    assert got == {
        ("org.apache.commons:commons-lang3", "3.12.0", "pom.properties"),
        ("commons-io:commons-io", "2.11.0", "pom.properties"),
        ("billing-service", "2.1.0", "MANIFEST.MF:Implementation-Version"),
    }


def test_nested_war_and_depth_limit() -> None:
    inner = rezip([COMMONS_IO])
    lib = rezip([LANG3], add={"lib/commons-io-2.11.0.jar": inner})  # a jar that itself nests a jar
    war = rezip([], add={"WEB-INF/lib/lang3-bundle.jar": lib, "WEB-INF/lib/jackson-databind-2.14.0.jar": DATABIND.read_bytes()})
    result = analyze("/srv/app.war", war)
    assert not result.warnings
    by_name = {p.name: p for p in result.packages}
    assert set(by_name) == {
        "org.apache.commons:commons-lang3",
        "commons-io:commons-io",
        "com.fasterxml.jackson.core:jackson-databind",
    }
    assert dict(by_name["commons-io:commons-io"].extra)["virtual_path"] == (
        "/srv/app.war:WEB-INF/lib/lang3-bundle.jar:lib/commons-io-2.11.0.jar"
    )
    assert all(p.path == "/srv/app.war" for p in result.packages)

    shallow = analyze("/srv/app.war", war, JavaArchiveAnalyzer(ZipLimits(max_depth=1)))
    assert {p.name for p in shallow.packages} == {"org.apache.commons:commons-lang3", "com.fasterxml.jackson.core:jackson-databind"}
    [warning] = shallow.warnings
    assert warning.code == "malformed-file" and warning.path == "/srv/app.war"
    assert "lib/commons-io-2.11.0.jar: nested deeper than 1" in warning.message


def test_pom_xml_when_no_properties() -> None:
    jar = rezip([COMMONS_IO], drop=("pom.properties",))
    [pkg] = analyze("/opt/x.jar", jar).packages
    want = pom_properties(COMMONS_IO)
    assert (pkg.name, pkg.version) == (f"{want['groupId']}:{want['artifactId']}", want["version"])
    assert dict(pkg.extra)["version_source"] == "pom.xml"


@pytest.mark.skipif(shutil.which("jar") is None, reason="JDK jar tool not installed")
def test_manifest_fallback_with_the_jar_tool(tmp_path: Path) -> None:
    (tmp_path / "classes" / "org" / "example").mkdir(parents=True)
    (tmp_path / "classes" / "org" / "example" / "Util.txt").write_text("not a class, content is irrelevant\n")
    (tmp_path / "manifest.txt").write_text(
        "Implementation-Title: Example Util\nImplementation-Version: 4.5.6\n"
        "Bundle-SymbolicName: org.example.util\nBundle-Version: 4.5.6.final\n"
    )
    jar = tmp_path / "util.jar"
    subprocess.run(
        ["jar", "--create", "--file", str(jar), "--manifest", str(tmp_path / "manifest.txt"), "-C", str(tmp_path / "classes"), "."],
        check=True,
        capture_output=True,
    )
    [pkg] = analyze("/opt/util.jar", jar.read_bytes()).packages
    assert (pkg.name, pkg.version, pkg.purl) == ("org.example:util", "4.5.6", "pkg:maven/org.example/util@4.5.6")
    assert dict(pkg.extra)["version_source"] == "MANIFEST.MF:Implementation-Version"

    # a Jenkins plugin: Group-Id, Short-Name and Plugin-Version
    (tmp_path / "plugin.txt").write_text("Group-Id: org.jenkins-ci.plugins\nShort-Name: git\nPlugin-Version: 4.11.0\n")
    hpi = tmp_path / "git.hpi"
    subprocess.run(
        ["jar", "--create", "--file", str(hpi), "--manifest", str(tmp_path / "plugin.txt"), "-C", str(tmp_path / "classes"), "."],
        check=True,
        capture_output=True,
    )
    [plugin] = analyze("/var/jenkins_home/plugins/git.hpi", hpi.read_bytes()).packages
    assert (plugin.name, plugin.version) == ("org.jenkins-ci.plugins:git", "4.11.0")
    assert dict(plugin.extra)["version_source"] == "MANIFEST.MF:Plugin-Version"


def test_filename_is_the_last_resort() -> None:
    bare = rezip([COMMONS_IO], drop=("META-INF/",))
    [pkg] = analyze("/opt/lib/commons-io-2.11.0.jar", bare).packages
    assert (pkg.name, pkg.version, pkg.purl) == ("commons-io", "2.11.0", "pkg:maven/commons-io@2.11.0")
    extra = dict(pkg.extra)
    assert extra["version_source"] == "filename" and "groupId unknown" in extra["note"]
    assert analyze("/opt/lib/nameless.jar", bare).packages == []


def test_truncated_zip_warns_and_names_the_file() -> None:
    data = LANG3.read_bytes()
    result = analyze("/app/lib/broken.jar", data[: len(data) // 2])
    assert result.packages == []
    [warning] = result.warnings
    assert warning.code == "malformed-file" and warning.path == "/app/lib/broken.jar" and warning.layer == LAYER
    assert "/app/lib/broken.jar" in warning.message and "truncated or corrupt" in warning.message


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("META-INF/maven/evil/bomb/pom.properties", "groupId=evil\nartifactId=bomb\nversion=1\n")
        zf.writestr("payload.bin", bytes(64 * 1024 * 1024))
    return buf.getvalue()


def test_zip_bomb_is_refused_and_the_rest_is_scanned() -> None:
    bomb = _bomb()
    assert len(bomb) < 200_000
    result = analyze("/app/bomb.jar", bomb)
    assert result.packages == []
    [warning] = result.warnings
    assert warning.path == "/app/bomb.jar" and "possible zip bomb" in warning.message and "payload.bin" in warning.message

    war = rezip([], add={"WEB-INF/lib/bomb.jar": bomb, "WEB-INF/lib/commons-lang3-3.12.0.jar": LANG3.read_bytes()})
    result = analyze("/app/site.war", war)
    assert [p.name for p in result.packages] == ["org.apache.commons:commons-lang3"]
    [warning] = result.warnings
    assert "/app/site.war:WEB-INF/lib/bomb.jar" in warning.message and "possible zip bomb" in warning.message


def test_entry_and_size_limits() -> None:
    data = LANG3.read_bytes()
    few = analyze("/a.jar", data, JavaArchiveAnalyzer(ZipLimits(max_entries=10)))
    assert few.packages == [] and "more than 10 zip entries" in few.warnings[0].message
    small = analyze("/a.jar", data, JavaArchiveAnalyzer(ZipLimits(max_total_uncompressed=1000)))
    assert small.packages == [] and "uncompressed bytes declared" in small.warnings[0].message


def test_wants_only_java_archives() -> None:
    analyzer = JavaArchiveAnalyzer()
    for path in ("/a/b.jar", "/a/B.WAR", "/x.ear", "/jenkins/plugins/git.jpi", "/p/x.hpi"):
        assert analyzer.wants(path, FileInfo(path, size=10))
    assert not analyzer.wants("/a/b.jar", FileInfo("/a/b.jar", kind="symlink"))
    assert not analyzer.wants("/a/b.zip", FileInfo("/a/b.zip"))


def test_manifest_and_properties_parsers() -> None:
    headers = parse_manifest("Manifest-Version: 1.0\r\nBundle-SymbolicName: org.a\r\n .b;singleton:=true\r\n\r\nName: x\r\nA: b\r\n")
    assert headers == {"Manifest-Version": "1.0", "Bundle-SymbolicName": "org.a.b;singleton:=true"}
    props = parse_properties("#Generated\nversion=1.2\ngroupId:org.x\nartifactId = a\\\n  b\n")
    assert props == {"version": "1.2", "groupId": "org.x", "artifactId": "ab"}
    assert filename_coordinates("/x/guava-31.1-jre.jar") == ("guava", "31.1-jre")
    assert filename_coordinates("commons-lang3.jar") == ("commons-lang3", "")
    assert filename_coordinates("/usr/share/java/jsr305-0.1~+svn49.jar") == ("jsr305", "0.1~+svn49")  # Debian


def test_end_to_end_scan_keeps_going_past_broken_archives(tmp_path: Path) -> None:
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import ImageBuilder

    data = LANG3.read_bytes()
    image = ImageBuilder()
    image.add_layer({"opt/app/lib/commons-lang3-3.12.0.jar": data, "opt/app/lib/broken.jar": data[:5000]})
    image.add_layer({"opt/app/lib/bomb.jar": _bomb(), "opt/app/lib/jackson-databind.jar": DATABIND.read_bytes()})
    image.write_oci_layout(tmp_path / "layout")
    report = scan(str(tmp_path / "layout"), ScanOptions(scanners=frozenset(), use_cache=False, cache_dir=tmp_path / "c"))
    maven = {(p.name, p.version, p.layer) for p in report.packages if p.ecosystem == "Maven"}
    assert maven == {
        ("org.apache.commons:commons-lang3", "3.12.0", report.layers[0].diff_id),
        ("com.fasterxml.jackson.core:jackson-databind", "2.14.0", report.layers[1].diff_id),
    }
    warned = {w.path: w.message for w in report.warnings if w.code == "malformed-file"}
    assert set(warned) >= {"/opt/app/lib/broken.jar", "/opt/app/lib/bomb.jar"}
    assert "possible zip bomb" in warned["/opt/app/lib/bomb.jar"]


def test_maven_packages_reach_the_matcher(tmp_path: Path) -> None:
    """A jar's coordinates match an OSV Maven record through the shared vulnerability stage, nested jars too."""
    from hullscan.options import ScanOptions
    from hullscan.scan import scan
    from tests.helpers.imagebuild import ImageBuilder

    db = tmp_path / "vuln.db"
    record = Path(__file__).parent.parent / "data" / "lang" / "java" / "GHSA-j288-q9x7-2f5v.json"
    subprocess.run([sys.executable, "-m", "hullscan.cli", "db", "import", "--db", str(db), "-q", str(record)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    war = rezip([], add={"WEB-INF/lib/commons-lang3-3.12.0.jar": LANG3.read_bytes()})
    image = ImageBuilder()
    image.add_layer({"usr/share/java/commons-lang3-3.12.0.jar": LANG3.read_bytes(),
                     "usr/share/java/jackson-databind.jar": DATABIND.read_bytes(),
                     "srv/app.war": war})
    image.write_oci_layout(tmp_path / "layout")
    opts = ScanOptions(scanners=frozenset({"vuln"}), db_path=db, use_cache=False, cache_dir=tmp_path / "c")
    report = scan(str(tmp_path / "layout"), opts)
    hits = sorted((f.id, f.vuln.package_name, f.vuln.installed_version, f.location.path) for f in report.findings if f.vuln)
    assert hits == [
        ("CVE-2025-48924", "org.apache.commons:commons-lang3", "3.12.0", "/srv/app.war"),
        ("CVE-2025-48924", "org.apache.commons:commons-lang3", "3.12.0", "/usr/share/java/commons-lang3-3.12.0.jar"),
    ]
    assert all("3.18.0" in f.vuln.fixed_versions for f in report.findings if f.vuln)


def test_mutated_archives_never_raise() -> None:
    """Random byte damage anywhere in a real jar ends in packages and/or warnings, never an exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    data = COMMONS_IO.read_bytes()
    analyzer = JavaArchiveAnalyzer()

    @settings(max_examples=120, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=8),
           st.one_of(st.none(), st.integers(0, len(data))))
    def check(edits: list[tuple[int, int]], cut: int | None) -> None:
        mutated = bytearray(data if cut is None else data[:cut])
        for pos, value in edits:
            if pos < len(mutated):
                mutated[pos] = value
        result = analyzer.analyze(FileInput.from_bytes("/a.jar", bytes(mutated)))
        assert result is not None and all(w.path == "/a.jar" for w in result.warnings)

    check()


def test_spring_boot_style_jar_of_every_debian_jar() -> None:
    """Every regular jar under /usr/share/java nested in BOOT-INF/lib: each pom.properties artifact is found once."""
    jars = sorted(p for p in JAVA.glob("*.jar") if p.is_file() and not p.is_symlink())
    want: set[tuple[str, str]] = set()
    for jar in jars:
        with zipfile.ZipFile(jar) as zf:
            for name in zf.namelist():
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    props = parse_properties(zf.read(name).decode("utf-8", "replace"))
                    if props.get("artifactId") and props.get("version") and "${" not in props["version"]:
                        want.add((f"{props.get('groupId', '')}:{props['artifactId']}".lstrip(":"), props["version"]))
    boot = rezip([], add={f"BOOT-INF/lib/{jar.name}": jar.read_bytes() for jar in jars})
    result = analyze("/app/app.jar", boot)
    assert not result.warnings
    got = {(p.name, p.version) for p in result.packages if dict(p.extra)["version_source"] == "pom.properties"}
    assert got == want and len(want) >= 3
    assert all(dict(p.extra)["virtual_path"].startswith("/app/app.jar:BOOT-INF/lib/") for p in result.packages)
