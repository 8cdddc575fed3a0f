"""Ubuntu CVE Tracker files (``active/CVE-YYYY-NNNN`` of the ubuntu-cve-tracker repository).

Fields used: ``Candidate``, ``PublicDate``, ``References``, ``Description``, ``Ubuntu-Description``,
``Priority`` (and per-package ``Priority_<pkg>``), ``CVSS`` and the status lines
``<release>_<source pkg>: <status> (<note>)``:

* ``released (1.2-3)``: fixed in that version; ``released`` with no version: not stored;
* ``needed``, ``deferred``, ``pending``, ``needs-triage``, ``active``: affected, no fix
  (``needs-triage``: status unknown);
* ``ignored``: will not fix, or end of life when the note says so;
* ``not-affected``, ``DNE``: not stored.

Only plain release codenames are used (``xenial``, not ``xenial/esm``, ``upstream`` or ``devel``).
"""

from __future__ import annotations

import re
from typing import Any

from hullscan.vulndb.records import AFFECTED, END_OF_LIFE, FIXED, UNKNOWN, WILL_NOT_FIX, AffectedEntry, Record
from hullscan.vulndb.releases import ubuntu_namespace

NAME = "ubuntu"
VERSION = 1
SOURCE = "ubuntu-cve-tracker"

_FILE = re.compile(r"^CVE-\d{4}-\d+$")
_STATUS = re.compile(r"^([a-z]+)_(\S+):\s*([A-Za-z-]+)\s*(?:\((.*)\))?\s*$")
_VECTOR = re.compile(r"(CVSS:[34]\.\d/\S+|AV:[LANP]/AC:[HLM]/Au:[MSN]/C:[NPC]/I:[NPC]/A:[NPC])")
_EOL_WORDS = ("end-of-life", "end of life", "end of standard support", "out of standard support")


def is_tracker_file(name: str) -> bool:
    """True for a file name like ``CVE-2020-1234``."""
    return _FILE.match(name.rsplit("/", 1)[-1]) is not None


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] = (fields[key] + "\n" + line.strip()).strip()
        elif ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
        else:
            key = ""
    return fields


def _status(word: str, note: str) -> tuple[dict[str, Any], str] | None:
    open_range: dict[str, Any] = {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}
    if word == "released":
        version = note.strip()
        if not version or " " in version:
            return None
        return {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": version}]}]}, FIXED
    if word in ("needed", "deferred", "pending", "active"):
        return open_range, AFFECTED
    if word == "needs-triage":
        return open_range, UNKNOWN
    if word == "ignored":
        return open_range, END_OF_LIFE if any(w in note.lower() for w in _EOL_WORDS) else WILL_NOT_FIX
    return None


def parse(data: bytes, origin: str = "") -> list[Record]:
    """Parse one tracker file (pure). Returns no record for a file without a ``Candidate``."""
    text = data.decode("utf-8", "replace")
    fields = _fields(text)
    cve = fields.get("Candidate", "").strip()
    if not cve:
        return []
    priority = fields.get("Priority", "").strip()
    affected = []
    for line in text.splitlines():
        m = _STATUS.match(line)
        if not m:
            continue
        release, package, word, note = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        namespace = ubuntu_namespace(release)
        if not namespace:
            continue
        made = _status(word, note)
        if made is None:
            continue
        entry, status = made
        pkg_priority = fields.get(f"Priority_{package}", "").strip() or priority
        affected.append(AffectedEntry(namespace, package, entry, status, "" if pkg_priority == "untriaged" else pkg_priority))
    description = fields.get("Ubuntu-Description", "").strip() or fields.get("Description", "").strip()
    refs = tuple(r for r in fields.get("References", "").split() if r.startswith("http"))
    published = fields.get("PublicDate", "").strip()
    if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", published):
        published = published[:10] + "T" + published[11:19] + "Z"
    return [Record(
        id=cve, source=SOURCE, details=description.replace("\n", " "), severity=priority if priority != "untriaged" else "",
        severity_source="ubuntu", cvss=tuple(dict.fromkeys(_VECTOR.findall(fields.get("CVSS", "")))),
        published=published, references=refs, affected=tuple(affected), native=True,
    )]
