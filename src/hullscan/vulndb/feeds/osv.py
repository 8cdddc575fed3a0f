"""OSV records (https://ossf.github.io/osv-schema/): the bulk-export zips (``<Ecosystem>/all.zip`` of
``<ID>.json``) and loose JSON/YAML files, for every ecosystem (language and distro).

Kept from each record: id, aliases (+ ``upstream``), summary, details, CVSS vectors and severity words,
dates, ``withdrawn``, references, and every ``affected`` entry with its ``ECOSYSTEM``/``SEMVER`` ranges
(``introduced``/``fixed``/``last_affected``/``limit``) and ``versions`` list. ``GIT`` ranges are dropped
(they name commits, not installed versions). Wolfi's ``database_specific.latest_event`` sets the fix
status of unfixed advisories (``fix-not-planned`` = will not fix, ``detection`` = untriaged: unknown,
``pending-upstream-fix`` / ``true-positive-determination`` = affected).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from hullscan.errors import FeedError
from hullscan.vulndb.records import AFFECTED, FIXED, UNKNOWN, WILL_NOT_FIX, AffectedEntry, Record

NAME = "osv"
VERSION = 1

_CVSS_TYPES = {"CVSS_V2", "CVSS_V3", "CVSS_V4"}
_MATCHABLE_RANGES = {"ECOSYSTEM", "SEMVER"}
#: Wolfi/Chainguard ``database_specific.latest_event.type`` of an advisory without a fix
_WOLFI_STATUS = {"fix-not-planned": WILL_NOT_FIX, "detection": UNKNOWN, "pending-upstream-fix": AFFECTED,
                 "true-positive-determination": AFFECTED}
#: Red Hat style errata synopses start with the vendor's rating: "Important: openssl security update"
_ERRATA_SEVERITY = re.compile(r"^(Critical|Important|Moderate|Low):\s")


def _is_distro(ecosystem: str) -> bool:
    """True for OS ecosystems (deb/rpm/apk families: ``Debian:12``, ``AlmaLinux:9``, ``Wolfi``...)."""
    from hullscan.version import ECOSYSTEM_SCHEMES

    return ECOSYSTEM_SCHEMES.get(ecosystem.split(":", 1)[0].strip().lower()) in ("deb", "rpm", "apk")


def loads(data: bytes, origin: str = "") -> Any:
    """Decode a JSON or YAML document (YAML keeps every scalar a string, so versions stay exact)."""
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            return json.loads(text)
        return yaml.load(text, Loader=yaml.BaseLoader)
    except (ValueError, yaml.YAMLError) as exc:
        raise FeedError(f"{origin or 'document'}: not valid JSON/YAML ({str(exc).splitlines()[0]})") from None


def is_record(doc: Any) -> bool:
    """True for something shaped like one OSV record."""
    return isinstance(doc, dict) and isinstance(doc.get("id"), str) and (
        "affected" in doc or "modified" in doc or "withdrawn" in doc or "aliases" in doc
    )


def records_in(doc: Any) -> list[dict[str, Any]]:
    """The OSV records held by a document: one record, a list of them, or an API ``{"vulns": [...]}``."""
    if is_record(doc):
        return [doc]
    if isinstance(doc, dict) and isinstance(doc.get("vulns"), list):
        doc = doc["vulns"]
    if isinstance(doc, list):
        return [d for d in doc if is_record(d)]
    return []


def parse(data: bytes, origin: str = "", source: str = "osv") -> list[Record]:
    """Parse one JSON/YAML document into records (pure). Raises FeedError on undecodable input; fields of
    the wrong type are ignored."""
    return [to_record(doc, source) for doc in records_in(loads(data, origin))]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _list(value: Any) -> list[Any]:
    """``value`` when it is a list, else empty (malformed input is ignored field by field)."""
    return value if isinstance(value, list) else []


def _entry(aff: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The stored form of one ``affected`` object and its fix status."""
    ranges = []
    has_fix = False
    for rng in _list(aff.get("ranges")):
        if not isinstance(rng, dict) or _str(rng.get("type")).upper() not in _MATCHABLE_RANGES:
            continue
        events = [e for e in _list(rng.get("events")) if isinstance(e, dict)]
        has_fix = has_fix or any("fixed" in e for e in events)
        ranges.append({"type": _str(rng.get("type")).upper(), "events": events})
    entry: dict[str, Any] = {}
    if ranges:
        entry["ranges"] = ranges
    versions = [_str(v) for v in _list(aff.get("versions")) if v is not None]
    if versions:
        entry["versions"] = versions
    return entry, FIXED if has_fix else AFFECTED


def _severity_word(sev: Any) -> str:
    if isinstance(sev, str):
        return sev
    if isinstance(sev, dict):
        return _str(sev.get("severity") or sev.get("urgency") or sev.get("level"))
    return ""


def to_record(doc: dict[str, Any], source: str = "osv") -> Record:
    """One OSV record dict as a :class:`Record`."""
    vectors: list[str] = []
    word, word_source = "", ""
    for sev in _list(doc.get("severity")):
        if not isinstance(sev, dict):
            continue
        kind, score = _str(sev.get("type")).upper(), _str(sev.get("score")).strip()
        if kind in _CVSS_TYPES and score:
            vectors.append(score)
        elif score and not word:  # "Ubuntu": "medium" and other vendor words
            word, word_source = score, kind.lower()
    dbs: dict[str, Any] = doc["database_specific"] if isinstance(doc.get("database_specific"), dict) else {}
    if not word and dbs.get("severity"):
        word, word_source = _severity_word(dbs.get("severity")), source
    latest: dict[str, Any] = dbs["latest_event"] if isinstance(dbs.get("latest_event"), dict) else {}
    latest_type = _str(latest.get("type"))
    affected = []
    for aff in _list(doc.get("affected")):
        if not isinstance(aff, dict) or not isinstance(aff.get("package"), dict):
            continue
        eco, name = _str(aff["package"].get("ecosystem")), _str(aff["package"].get("name"))
        if not eco or not name:
            continue
        entry, status = _entry(aff)
        if status != FIXED and latest_type in _WOLFI_STATUS:
            status = _WOLFI_STATUS[latest_type]
        spec: dict[str, Any] = aff["ecosystem_specific"] if isinstance(aff.get("ecosystem_specific"), dict) else {}
        pkg_sev = _severity_word(spec.get("severity") or spec.get("urgency"))
        for sev in _list(aff.get("severity")):
            if isinstance(sev, dict) and _str(sev.get("type")).upper() in _CVSS_TYPES and sev.get("score"):
                vectors.append(_str(sev["score"]).strip())
        affected.append(AffectedEntry(eco, name, entry, status, pkg_sev))
    aliases = [_str(a) for a in _list(doc.get("aliases")) + _list(doc.get("upstream")) if a]
    if any(_is_distro(a.namespace) for a in affected):
        # distro errata (ALSA, RLSA, SUSE...) list the CVEs they fix under "related"
        aliases += [_str(r) for r in _list(doc.get("related")) if _str(r).startswith("CVE-")]
    if not word:
        m = _ERRATA_SEVERITY.match(_str(doc.get("summary")))
        if m and affected and all(_is_distro(a.namespace) for a in affected):
            word, word_source = m.group(1), source
    refs = [_str(r.get("url")) for r in _list(doc.get("references")) if isinstance(r, dict) and r.get("url")]
    return Record(
        id=_str(doc.get("id")),
        source=source,
        aliases=tuple(dict.fromkeys(a for a in aliases if a != doc.get("id"))),
        summary=_str(doc.get("summary")).strip(),
        details=_str(doc.get("details")).strip(),
        severity=word,
        severity_source=word_source,
        cvss=tuple(dict.fromkeys(vectors)),
        published=_str(doc.get("published")),
        modified=_str(doc.get("modified")),
        withdrawn=_str(doc.get("withdrawn")),
        references=tuple(dict.fromkeys(refs)),
        affected=tuple(affected),
    )
