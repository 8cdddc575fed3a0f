"""The database file: schema check, atomic builds (a failed import leaves the old file untouched),
source replacement, status; ``db update`` against a mirror served on 127.0.0.1; the ``db`` CLI."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from hullscan.errors import DatabaseError, FeedError, InputError
from hullscan.vulndb.db import SCHEMA_VERSION, VulnDB
from hullscan.vulndb.feeds.fetch import FeedNotFoundError
from hullscan.vulndb.manage import configured_sources, import_paths, update
from tests.vulndb.fixtures import DEBIAN_TRACKER, osv, rng, write_osv_zip

PYPI = [osv("PYSEC-1", "PyPI", "urllib3", rng({"introduced": "0"}, {"fixed": "1.26.5"}), aliases=["CVE-2021-33503"]),
        osv("PYSEC-2", "PyPI", "requests", rng({"introduced": "0"}, {"fixed": "2.31.0"}))]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_corrupt_and_other_schema(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"no vulnerability database at .*nope\.db: run `hullscan db update` or "
                                            r"`hullscan db import PATH`"):
        VulnDB(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite" * 100)
    with pytest.raises(DatabaseError, match="junk.db is unreadable"):
        VulnDB(junk)
    db = tmp_path / "vuln.db"
    import_paths(db, [write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI)])
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(DatabaseError, match=rf"has schema 999, this hullscan needs {SCHEMA_VERSION}: run `hullscan db update`"):
        VulnDB(db)


def test_import_status_and_replace(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    outcomes = import_paths(db, [write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI)])
    assert [(o.name, o.status, o.records) for o in outcomes] == [("osv:PyPI", "imported", 2)]
    (tmp_path / "tracker.json").write_text(json.dumps(DEBIAN_TRACKER))
    import_paths(db, [tmp_path / "tracker.json"])
    with VulnDB(db) as vdb:
        status = {s.name: s for s in vdb.sources()}
        assert sorted(status) == ["debian-tracker", "osv:PyPI"]
        assert status["osv:PyPI"].records == 2 and status["osv:PyPI"].newest == "2024-01-02T00:00:00Z"
        assert status["osv:PyPI"].fingerprint.startswith("sha256:") and status["osv:PyPI"].imported_at
        assert status["debian-tracker"].records == 7
        assert vdb.has_namespace("PyPI") and vdb.has_namespace("Debian:12") and not vdb.has_namespace("npm")
        assert [c.advisory.id for c in vdb.candidates("PyPI", "URLLIB3")] == ["PYSEC-1"]
    # re-importing a source replaces it (no duplicates), other sources stay
    write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI[:1])
    import_paths(db, [tmp_path / "PyPI" / "all.zip"])
    with VulnDB(db) as vdb:
        assert {s.name: s.records for s in vdb.sources()} == {"debian-tracker": 7, "osv:PyPI": 1}
        assert vdb.candidates("PyPI", "requests") == []
        assert len(vdb.candidates("Debian:12", "openssl")) == 5


def test_failed_import_leaves_previous_database_untouched(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    import_paths(db, [write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI)])
    before = sha(db)
    broken = tmp_path / "npm" / "all.zip"
    broken.parent.mkdir()
    with zipfile.ZipFile(broken, "w") as zf:  # the first records import, then a member is not JSON
        for n in range(1200):
            zf.writestr(f"A-{n:04}.json", json.dumps(osv(f"A-{n:04}", "npm", f"p{n}", rng({"introduced": "0"}))))
        zf.writestr("Z-9999.json", "{broken")
    with pytest.raises(FeedError, match=r"Z-9999.json: not valid JSON"):
        import_paths(db, [write_osv_zip(tmp_path / "Go" / "all.zip", [osv("GO-1", "Go", "x", rng({"introduced": "0"}))]),
                          broken])
    assert sha(db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left
    with VulnDB(db) as vdb:
        assert [s.name for s in vdb.sources()] == ["osv:PyPI"]
    with pytest.raises(InputError, match="no vulnerability data found"):
        (tmp_path / "empty").mkdir()
        import_paths(db, [tmp_path / "empty"])
    assert sha(db) == before


class _Mirror(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with ETags (304 on If-None-Match) and optional forced failures."""

    fail: ClassVar[set[str]] = set()
    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path in self.fail:
            self.send_error(500)
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "mirror"
    write_osv_zip(root / "PyPI" / "all.zip", PYPI)
    (root / "debian-tracker").mkdir(parents=True)
    (root / "debian-tracker" / "json").write_text(json.dumps(DEBIAN_TRACKER))
    (root / "alpine-secdb" / "v3.19").mkdir(parents=True)
    (root / "alpine-secdb" / "v3.19" / "main.json").write_text(json.dumps(
        {"distroversion": "v3.19", "reponame": "main", "packages": [{"pkg": {"name": "curl", "secfixes": {"8.5.0-r0": ["CVE-2023-46218"]}}}]}))

    handler = type("Handler", (_Mirror,), {"fail": set(), "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root, handler  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def test_update_from_http_mirror(tmp_path: Path, mirror: tuple[str, Path, type]) -> None:
    url, root, handler = mirror  # type: ignore[misc]
    db = tmp_path / "db" / "vuln.db"
    sources = configured_sources(url)
    assert any(s.url == url + "PyPI/all.zip" and s.optional for s in sources)
    first = {o.name: o for o in update(db, sources)}
    imported = sorted(n for n, o in first.items() if o.status == "imported")
    assert imported == ["alpine-secdb:v3.19/main", "debian-tracker", "osv:PyPI"]
    assert first["osv:Go"].status == "skipped" and "404" in first["osv:Go"].message
    # nothing changed upstream: every source kept from the previous database (HTTP 304)
    second = {o.name: o for o in update(db, sources)}
    assert sorted(n for n, o in second.items() if o.status == "unchanged") == imported
    with VulnDB(db) as vdb:
        assert {s.name: s.records for s in vdb.sources()} == {"alpine-secdb:v3.19/main": 1, "debian-tracker": 7,
                                                              "osv:PyPI": 2}
        assert [c.advisory.id for c in vdb.candidates("Alpine:v3.19", "curl")] == ["CVE-2023-46218"]
    # one source changed: only it is re-imported
    write_osv_zip(root / "PyPI" / "all.zip", PYPI[:1])
    third = {o.name: o.status for o in update(db, sources) if o.status != "skipped"}
    assert third == {"osv:PyPI": "imported", "debian-tracker": "unchanged", "alpine-secdb:v3.19/main": "unchanged"}
    # an update that fails halfway leaves the database as it was
    before = sha(db)
    write_osv_zip(root / "PyPI" / "all.zip", PYPI)
    handler.fail.add("/debian-tracker/json")
    with pytest.raises(FeedError, match=r"debian-tracker/json: HTTP 500"):
        update(db, sources)
    assert sha(db) == before
    assert not [p for p in db.parent.iterdir() if p.name != "vuln.db"]  # downloads and temp build removed


def test_sources_file_and_missing_required_source(tmp_path: Path) -> None:
    zip_path = write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI)
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(f"sources:\n  - {{name: 'osv:PyPI', feed: osv, url: 'file://{zip_path}'}}\n"
                   f"  - {{name: debian-tracker, feed: debian, url: '{tmp_path / 'missing.json'}'}}\n")
    specs = configured_sources(str(cfg))
    assert [(s.name, s.optional) for s in specs] == [("osv:PyPI", False), ("debian-tracker", False)]
    db = tmp_path / "vuln.db"
    with pytest.raises(FeedNotFoundError, match="missing.json: no such file"):
        update(db, specs)
    assert not db.exists()
    outcomes = update(db, specs[:1])
    assert [(o.name, o.status, o.records) for o in outcomes] == [("osv:PyPI", "imported", 2)]
    default = configured_sources("")
    assert {"osv:PyPI", "osv:Go", "debian-tracker", "alpine-secdb:v3.20/main"} <= {s.name for s in default}
    assert next(s for s in default if s.name == "osv:Rocky Linux").url == (
        "https://osv-vulnerabilities.storage.googleapis.com/Rocky%20Linux/all.zip")


def hullscan(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from hullscan.cli import main; sys.argv[0] = 'hullscan'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False)


def test_db_cli(tmp_path: Path) -> None:
    db = tmp_path / "vuln.db"
    zip_path = write_osv_zip(tmp_path / "PyPI" / "all.zip", PYPI)
    (tmp_path / "tracker.json").write_text(json.dumps(DEBIAN_TRACKER))
    done = hullscan("db", "import", "--db", str(db), str(zip_path), str(tmp_path / "tracker.json"))
    assert done.returncode == 0, done.stderr
    assert "osv:PyPI: 2 records" in done.stdout and "debian-tracker: 7 records" in done.stdout
    status = hullscan("db", "status", "--db", str(db))
    assert status.returncode == 0, status.stderr
    assert "osv:PyPI" in status.stdout and "2024-01-02T00:00:00Z" in status.stdout
    assert "2 source(s), 9 records" in status.stdout
    missing = hullscan("db", "status", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and missing.stderr.startswith("hullscan: error: no vulnerability database at")
    assert "Traceback" not in missing.stderr
    bad = hullscan("db", "import", "--db", str(db), str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "nowhere: no such file or folder" in bad.stderr


def test_db_update_cli_from_folder_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    write_osv_zip(mirror / "PyPI" / "all.zip", PYPI)
    (mirror / "debian-tracker").mkdir()
    (mirror / "debian-tracker" / "json").write_text(json.dumps(DEBIAN_TRACKER))
    db = tmp_path / "vuln.db"
    code = "import sys; from hullscan.cli import main; sys.argv[0] = 'hullscan'; main()"
    env = {**os.environ, "HULLSCAN_DB_SOURCES": str(mirror), "HULLSCAN_DB": str(db)}
    done = subprocess.run([sys.executable, "-c", code, "db", "update", "-q"], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "osv:PyPI: 2 records" in done.stdout and "debian-tracker: 7 records" in done.stdout
    assert "osv:Go: skipped (" in done.stdout and "no such file or folder" in done.stdout
    again = subprocess.run([sys.executable, "-c", code, "db", "update", "-q"], capture_output=True, text=True,
                           timeout=120, env=env, check=False)
    assert "osv:PyPI: unchanged (2 records kept)" in again.stdout
    # a document gone from the mirror: its previous data is kept, not silently dropped
    (mirror / "debian-tracker" / "json").unlink()
    partial = subprocess.run([sys.executable, "-c", code, "db", "update", "-q"], capture_output=True, text=True,
                             timeout=120, env=env, check=False)
    assert partial.returncode == 0, partial.stderr
    assert "debian-tracker: not found, 7 records kept from the previous database" in partial.stdout
    fresh = tmp_path / "fresh.db"
    empty_env = {**env, "HULLSCAN_DB_SOURCES": str(tmp_path / "empty-mirror"), "HULLSCAN_DB": str(fresh)}
    (tmp_path / "empty-mirror").mkdir()
    empty = subprocess.run([sys.executable, "-c", code, "db", "update", "-q"], capture_output=True, text=True,
                           timeout=120, env=empty_env, check=False)
    assert empty.returncode == 2 and "no vulnerability source could be fetched" in empty.stderr
    assert not fresh.exists()


def test_a_build_never_replaces_a_fifo_and_goes_through_a_symlink(tmp_path: Path) -> None:
    """The build is swapped in with os.replace: over /dev/null (as root) that replaced the device. A FIFO stands in
    for it; a symlinked database is rebuilt where the link points and the link stays."""
    import stat

    from hullscan.vulndb.db import Builder

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DatabaseError, match="not a regular file"):
        Builder(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and list(tmp_path.iterdir()) == [fifo]
    real = tmp_path / "real.db"
    link = tmp_path / "link.db"
    link.symlink_to(real)
    with Builder(link) as build:
        build.commit()
    assert link.is_symlink() and real.is_file()
    with VulnDB(link) as db:  # a valid, empty database of the current schema
        assert db is not None
