"""Debian's advisory lists: ``data/DSA/list`` (security advisories) and ``data/DLA/list`` (LTS) of the
security-tracker repository.

Each entry::

    [29 Mar 2023] DSA-5380-1 xorg-server - security update
            {CVE-2023-1393}
            [bullseye] - xorg-server 2:1.20.11-1+deb11u6

becomes a record ``DSA-5380-1`` aliasing its CVEs, affected below the fixed version per release
(``<not-affected>`` lines are skipped, ``<end-of-life>`` lines mean affected, end of life).
"""

from __future__ import annotations

import re
from datetime import datetime

from hullscan.vulndb.records import END_OF_LIFE, FIXED, AffectedEntry, Record
from hullscan.vulndb.releases import debian_namespace

NAME = "debian-dsa"
VERSION = 1

_HEAD = re.compile(r"^\[(\d{1,2} \w{3} \d{4})\]\s+(D[SL]A-[\w-]+)\s*(.*)$")
_RELEASE = re.compile(r"^\s+\[(\w+)\]\s+-\s+(\S+)\s+(\S+)")
_IDS = re.compile(r"^\s+\{([^}]*)\}")


def sniff(head: bytes) -> bool:
    """True when the text starts like a DSA/DLA list."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    return _HEAD.match(first) is not None


def _date(text: str) -> str:
    try:
        return datetime.strptime(text, "%d %b %Y").strftime("%Y-%m-%dT00:00:00Z")
    except ValueError:
        return ""


def parse(data: bytes, origin: str = "", source: str = "debian-dsa") -> list[Record]:
    """Parse a DSA or DLA list (pure). Lines that fit no known shape are ignored."""
    out: list[Record] = []
    current: dict[str, object] | None = None

    def flush() -> None:
        if current is not None:
            out.append(Record(
                id=str(current["id"]), source=source, aliases=tuple(current["aliases"]),  # type: ignore[arg-type]
                summary=str(current["summary"]), published=str(current["published"]),
                affected=tuple(current["affected"]), native=True,  # type: ignore[arg-type]
                references=(f"https://security-tracker.debian.org/tracker/{current['id']}",),
            ))

    for line in data.decode("utf-8", "replace").splitlines():
        head = _HEAD.match(line)
        if head:
            flush()
            current = {"id": head.group(2), "aliases": [], "affected": [], "published": _date(head.group(1)),
                       "summary": head.group(3).strip()}
            continue
        if current is None:
            continue
        ids = _IDS.match(line)
        if ids:
            current["aliases"] = sorted(set(ids.group(1).split()))
            continue
        rel = _RELEASE.match(line)
        if not rel:
            continue
        namespace, package, version = debian_namespace(rel.group(1)), rel.group(2), rel.group(3)
        if not namespace or version == "<not-affected>":
            continue
        affected: list[AffectedEntry] = current["affected"]  # type: ignore[assignment]
        if version == "<end-of-life>":
            affected.append(AffectedEntry(namespace, package, {"ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}, END_OF_LIFE))
        elif not version.startswith("<"):
            affected.append(AffectedEntry(namespace, package, {"ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": version}]}]}, FIXED))
    flush()
    return out
