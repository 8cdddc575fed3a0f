"""OpenVEX (https://github.com/openvex/spec, v0.2.0) for a patched image: one ``fixed`` statement per vulnerability
the patch layer removed, naming the patched image (by digest, as a purl ``pkg:oci/...``) and the packages."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from hullscan import __version__


def oci_purl(name: str, digest: str, repository_url: str = "") -> str:
    """``pkg:oci/<name>@<digest>[?repository_url=...]``."""
    purl = f"pkg:oci/{quote(name.lower() or 'image', safe='')}@{quote(digest, safe='')}"
    return purl + (f"?repository_url={quote(repository_url, safe='/:')}" if repository_url else "")


def document(image_purl: str, fixed: dict[str, list[str]], timestamp: str = "") -> dict[str, Any]:
    """The VEX document: ``fixed`` maps a vulnerability id to the package purls the patch upgraded for it."""
    now = timestamp or datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    statements = []
    for vuln in sorted(fixed):
        statements.append({
            "vulnerability": {"name": vuln},
            "products": [{"@id": image_purl,
                          "subcomponents": [{"@id": p} for p in sorted(set(fixed[vuln]))]}],
            "status": "fixed",
        })
    body = json.dumps(statements, sort_keys=True).encode()
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": f"https://hullscan.dev/vex/{hashlib.sha256(image_purl.encode() + body).hexdigest()[:32]}",
        "author": f"hullscan {__version__} fix",
        "timestamp": now,
        "version": 1,
        "statements": statements,
    }
