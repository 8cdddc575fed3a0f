"""The Debian security tracker JSON (https://security-tracker.debian.org/tracker/data/json).

Shape: ``{source_package: {CVE: {description, scope, debianbug, releases: {codename: {status,
repositories, fixed_version, urgency, nodsa, nodsa_reason}}}}}``. Keys are **source** package names.

Per release entry:

* ``resolved`` with ``fixed_version`` ``"0"``: the release was never affected (no entry stored);
* ``resolved`` with a version: affected below that version (fix status ``fixed``);
* ``open``: affected, no fix; ``nodsa_reason: ignored`` = will not fix; urgency ``end-of-life`` =
  end of life; ``postponed`` = affected (fix deferred to a point release);
* ``undetermined``: affected, fix status unknown.

The ``urgency`` (``low``/``medium``/``high``/``unimportant``/``not yet assigned``) is the distro severity.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hullscan.errors import FeedError
from hullscan.vulndb.records import AFFECTED, END_OF_LIFE, FIXED, UNKNOWN, WILL_NOT_FIX, AffectedEntry, Record
from hullscan.vulndb.releases import debian_namespace

NAME = "debian"
VERSION = 1
SOURCE = "debian-tracker"


def sniff(head: bytes) -> bool:
    """True when the start of a JSON document looks like the tracker's ``{pkg: {CVE-...: {...`` shape."""
    import re

    return re.match(rb'\s*\{\s*"[^"]+"\s*:\s*\{\s*"(CVE|TEMP)-', head) is not None


def _urgency(value: Any) -> str:
    word = str(value or "").strip().rstrip("*").strip()
    return "" if word in ("end-of-life", "not yet assigned") else word


def _release_entry(rel: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The OSV-form entry and fix status for one release object, or None when not affected."""
    status = str(rel.get("status") or "")
    fixed = str(rel.get("fixed_version") or "")
    if status == "resolved":
        if not fixed or fixed == "0":
            return None
        return {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}, FIXED
    entry = {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}
    if status == "open":
        if str(rel.get("urgency") or "").startswith("end-of-life"):
            return entry, END_OF_LIFE
        if str(rel.get("nodsa_reason") or "") == "ignored":
            return entry, WILL_NOT_FIX
        return entry, AFFECTED
    if status == "undetermined":
        return entry, UNKNOWN
    return None


def records(doc: Any) -> Iterator[Record]:
    """Records (one per CVE, across packages and releases) of a decoded tracker document."""
    if not isinstance(doc, dict):
        raise FeedError("Debian tracker JSON: top level is not an object")
    descriptions: dict[str, str] = {}
    by_cve: dict[str, list[AffectedEntry]] = {}
    for package, cves in doc.items():
        if not isinstance(cves, dict):
            continue
        for cve, info in cves.items():
            if not isinstance(info, dict):
                continue
            cve = str(cve)
            entries = by_cve.setdefault(cve, [])
            if not descriptions.get(cve):
                descriptions[cve] = str(info.get("description") or "")
            releases = info.get("releases")
            for codename, rel in releases.items() if isinstance(releases, dict) else ():
                namespace = debian_namespace(str(codename))
                if not namespace or not isinstance(rel, dict):
                    continue
                made = _release_entry(rel)
                if made is None:
                    continue
                entry, status = made
                entries.append(AffectedEntry(namespace, str(package), entry, status, _urgency(rel.get("urgency"))))
    for cve in sorted(by_cve):
        yield Record(
            id=cve, source=SOURCE, details=descriptions[cve].strip(), affected=tuple(by_cve[cve]), native=True,
            severity_source="debian",
            references=(f"https://security-tracker.debian.org/tracker/{cve}",),
        )


def parse(data: bytes, origin: str = "") -> list[Record]:
    """Parse the tracker JSON bytes (pure)."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise FeedError(f"{origin or 'Debian tracker JSON'}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise FeedError(f"{origin or 'Debian tracker JSON'}: top level is not an object")
    return list(records(doc))
