"""Small feed fixtures written in each feed's documented format, and a helper to build a database."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hullscan.vulndb.manage import import_paths

VULNDATA = os.environ.get("HULLSCAN_VULNDATA", "")
needs_vulndata = pytest.mark.skipif(not VULNDATA or not Path(VULNDATA).is_dir(),
                                    reason="HULLSCAN_VULNDATA (the offline vulnerability snapshot) not set")


def osv(id: str, ecosystem: str, name: str, *ranges: dict[str, Any], versions: list[str] | None = None,
        aliases: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """An OSV record with one affected package."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if ranges:
        affected["ranges"] = list(ranges)
    if versions is not None:
        affected["versions"] = versions
    rec: dict[str, Any] = {"schema_version": "1.6.0", "id": id, "modified": "2024-01-02T00:00:00Z",
                           "published": "2024-01-01T00:00:00Z", "aliases": aliases or [], "affected": [affected]}
    rec.update(extra)
    return rec


def rng(*events: dict[str, str], type: str = "ECOSYSTEM") -> dict[str, Any]:
    """An OSV range."""
    return {"type": type, "events": list(events)}


def write_osv_zip(path: Path, records: list[dict[str, Any]]) -> Path:
    """An OSV bulk-export zip (``<ID>.json`` members) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for rec in records:
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    return path


#: Debian security tracker JSON (https://security-tracker.debian.org/tracker/data/json):
#: {source package: {CVE: {description, scope, debianbug, releases: {codename: {status, repositories,
#: fixed_version, urgency, nodsa, nodsa_reason}}}}}
DEBIAN_TRACKER: dict[str, Any] = {
    "openssl": {
        "CVE-2023-5678": {
            "description": "Generating excessively long X9.42 DH keys or checking excessively long X9.42 DH keys ...",
            "scope": "remote",
            "debianbug": 1055473,
            "releases": {
                "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                             "fixed_version": "3.0.11-1~deb12u2", "urgency": "not yet assigned"},
                "bullseye": {"status": "resolved", "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                             "fixed_version": "1.1.1w-0+deb11u2", "urgency": "not yet assigned"},
                "sid": {"status": "resolved", "repositories": {"sid": "3.1.4-2"}, "fixed_version": "3.0.13-1",
                        "urgency": "not yet assigned"},
            },
        },
        "CVE-2023-2975": {
            "description": "AES-SIV implementation ignores empty associated data entries",
            "scope": "remote",
            "releases": {
                "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                             "fixed_version": "3.0.10-1~deb12u1", "urgency": "low"},
            },
        },
        "CVE-2010-0928": {
            "description": "OpenSSL 0.9.8i on the Gaisler Research LEON3 SoC ... fault-based attack",
            "scope": "local",
            "releases": {
                "bookworm": {"status": "open", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                             "urgency": "unimportant"},
            },
        },
        "CVE-2024-0727": {
            "description": "PKCS12 Decoding crashes",
            "scope": "remote",
            "releases": {
                "bookworm": {"status": "open", "repositories": {"bookworm": "3.0.11-1~deb12u2"}, "urgency": "low",
                             "nodsa": "Minor issue", "nodsa_reason": "ignored"},
            },
        },
        "CVE-2022-0778": {
            "description": "Infinite loop in BN_mod_sqrt() reachable when parsing certificates",
            "scope": "remote",
            "releases": {
                "bookworm": {"status": "resolved", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                             "fixed_version": "0", "urgency": "high"},
            },
        },
        "CVE-2024-9143": {
            "description": "Low-level invalid GF(2^m) parameters lead to OOB memory access",
            "scope": "remote",
            "releases": {
                "bookworm": {"status": "undetermined", "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                             "urgency": "not yet assigned"},
            },
        },
    },
    "zlib": {
        "CVE-2018-25032": {
            "description": "zlib before 1.2.12 allows memory corruption when deflating",
            "scope": "remote",
            "releases": {
                "bookworm": {"status": "resolved", "repositories": {"bookworm": "1:1.2.13.dfsg-1"},
                             "fixed_version": "1:1.2.11.dfsg-4", "urgency": "medium"},
                "stretch": {"status": "open", "repositories": {"stretch": "1:1.2.8.dfsg-5"},
                            "urgency": "end-of-life"},
            },
        },
    },
}

#: one DSA list entry (security-tracker data/DSA/list format), aliasing a tracker CVE
DSA_LIST = """\
[30 Nov 2023] DSA-5600-1 openssl - security update
\t{CVE-2023-5678}
\t[bookworm] - openssl 3.0.11-1~deb12u2
[02 Aug 2023] DSA-5500-1 openssl - security update
\t{CVE-2023-2975 CVE-2023-3446}
\t[bookworm] - openssl 3.0.10-1~deb12u1
\t[bullseye] - openssl <not-affected> (Vulnerable code not present)
"""


def build_db(tmp_path: Path, files: dict[str, bytes | str | dict[str, Any] | list[Any]], name: str = "vuln.db") -> Path:
    """Write ``files`` (relative path -> content; dicts/lists as JSON) under ``tmp_path/feeds`` and import them."""
    root = tmp_path / "feeds"
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (dict, list)):
            p.write_text(json.dumps(content))
        elif isinstance(content, str):
            p.write_text(content)
        else:
            p.write_bytes(content)
    db = tmp_path / name
    import_paths(db, [root])
    return db
