"""Regenerate the rpm database fixtures in this folder (run from the repository root).

    python tests/data/os/rpm/make_fixtures.py

Needs Debian's ``rpm``/``rpmbuild`` and ``db5.3-util``. Writes:

* ``rpmdb.sqlite``      built by ``rpm`` itself (see ``tests/os/rpmfixture.py``);
* ``Packages``          Berkeley DB hash, little-endian, 4096-byte pages, by ``db5.3_load``;
* ``Packages.be512``    Berkeley DB hash, big-endian, 512-byte pages (every header on an
                        overflow chain), by ``db5.3_load``;
* ``Packages.db``       NDB, by ``tests/os/rpmdb_writers.write_ndb``;
* ``want.txt``          ``rpm -qa --qf`` of the SQLite database: the expected packages.

Both Berkeley DB files are checked by listing them with the real ``rpm`` (``bdb_ro`` backend).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))

from tests.os import rpmdb_writers, rpmfixture  # noqa: E402


def main() -> None:
    """Build every fixture into this folder."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = rpmfixture.install_db(work / "root", rpmfixture.build_rpms(work))
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.close()
        shutil.copyfile(db, HERE / "rpmdb.sqlite")
        want = rpmfixture.query(work / "root")
        (HERE / "want.txt").write_text("\n".join(want) + "\n")
        blobs = rpmdb_writers.sqlite_blobs(db)
        for name, pagesize, big in (("Packages", 4096, False), ("Packages.be512", 512, True)):
            dbdir = work / name
            dbdir.mkdir()
            rpmdb_writers.write_bdb(blobs, dbdir / "Packages", pagesize=pagesize, big_endian=big)
            listed = sorted(rpmdb_writers.read_back_with_rpm(dbdir, rpmfixture.QUERYFORMAT).splitlines())
            assert listed == want, f"rpm reads {name} differently:\n{listed}\n{want}"
            shutil.copyfile(dbdir / "Packages", HERE / name)
        rpmdb_writers.write_ndb(blobs, HERE / "Packages.db")
    print("fixtures written to", HERE)


if __name__ == "__main__":
    main()
