"""rpm analyzer on real databases: SQLite written by Debian's rpm from rpmbuild-built packages,
Berkeley DB written by db5.3_load (little- and big-endian, read back by rpm's bdb_ro), NDB written
from rpmpkg.c's format; all compared with ``rpm -qa --qf`` output; plus damaged databases."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.os import attach_distro
from hullscan.analyzers.os.rpm import DB_PATHS, RpmAnalyzer, split_source_rpm
from hullscan.model import AnalysisResult, Distro, FileInfo, Package
from tests.os import rpmdb_writers, rpmfixture

DATA = Path(__file__).resolve().parents[1] / "data" / "os" / "rpm"
WANT = (DATA / "want.txt").read_text().splitlines()
FIXTURES = {"rpmdb.sqlite": "rpmdb.sqlite", "Packages": "Packages", "Packages.be512": "Packages", "Packages.db": "Packages.db"}


def run(path: str, data: bytes) -> AnalysisResult:
    analyzer = RpmAnalyzer()
    assert analyzer.wants(path, FileInfo(path=path))
    return analyzer.analyze(FileInput.from_bytes(path, data, layer="sha256:rpmlayer"))


def as_rpm_qa(pkg: Package) -> tuple[str, ...]:
    """The analyzer's view in the columns of :data:`rpmfixture.QUERYFORMAT` (files without directories)."""
    return (pkg.name, pkg.version, pkg.arch, f"{pkg.source_name}-{pkg.source_version.split(':')[-1]}.src.rpm",
            ";".join(pkg.licenses), dict(pkg.extra).get("vendor", ""), pkg.module, ",".join(pkg.files))


def expected(lines: list[str]) -> list[tuple[str, ...]]:
    """``rpm -qa`` lines with directory entries (parents of other entries) removed from the file list."""
    out = []
    for line in lines:
        *cols, files = line.split("|")
        paths = [f for f in files.split(",") if f]
        plain = [f for f in paths if not any(o.startswith(f + "/") for o in paths)]
        out.append((*cols, ",".join(sorted(plain))))
    return sorted(out)


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
@pytest.mark.parametrize("directory", ["/var/lib/rpm/", "/usr/lib/sysimage/rpm/"])
def test_committed_fixture_matches_rpm_qa(fixture: str, directory: str) -> None:
    res = run(directory + FIXTURES[fixture], (DATA / fixture).read_bytes())
    assert res.warnings == []
    assert sorted(as_rpm_qa(p) for p in res.packages) == expected(WANT)
    assert {p.path for p in res.packages} == {directory + FIXTURES[fixture]}


def test_package_fields_and_purls() -> None:
    res = run("/var/lib/rpm/rpmdb.sqlite", (DATA / "rpmdb.sqlite").read_bytes())
    pkgs = {p.name: p for p in res.packages}
    lib = pkgs["libhello"]
    assert (lib.version, lib.source_name, lib.source_version) == ("1:2.0.1-7.el9", "hello-src", "1:2.0.1-7.el9")
    assert lib.module == rpmfixture.MODULARITY_LABEL and lib.found_by == "os/rpm" and lib.layer == "sha256:rpmlayer"
    assert lib.purl == "pkg:rpm/libhello@2.0.1-7.el9?arch=x86_64&epoch=1"
    assert pkgs["hello-tool"].depends == ("libhello",)  # "libhello >= 2.0" resolved, "/bin/sh" not installed
    final = {p.name: p for p in attach_distro(res.packages, Distro(id="almalinux", version_id="9.3"))}
    assert final["libhello"].purl == "pkg:rpm/almalinux/libhello@2.0.1-7.el9?arch=x86_64&distro=almalinux-9.3&epoch=1"
    assert final["hello-data"].purl == "pkg:rpm/almalinux/hello-data@2.0.1-7.el9?arch=noarch&distro=almalinux-9.3&epoch=1"


@pytest.fixture(scope="module")
def live_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database built right now with rpmbuild + rpm --justdb (skipped without the tools)."""
    if not rpmfixture.tools_available():
        pytest.skip("rpm/rpmbuild not installed")
    work = tmp_path_factory.mktemp("rpm")
    rpmfixture.install_db(work / "root", rpmfixture.build_rpms(work))
    return work / "root"


def test_live_sqlite_database_matches_rpm_qa(live_root: Path) -> None:
    db = live_root / "var/lib/rpm/rpmdb.sqlite"
    res = run("/var/lib/rpm/rpmdb.sqlite", db.read_bytes())
    assert res.warnings == []
    assert sorted(as_rpm_qa(p) for p in res.packages) == expected(rpmfixture.query(live_root))


def test_live_berkeley_db_written_by_db_load_and_read_by_rpm(live_root: Path, tmp_path: Path) -> None:
    import shutil

    if not shutil.which("db5.3_load"):
        pytest.skip("db5.3-util not installed")
    blobs = rpmdb_writers.sqlite_blobs(live_root / "var/lib/rpm/rpmdb.sqlite")
    rpmdb_writers.write_bdb(blobs, tmp_path / "Packages", pagesize=1024, big_endian=True)
    reference = sorted(rpmdb_writers.read_back_with_rpm(tmp_path, rpmfixture.QUERYFORMAT).splitlines())
    assert reference == rpmfixture.query(live_root)
    res = run("/var/lib/rpm/Packages", (tmp_path / "Packages").read_bytes())
    assert res.warnings == [] and sorted(as_rpm_qa(p) for p in res.packages) == expected(reference)


# ------------------------------------------------------------------ damaged databases

def damaged(name: str, mutate) -> bytes:  # type: ignore[no-untyped-def]
    return bytes(mutate(bytearray((DATA / name).read_bytes())))


@pytest.mark.parametrize(("fixture", "data"), [
    ("rpmdb.sqlite", (DATA / "rpmdb.sqlite").read_bytes()[:4096]),
    ("rpmdb.sqlite", b"SQLite format 3\x00" + b"\xff" * 5000),
    ("rpmdb.sqlite", b"not a database at all"),
    ("Packages", (DATA / "Packages").read_bytes()[:6000]),
    ("Packages", b"\x00" * 8192),
    ("Packages", b"garbage"),
    ("Packages.be512", (DATA / "Packages.be512").read_bytes()[:3000]),
    ("Packages.db", (DATA / "Packages.db").read_bytes()[:4200]),
    ("Packages.db", b"RpmP" + b"\x00" * 60),
    ("Packages.db", b"\xde\xad\xbe\xef" * 1000),
])
def test_damaged_database_warns_naming_the_file(fixture: str, data: bytes) -> None:
    path = "/var/lib/rpm/" + FIXTURES[fixture]
    res = run(path, data)
    assert res.warnings and all(w.code == "malformed-file" and w.path == path and path in w.message
                                for w in res.warnings)
    assert all(p.name and p.version for p in res.packages)


def test_ndb_bad_blob_checksum_skips_only_that_package() -> None:
    data = (DATA / "Packages.db").read_bytes()
    pkgidx, blkoff, _ = struct.unpack_from("<III", data, 32 + 4)  # first slot
    corrupt = bytearray(data)
    corrupt[blkoff * 16 + 100] ^= 0xFF
    res = run("/usr/lib/sysimage/rpm/Packages.db", bytes(corrupt))
    assert len(res.packages) == len(WANT) - 1
    assert len(res.warnings) == 1 and "1 malformed rpm header" in res.warnings[0].message


def test_bdb_overflow_chain_pointing_nowhere() -> None:
    def cut_chain(buf: bytearray) -> bytearray:
        pagesize = struct.unpack_from(">I", buf, 20)[0]
        for pgno in range(1, len(buf) // pagesize):  # first overflow page: point its next page past the end
            page = pgno * pagesize
            if buf[page + 25] == 7 and struct.unpack_from(">I", buf, page + 16)[0]:
                struct.pack_into(">I", buf, page + 16, 999999)
                break
        return buf

    res = run("/var/lib/rpm/Packages", damaged("Packages.be512", cut_chain))
    assert res.warnings and "unreadable rpm database" in res.warnings[0].message


def header_blob(entries: dict[int, tuple[int, bytes, int]]) -> bytes:
    """A minimal rpm header blob: ``{tag: (type, data, count)}``."""
    index, store = b"", b""
    for tag, (typ, value, count) in sorted(entries.items()):
        index += struct.pack(">IIII", tag, typ, len(store), count)
        store += value
    return struct.pack(">II", len(entries), len(store)) + index + store


def sqlite_with(tmp_path: Path, blobs: list[bytes]) -> bytes:
    db = tmp_path / "rpmdb.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.commit()
    conn.close()
    return db.read_bytes()


def test_gpg_pubkey_skipped_and_bad_headers_counted(tmp_path: Path) -> None:
    good = rpmdb_writers.sqlite_blobs(DATA / "rpmdb.sqlite")[0][1]
    pubkey = header_blob({1000: (6, b"gpg-pubkey\x00", 1), 1001: (6, b"fd431d51\x00", 1),
                          1002: (6, b"4ae0493b\x00", 1)})
    wrong_type = header_blob({1000: (4, b"\x00\x00\x00\x01", 1)})
    unterminated = header_blob({1000: (6, b"name-without-nul", 1)})
    past_end = header_blob({1000: (6, b"x\x00", 1), 1003: (4, b"", 5)})
    data = sqlite_with(tmp_path, [good, pubkey, wrong_type, unterminated, past_end, b"\x00\x00\x00\x05tiny", good[:50]])
    res = run("/var/lib/rpm/rpmdb.sqlite", data)
    assert len(res.packages) == 1 and res.packages[0].name in {w.split("|")[0] for w in WANT}
    assert len(res.warnings) == 1 and "5 malformed rpm header(s)" in res.warnings[0].message


@pytest.mark.parametrize(("src", "want"), [
    ("openssl-3.0.7-24.el9.src.rpm", ("openssl", "3.0.7-24.el9")),
    ("python3.11-3.11.5-1.el9_3.src.rpm", ("python3.11", "3.11.5-1.el9_3")),
    ("kernel-5.14.0-362.8.1.el9_3.nosrc.rpm", ("kernel", "5.14.0-362.8.1.el9_3")),
    ("(none)", ("", "")),
    ("broken.src.rpm", ("", "")),
])
def test_split_source_rpm(src: str, want: tuple[str, str]) -> None:
    assert split_source_rpm(src) == want


def test_wants_all_database_paths() -> None:
    assert len(DB_PATHS) == 6
    a = RpmAnalyzer()
    assert not a.wants("/var/lib/rpm/Basenames", FileInfo(path="/var/lib/rpm/Basenames"))
    assert not a.wants("/var/lib/rpm/rpmdb.sqlite-wal", FileInfo(path="/var/lib/rpm/rpmdb.sqlite-wal"))


@pytest.mark.parametrize("pagesize", [512, 65536])
def test_many_headers_across_buckets_inline_and_overflow(tmp_path: Path, pagesize: int) -> None:
    """300 records: many buckets and bucket page chains; 64 KiB pages keep values inline (H_KEYDATA),
    512-byte pages put every value on an overflow chain (H_OFFPAGE). rpm's bdb_ro is the reference."""
    import shutil

    if not (shutil.which("db5.3_load") and shutil.which("rpm")):
        pytest.skip("db5.3-util / rpm not installed")
    blobs = [b for _, b in rpmdb_writers.sqlite_blobs(DATA / "rpmdb.sqlite")]
    rpmdb_writers.write_bdb([(i + 1, blobs[i % len(blobs)]) for i in range(300)], tmp_path / "Packages", pagesize=pagesize)
    reference = sorted(rpmdb_writers.read_back_with_rpm(tmp_path, "%{NAME}|%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n").split())
    res = run("/var/lib/rpm/Packages", (tmp_path / "Packages").read_bytes())
    assert res.warnings == [] and len(res.packages) == 300
    got = sorted(f"{p.name}|{p.version if ':' in p.version else '0:' + p.version}" for p in res.packages)
    assert got == reference


def test_bdb_page_loop_is_rejected_not_followed() -> None:
    def loop(buf: bytearray) -> bytearray:
        pagesize = struct.unpack_from("<I", buf, 20)[0]
        struct.pack_into("<I", buf, pagesize + 16, 1)  # bucket page 1 -> next page 1
        return buf

    res = run("/var/lib/rpm/Packages", damaged("Packages", loop))
    assert res.packages == [] or len(res.packages) < len(WANT)
    assert len(res.warnings) == 1 and "linked twice" in res.warnings[0].message


def test_ndb_overlapping_blobs_are_rejected() -> None:
    def overlap(buf: bytearray) -> bytearray:
        first_blkoff = struct.unpack_from("<I", buf, 32 + 8)[0]
        struct.pack_into("<I", buf, 48 + 8, first_blkoff)  # second slot points at the first blob
        return buf

    res = run("/var/lib/rpm/Packages.db", damaged("Packages.db", overlap))
    assert res.packages == [] and "overlaps" in res.warnings[0].message


def _hostile_sqlite(tmp_path: Path, *statements: str) -> bytes:
    """A real SQLite file made by the sqlite3 library with the given schema (the shapes an attacker controls)."""
    path = tmp_path / "rpmdb.sqlite"
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    "statements, message",
    [
        # an endless recursive query: hung the scan (and grew memory) before the schema check
        ([("CREATE VIEW Packages AS WITH RECURSIVE c(hnum, blob) AS (SELECT 1, zeroblob(1000) UNION ALL"
           " SELECT hnum + 1, blob FROM c) SELECT hnum, blob FROM c")], "Packages is a view, not a table"),
        # a generated column computes a large value per stored row
        (["CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, n INTEGER, blob BLOB AS (zeroblob(n)))",
          "INSERT INTO Packages (hnum, n) VALUES (1, 500000000)"], "generated or hidden columns"),
        (["CREATE TABLE Other (x)"], "no Packages table"),
    ],
    ids=["recursive-view", "generated-column", "no-table"],
)
def test_hostile_sqlite_schema_is_refused_quickly(tmp_path: Path, statements: list[str], message: str) -> None:
    import time

    start = time.monotonic()
    res = run("/var/lib/rpm/rpmdb.sqlite", _hostile_sqlite(tmp_path, *statements))
    assert time.monotonic() - start < 5
    assert res.packages == []
    (warning,) = res.warnings
    assert warning.code == "malformed-file" and message in warning.message
    assert "SQLite: SQLite" not in warning.message


def test_sqlite_query_step_budget_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    from hullscan.analyzers.os import rpmdb_sqlite

    real = (DATA / "rpmdb.sqlite").read_bytes()
    assert len(run("/var/lib/rpm/rpmdb.sqlite", real).packages) == len(WANT)
    monkeypatch.setattr(rpmdb_sqlite, "MAX_VM_STEPS", 20)
    monkeypatch.setattr(rpmdb_sqlite, "_STEP_CHECK", 10)
    res = run("/var/lib/rpm/rpmdb.sqlite", real)
    assert res.packages == [] and "ran over 20 steps" in res.warnings[0].message
