"""Folding the advisory entries that hit one package into findings: **one finding per vulnerability
per package**, however many sources and aliases name it.

Grouping: a record whose id is a CVE, or which aliases exactly one CVE, belongs to that CVE's group.
A record naming no CVE joins the group it shares an id/alias with, else stands alone. A record
naming several CVEs (a DSA, an ALSA errata) counts, for OS packages, once for each of its CVEs (its
id becomes an alias of each CVE's finding, its fix applies to each); for language packages it is
folded into its CVEs' groups when all of them are already there, else it stands alone.

Primary id: for OS packages the CVE when the group has one; otherwise the record id (the smallest
when several records agree). Every other id goes to ``aliases``.
Severity: the distro's rating when a distro feed gives one, else the CVSS base score (v3.1 > v3.0 >
v4.0 > v2), else the record's own word (GHSA ``database_specific.severity``...), else UNKNOWN.
Fix status: ``fixed`` when some source names a fixed version above the installed one, else the most
specific of will_not_fix > end_of_life > affected > unknown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from hullscan.model import Category, Finding, FixStatus, Location, Package, Severity, VulnInfo
from hullscan.severity import best_cvss, from_word
from hullscan.version import InvalidVersionError, UnknownEcosystemError, scheme_for
from hullscan.vulndb.db import Advisory, Candidate

T = TypeVar("T")

_STATUS_ORDER = [FixStatus.FIXED, FixStatus.WILL_NOT_FIX, FixStatus.END_OF_LIFE, FixStatus.AFFECTED, FixStatus.UNKNOWN]


@dataclass(frozen=True)
class Hit:
    """A candidate entry that does affect the installed version, with the fixes above it."""

    candidate: Candidate
    fixed: tuple[str, ...]


@dataclass
class _Group:
    hits: list[Hit] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every id and alias this finding answers to

    def add(self, hit: Hit, only: str | None = None) -> None:
        """Add a hit with all its ids, or (``only``: one CVE of a multi-CVE record) with its id and that CVE."""
        adv = hit.candidate.advisory
        self.hits.append(hit)
        self.names.update((adv.id, only) if only else (adv.id, *adv.aliases))

    def ids(self) -> set[str]:
        return set(self.names)


def _cves(hit: Hit) -> tuple[str, ...]:
    adv = hit.candidate.advisory
    return _cves_of(adv.id, adv.aliases)


@lru_cache(maxsize=65536)
def _cves_of(vid: str, aliases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({i for i in (vid, *aliases) if i.startswith("CVE-")}))


class _Groups(dict[str, _Group]):
    """Groups by key; a missing key opens an empty group (no throw-away group per lookup, as ``setdefault``
    would build)."""

    def __missing__(self, key: str) -> _Group:
        group = self[key] = _Group()
        return group


def group_hits(hits: list[Hit], split_multi: bool = True) -> list[_Group]:
    """Group hits per vulnerability (see the module doc). ``split_multi`` (OS packages): a record naming
    several CVEs joins (or opens) the group of each of its CVEs."""
    groups = _Groups()
    no_cve: list[Hit] = []
    multi: list[Hit] = []
    if len(hits) > 1:
        hits = sorted(hits, key=lambda h: (h.candidate.advisory.id, h.candidate.advisory.source))
    for hit in hits:
        adv = hit.candidate.advisory
        cves = _cves(hit)
        if adv.id.startswith("CVE-"):
            groups[adv.id].add(hit)
        elif len(cves) == 1:
            groups[cves[0]].add(hit)
        elif not cves:
            no_cve.append(hit)
        else:
            multi.append(hit)
    if no_cve:
        by_name = {name: g for key in sorted(groups, reverse=True) for g in (groups[key],) for name in g.names}
        for hit in no_cve:
            adv = hit.candidate.advisory
            target = next((by_name[n] for n in (adv.id, *adv.aliases) if n in by_name), None)
            if target is None:
                target = groups[adv.id]
            target.add(hit)
            for name in (adv.id, *adv.aliases):
                by_name.setdefault(name, target)
    for hit in multi:
        cves = _cves(hit)
        if split_multi or all(c in groups for c in cves):
            for c in cves:
                groups[c].add(hit, only=c)
        else:
            groups[hit.candidate.advisory.id].add(hit)
    return [groups[k] for k in sorted(groups)]


def _sort_versions(namespace: str, versions: set[str]) -> tuple[str, ...]:
    if len(versions) < 2:
        return tuple(versions)
    try:
        scheme = scheme_for(namespace)
        return tuple(sorted(versions, key=lambda v: (scheme.key(v), v)))
    except (InvalidVersionError, UnknownEcosystemError, TypeError):
        return tuple(sorted(versions))


def _primary(is_os: bool, group: _Group) -> str:
    cves = sorted({i for i in group.ids() if i.startswith("CVE-")})
    record_ids = sorted({h.candidate.advisory.id for h in group.hits})
    if len(cves) == 1 and (is_os or cves[0] in record_ids):
        return cves[0]
    non_cve = [i for i in record_ids if not i.startswith("CVE-")]
    return (non_cve or record_ids)[0]


def _severity(is_os: bool, hits: list[Hit]) -> tuple[Severity, str, float | None, str]:
    """(severity, severity_source, cvss score, cvss vector) for a group."""
    ordered = hits if len(hits) == 1 else sorted(
        hits, key=lambda h: (not h.candidate.advisory.native, h.candidate.advisory.source))
    cvss = best_cvss(tuple(v for h in ordered for v in h.candidate.advisory.cvss))
    score, vector = (cvss.score, cvss.vector) if cvss else (None, "")
    if is_os:
        for h in ordered:
            word = h.candidate.severity or h.candidate.advisory.severity  # every OS record is the distro's
            sev = from_word(word)
            if sev is not Severity.UNKNOWN:
                return sev, h.candidate.advisory.source, score, vector
    if cvss is not None:
        source = next(h.candidate.advisory.source for h in ordered if cvss.vector in h.candidate.advisory.cvss
                      or f"CVSS:2.0/{cvss.vector}" in h.candidate.advisory.cvss)
        return cvss.severity, f"{source} (CVSS {cvss.version})", score, vector
    for h in ordered:
        sev = from_word(h.candidate.severity or h.candidate.advisory.severity)
        if sev is not Severity.UNKNOWN:
            return sev, h.candidate.advisory.source, score, vector
    return Severity.UNKNOWN, "", score, vector


def _fix_status(group: _Group, fixed: tuple[str, ...]) -> FixStatus:
    if fixed:
        return FixStatus.FIXED
    statuses = {FixStatus(h.candidate.fix_status) for h in group.hits} - {FixStatus.FIXED}
    return next((s for s in _STATUS_ORDER if s in statuses), FixStatus.AFFECTED)


@lru_cache(maxsize=65536)
def _first_sentence(details: str) -> str:
    first = details.split("\n", 1)[0].split(". ", 1)[0].strip()
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def _title(advs: list[Advisory]) -> tuple[str, str]:
    """(title, details); an empty title means none of the advisories has one."""
    summary = next((a.summary for a in advs if a.summary), "")
    details = next((a.details for a in advs if a.details), "")
    if not summary and details:
        summary = _first_sentence(details)
    return summary, details


class Verdict(NamedTuple):
    """Everything a finding says that does not depend on which package it is about (shared by every
    package a group of hits recurs for: the subpackages of one errata, a library vendored twice)."""

    primary: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]
    status: FixStatus
    severity: Severity
    severity_source: str
    score: float | None
    vector: str
    title: str  # empty: "<primary> in <package>"
    details: str
    references: tuple[str, ...]
    published: str
    modified: str
    data_source: str
    rank: int  # severity.rank


class _Shared(NamedTuple):
    """The part of a verdict that depends on the hits alone, not on which ids name the group: one errata
    naming fifty CVEs makes fifty groups of the same hit (OS packages) that share it."""

    fixed: tuple[str, ...]
    status: FixStatus
    severity: Severity
    severity_source: str
    score: float | None
    vector: str
    title: str
    details: str
    references: tuple[str, ...]
    published: str
    modified: str
    data_source: str


def _shared(is_os: bool, group: _Group, about_memo: dict[tuple[object, ...], _About] | None = None) -> _Shared:
    namespace = group.hits[0].candidate.namespace
    fixed = _sort_versions(namespace, {v for h in group.hits for v in h.fixed})
    if len(group.hits) == 1:  # the common case: what the advisory says, read once per advisory and rating
        hit = group.hits[0]
        adv = hit.candidate.advisory
        key = (is_os, adv.rid, adv.source, hit.candidate.severity)
        about = about_memo.get(key) if about_memo is not None else None
        if about is None:
            about = _about(is_os, adv, hit.candidate.severity)
            if about_memo is not None:
                about_memo[key] = about
        return _Shared(fixed, _fix_status(group, fixed), *about)
    severity, sev_source, score, vector = _severity(is_os, group.hits)
    advs = [h.candidate.advisory for h in group.hits]
    if len(advs) > 1:
        advs.sort(key=lambda a: (a.id, a.source))
        refs = tuple(dict.fromkeys(r for a in advs for r in a.references))
    else:
        refs = advs[0].references
    title, details = _title(advs)
    published = min((a.published for a in advs if a.published), default="")
    modified = max((a.modified for a in advs if a.modified and not a.modified.startswith("0001")), default="")
    return _Shared(fixed, _fix_status(group, fixed), severity, sev_source, score, vector, title, details, refs,
                   published, modified, ",".join(sorted({a.source for a in advs})))


_About = tuple[Severity, str, float | None, str, str, str, tuple[str, ...], str, str, str]


def _about(is_os: bool, adv: Advisory, rating: str) -> _About:
    """The advisory-only part of :class:`_Shared` for a group of one hit (``rating``: the candidate's own
    severity): exactly what the general path computes for one advisory."""
    hit = Hit(Candidate(adv, "", "", {}, "", rating), ())
    severity, sev_source, score, vector = _severity(is_os, [hit])
    title, details = _title([adv])
    published = adv.published
    modified = adv.modified if adv.modified and not adv.modified.startswith("0001") else ""
    return (severity, sev_source, score, vector, title, details, adv.references, published, modified, adv.source)


def _verdict(is_os: bool, group: _Group, shared: _Shared | None = None) -> Verdict:
    primary = _primary(is_os, group)
    s = shared or _shared(is_os, group)
    return Verdict(primary, tuple(sorted(group.ids() - {primary})), s.fixed, s.status, s.severity, s.severity_source,
                   s.score, s.vector, s.title, s.details, s.references, s.published, s.modified, s.data_source,
                   s.severity.rank)


class VerdictMemo:
    """Verdicts of one matching run, by group of hits and ids (``full``) and their hits-only part by group of
    hits (``shared``) and per advisory (``about``). Keys hold advisory row ids: never share a memo across databases."""

    __slots__ = ("about", "full", "shared")

    def __init__(self) -> None:
        self.full: dict[tuple[object, ...], Verdict] = {}
        self.shared: dict[tuple[object, ...], _Shared] = {}
        self.about: dict[tuple[object, ...], _About] = {}  # per (is OS, advisory row, rating)


def verdicts(is_os: bool, hits: list[Hit], memo: VerdictMemo | None = None) -> list[Verdict]:
    """The verdicts (one per vulnerability, sorted) of one package's hits; ``is_os``: an OS package.
    ``memo`` keeps them per group of hits (one errata's CVEs recur for every subpackage it fixes, and
    split into one group per CVE, which share the hits-only part)."""
    groups = group_hits(hits, split_multi=is_os)
    if memo is None:
        return [_verdict(is_os, group) for group in groups]
    hit_keys = {id(h): (h.candidate.advisory.rid, h.candidate.namespace, h.candidate.fix_status, h.candidate.severity,
                        h.fixed) for h in hits}
    out = []
    for group in groups:
        key = (is_os, *[hit_keys[id(h)] for h in group.hits])
        full_key = (frozenset(group.names), key)
        found = memo.full.get(full_key)
        if found is None:
            shared = memo.shared.get(key)
            if shared is None:
                shared = memo.shared[key] = _shared(is_os, group, memo.about)
            found = memo.full[full_key] = _verdict(is_os, group, shared)
        out.append(found)
    return out


def build_finding(pkg: Package, group: _Group) -> Finding:
    """The finding for one vulnerability group of one package."""
    return finding(pkg, _verdict(pkg.is_os, group), Location(path=pkg.path, layer=pkg.layer))


def finding(pkg: Package, verdict: Verdict, location: Location) -> Finding:
    """The finding of ``verdict`` for ``pkg``, at the package's ``location`` (shared by its findings)."""
    fixed = verdict.fixed
    return _new_finding(
        id=verdict.primary,
        category=Category.VULNERABILITY,
        severity=verdict.severity,
        title=verdict.title or f"{verdict.primary} in {pkg.name}",
        description=verdict.details,
        location=location,
        evidence="",
        remediation=f"Upgrade {pkg.name} to {fixed[0]} or later" if fixed else "",
        vuln=_new_vuln_info(
            package_name=pkg.name,
            installed_version=pkg.version,
            ecosystem=pkg.ecosystem,
            purl=pkg.purl,
            source_name=pkg.source_name,
            aliases=verdict.aliases,
            fixed_versions=fixed,
            fix_status=verdict.status,
            cvss_score=verdict.score,
            cvss_vector=verdict.vector,
            severity_source=verdict.severity_source,
            data_source=verdict.data_source,
            references=verdict.references,
            published=verdict.published,
            modified=verdict.modified,
        ),
    )


def direct_constructor(cls: type[T]) -> Callable[..., T]:
    """A constructor for the frozen dataclass ``cls`` that takes **every** field by keyword and fills the
    instance's ``__dict__`` in one step: what the generated ``__init__`` does one ``object.__setattr__`` at
    a time, about three times faster (matching builds tens of thousands of findings). Only for classes
    with no ``__post_init__``, no ``__slots__`` and no ``init=False`` field; any other class gets ``cls``
    itself. The result equals ``cls(**fields)`` (tested)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__ or any(not f.init for f in fields)
            or not dataclasses.is_dataclass(cls)):
        return cls
    new = object.__new__

    def construct(**values: Any) -> T:
        obj = new(cls)
        obj.__dict__.update(values)
        return obj

    construct.__doc__ = f"{cls.__name__}(**every field), filled directly"
    return construct


_new_finding = direct_constructor(Finding)
_new_vuln_info = direct_constructor(VulnInfo)
