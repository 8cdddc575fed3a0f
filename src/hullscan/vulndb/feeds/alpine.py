"""Alpine secdb documents (``https://secdb.alpinelinux.org/vX.Y/{main,community}.json`` and the YAML
of the old alpine-secdb repository).

``packages[].pkg.secfixes`` maps a fixed version to the CVEs it fixes; the key ``"0"`` lists CVEs the
package was never affected by (no entry stored). Keys are aport (origin, i.e. source) names. The
namespace is ``Alpine:<distroversion>`` (``Alpine:v3.19``), as OSV spells it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hullscan.errors import FeedError
from hullscan.vulndb.feeds.osv import loads
from hullscan.vulndb.records import FIXED, AffectedEntry, Record

NAME = "alpine"
VERSION = 1


def sniff(head: bytes) -> bool:
    """True for a secdb document."""
    return b"distroversion" in head and b"packages" in head


def source_name(doc: dict[str, Any]) -> str:
    """``alpine-secdb:v3.19/main``."""
    return f"alpine-secdb:{doc.get('distroversion', '')}/{doc.get('reponame', '')}"


def records(doc: Any) -> Iterator[Record]:
    """Records (one per CVE of this document) of a decoded secdb document."""
    if not isinstance(doc, dict) or not doc.get("distroversion"):
        raise FeedError("Alpine secdb: missing distroversion")
    packages = doc.get("packages") or []  # an empty YAML list is written as an empty scalar
    if not isinstance(packages, list):
        raise FeedError(f"Alpine secdb {doc['distroversion']}: packages is not a list")
    namespace = f"Alpine:{doc['distroversion']}"
    if not isinstance(doc["distroversion"], str):
        raise FeedError(f"Alpine secdb: distroversion {doc['distroversion']!r} is not a string")
    by_id: dict[str, tuple[set[str], dict[str, AffectedEntry]]] = {}
    for item in packages:
        pkg = item.get("pkg") if isinstance(item, dict) else None
        if not isinstance(pkg, dict) or not pkg.get("name"):
            continue
        name = str(pkg["name"])
        secfixes = pkg.get("secfixes")
        for fixed, ids in secfixes.items() if isinstance(secfixes, dict) else ():
            fixed = str(fixed).strip()
            if fixed in ("0", "") or not isinstance(ids, list):
                continue
            for text in ids:
                words = str(text).split()
                if not words:
                    continue
                aliases, entries = by_id.setdefault(words[0], (set(), {}))
                aliases.update(words[1:])
                entries.setdefault(name, AffectedEntry(
                    namespace, name,
                    {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]},
                    FIXED,
                ))
    for vid in sorted(by_id):
        aliases, entries = by_id[vid]
        yield Record(id=vid, source=source_name(doc), aliases=tuple(sorted(aliases)),
                     affected=tuple(entries[n] for n in sorted(entries)), native=True)


def parse(data: bytes, origin: str = "") -> list[Record]:
    """Parse a secdb JSON/YAML document (pure); FeedError naming ``origin`` on a malformed document."""
    try:
        return list(records(loads(data, origin)))
    except FeedError as exc:
        if origin and origin not in str(exc):
            raise FeedError(f"{origin}: {exc}") from None
        raise
