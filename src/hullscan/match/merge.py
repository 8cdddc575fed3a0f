"""Folding the advisory entries that hit one package into findings: **one finding per vulnerability
per package**, however many sources and aliases name it.

Grouping: a record whose id is a CVE, or which aliases exactly one CVE, belongs to that CVE's group.
A record naming no CVE joins the group it shares an id/alias with, else stands alone. A record
naming several CVEs (a DSA, an ALSA errata) counts, for OS packages, once for each of its CVEs (its
id becomes an alias of each CVE's finding, its fix applies to each); for language packages it is
folded into its CVEs' groups when all of them are already there, else it stands alone.

Primary id: the CVE when the group names exactly one (OS and language packages alike: Trivy users, Harbor CVE
allowlists and cross-tool de-duplication key on CVE ids); otherwise the record id (the smallest when several
records agree). Every other id (PYSEC, GHSA, GO, distro ids) goes to ``aliases``; references keep every source's.
Severity: the distro's rating when a distro feed gives one, else the CVSS base score (v3.1 > v3.0 >
v4.0 > v2), else the record's own word (GHSA ``database_specific.severity``...), else UNKNOWN; a finding still
UNKNOWN then takes the best rating of the other records that name the same ids (:func:`rate_from_aliases`).
Title: the advisory's summary; without one, the first sentence of its details that is not the package's own
description ("urllib3 is a user-friendly HTTP client library for Python.").
Fix status: ``fixed`` when some source names a fixed version above the installed one, else the most
specific of will_not_fix > end_of_life > affected > unknown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from hullscan.model import Category, Finding, FixStatus, Location, Package, Severity, VulnInfo
from hullscan.severity import best_cvss, from_word
from hullscan.version import InvalidVersionError, UnknownEcosystemError, scheme_for
from hullscan.vulndb.db import Advisory, Candidate

_STATUS_ORDER = [FixStatus.FIXED, FixStatus.WILL_NOT_FIX, FixStatus.END_OF_LIFE, FixStatus.AFFECTED, FixStatus.UNKNOWN]


class Hit(NamedTuple):
    """A candidate entry that does affect the installed version, with the fixes above it (a named tuple:
    matching builds one per hit)."""

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


#: One hit's place in a group: (index of the hit, the one CVE of a multi-CVE record it joins with, or None:
#: with all its ids)
Member = tuple[int, str | None]


#: How an advisory's hit is grouped: ((id, source): the order hits are taken in, the key of the group it joins
#: with all its ids (None: it names no CVE or several), its CVEs)
_Placing = tuple[tuple[str, str], str | None, tuple[str, ...]]


def _placing(adv: Advisory) -> _Placing:
    vid = adv.id
    cves = _cves_of(vid, adv.aliases)
    return (vid, adv.source), vid if vid.startswith("CVE-") else (cves[0] if len(cves) == 1 else None), cves


def _placements(advs: list[Advisory], split_multi: bool,
                seen: dict[int, _Placing] | None = None) -> list[list[Member]]:
    """The groups of :func:`group_hits` as lists of members, in the same order (group keys sorted, hits in
    the order they join), without building the groups (matching builds one only for a verdict not seen yet).
    ``advs``: the advisory of each hit; ``seen``: their :func:`_placing` by advisory row, kept across calls
    (for one database)."""
    groups: dict[str, list[Member]] = {}
    no_cve: list[int] = []
    multi: list[int] = []
    if seen is None:
        seen = {}
    info = []
    for adv in advs:
        placing = seen.get(adv.rid)
        if placing is None:
            placing = seen[adv.rid] = _placing(adv)
        info.append(placing)
    order: Iterable[int] = range(len(advs))
    if len(advs) > 1:
        order = sorted(order, key=[placing[0] for placing in info].__getitem__)
    for i in order:
        key = info[i][1]
        if key is None:
            (multi if info[i][2] else no_cve).append(i)
            continue
        found = groups.get(key)
        if found is None:
            groups[key] = [(i, None)]
        else:
            found.append((i, None))
    if no_cve:
        by_name: dict[str, list[Member]] = {}
        for key in sorted(groups, reverse=True):  # a name two groups answer to: the smallest key's
            members = groups[key]
            for name in _names(advs, members):
                by_name[name] = members
        for i in no_cve:
            adv = advs[i]
            names = (adv.id, *adv.aliases)
            target = next((by_name[n] for n in names if n in by_name), None)
            if target is None:
                target = groups.setdefault(adv.id, [])
            target.append((i, None))
            for name in names:
                by_name.setdefault(name, target)
    for i in multi:
        cves = info[i][2]
        if split_multi or all(c in groups for c in cves):
            for c in cves:
                groups.setdefault(c, []).append((i, c))
        else:
            groups.setdefault(advs[i].id, []).append((i, None))
    return [groups[k] for k in sorted(groups)]


def _names(advs: list[Advisory], members: list[Member]) -> set[str]:
    """Every id and alias a group of ``members`` answers to (:attr:`_Group.names`)."""
    names: set[str] = set()
    for i, only in members:
        adv = advs[i]
        names.update((adv.id, only) if only else (adv.id, *adv.aliases))
    return names


def _group(hits: list[Hit], members: list[Member]) -> _Group:
    group = _Group()
    for i, only in members:
        group.add(hits[i], only)
    return group


def group_hits(hits: list[Hit], split_multi: bool = True) -> list[_Group]:
    """Group hits per vulnerability (see the module doc). ``split_multi`` (OS packages): a record naming
    several CVEs joins (or opens) the group of each of its CVEs."""
    return [_group(hits, members) for members in _placements([h.candidate.advisory for h in hits], split_multi)]


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
    if len(cves) == 1:
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


#: a sentence that describes the package, not the flaw: "urllib3 is a user-friendly HTTP client library for Python"
_PACKAGE_BLURB = re.compile(r"^[\w.@/-]+(?:\s+\([^)]*\))?\s+(?:is|are)\s+(?:a|an|the)\b")


@lru_cache(maxsize=65536)
def _first_sentence(details: str) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", details.strip()) if s.strip()]
    while len(sentences) > 1 and _PACKAGE_BLURB.match(sentences[0]):
        sentences.pop(0)
    first = sentences[0].split("\n", 1)[0].rstrip(".").strip() if sentences else ""
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


def _new_verdict(primary: str, aliases: tuple[str, ...], fixed: tuple[str, ...], status: FixStatus, severity: Severity,
                 severity_source: str, score: float | None, vector: str, title: str, details: str,
                 references: tuple[str, ...], published: str, modified: str, data_source: str) -> Verdict:
    return Verdict(primary, aliases, fixed, status, severity, severity_source, score, vector, title, details,
                   references, published, modified, data_source, _RANK[severity])


_RANK = {s: s.rank for s in Severity}
_FIX_STATUS = {s.value: s for s in FixStatus}


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
    severity): exactly what the general path (:func:`_severity`, :func:`_title`) computes for one advisory."""
    cvss = best_cvss(adv.cvss)
    score, vector = (cvss.score, cvss.vector) if cvss else (None, "")
    word = from_word(rating or adv.severity)
    severity: Severity
    if is_os and word is not Severity.UNKNOWN:  # every OS record is the distro's
        severity, sev_source = word, adv.source
    elif cvss is not None:
        if cvss.vector in adv.cvss or f"CVSS:2.0/{cvss.vector}" in adv.cvss:
            severity, sev_source = cvss.severity, f"{adv.source} (CVSS {cvss.version})"
        else:  # not seen in real data: whatever the general path does
            severity, sev_source, score, vector = _severity(is_os, [Hit(Candidate(adv, "", "", {}, "", rating), ())])
    elif word is not Severity.UNKNOWN:
        severity, sev_source = word, adv.source
    else:
        severity, sev_source = Severity.UNKNOWN, ""
    title, details = adv.summary, adv.details
    if not title and details:
        title = _first_sentence(details)
    modified = adv.modified if adv.modified and not adv.modified.startswith("0001") else ""
    return (severity, sev_source, score, vector, title or "", details or "", adv.references, adv.published, modified,
            adv.source)


def _verdict(is_os: bool, group: _Group, shared: _Shared | None = None) -> Verdict:
    primary = _primary(is_os, group)
    return _new_verdict(primary, tuple(sorted(group.ids() - {primary})), *(shared or _shared(is_os, group)))


def _one_verdict(is_os: bool, adv: Advisory, key: HitKey, only: str | None, memo: VerdictMemo) -> Verdict:
    """:func:`_verdict` of a group of one hit (the common case), given by its advisory and :func:`hit_key`,
    that joined it with all its ids or, ``only``, with one CVE; without building the group: the same verdict."""
    _, namespace, fix_status, rating, hit_fixed = key
    vid = adv.id
    names = {vid, only} if only else {vid, *adv.aliases}
    cves = [n for n in names if n.startswith("CVE-")]
    primary = cves[0] if len(cves) == 1 else vid  # _primary of one record
    names.discard(primary)
    if len(hit_fixed) < 2:
        fixed = hit_fixed  # _sort_versions of none or one
    else:
        fixed = memo.sorted_fixes.get((namespace, hit_fixed))  # type: ignore[assignment]
        if fixed is None:
            fixed = memo.sorted_fixes[(namespace, hit_fixed)] = _sort_versions(namespace, set(hit_fixed))
    if fixed:
        status = FixStatus.FIXED
    else:
        status = _FIX_STATUS.get(fix_status) or FixStatus(fix_status)
        if status is FixStatus.FIXED:  # a fixed status without a fix above the installed version
            status = FixStatus.AFFECTED
    about_key = (is_os, adv.rid, adv.source, rating)
    about = memo.about.get(about_key)
    if about is None:
        about = memo.about[about_key] = _about(is_os, adv, rating)
    return _new_verdict(primary, tuple(sorted(names)), fixed, status, *about)


class VerdictMemo:
    """Verdicts of one matching run: per package's list of hits (``by_hits``), per group of hits and how each
    joined it (``full``), and their hits-only part per group of hits (``shared``) and per advisory (``about``).
    Keys hold advisory row ids: never share a memo across databases."""

    __slots__ = ("about", "by_hits", "full", "hit_ids", "placing", "shared", "sorted_fixes")

    def __init__(self) -> None:
        self.by_hits: dict[tuple[object, ...], list[Verdict]] = {}  # per (is OS, hit ids): see :meth:`hit_id`
        self.full: dict[tuple[object, ...], Verdict] = {}
        self.shared: dict[tuple[object, ...], _Shared] = {}
        self.about: dict[tuple[object, ...], _About] = {}  # per (is OS, advisory row, rating)
        self.sorted_fixes: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}  # per (namespace, fixes of a hit)
        self.hit_ids: dict[HitKey, int] = {}  # a small number per distinct hit key: short memo keys
        self.placing: dict[int, _Placing] = {}  # per advisory row

    def hit_id(self, key: HitKey) -> int:
        """The number of a :data:`HitKey` in this run."""
        found = self.hit_ids.get(key)
        if found is None:
            found = self.hit_ids[key] = len(self.hit_ids)
        return found


#: What of a hit verdicts depend on: (advisory row id, namespace, fix status, rating, fixes)
HitKey = tuple[int, str, str, str, tuple[str, ...]]


def hit_key(hit: Hit) -> HitKey:
    """The :data:`HitKey` of a hit."""
    c = hit.candidate
    return (c.advisory.rid, c.namespace, c.fix_status, c.severity, hit.fixed)


def verdicts(is_os: bool, hits: list[Hit], memo: VerdictMemo | None = None,
             keys: Sequence[HitKey] | None = None) -> list[Verdict]:
    """The verdicts (one per vulnerability, sorted) of one package's hits; ``is_os``: an OS package.
    ``memo`` keeps them per group of hits (one errata's CVEs recur for every subpackage it fixes, and
    split into one group per CVE, which share the hits-only part); ``keys``: the :func:`hit_key` of each hit,
    when the caller has them."""
    advs = [h.candidate.advisory for h in hits]
    if memo is None:
        return [_verdict(is_os, _group(hits, members)) for members in _placements(advs, is_os)]
    return memo_verdicts(is_os, advs, keys or [hit_key(h) for h in hits], hits.__getitem__, memo)


def memo_verdicts(is_os: bool, advs: list[Advisory], keys: Sequence[HitKey], hit: Callable[[int], Hit],
                  memo: VerdictMemo, ids: Sequence[int] | None = None) -> list[Verdict]:
    """:func:`verdicts` with ``memo``, given the advisory and :func:`hit_key` of each hit; ``hit(i)`` builds the
    i-th hit, asked only for a group of several hits not seen yet (most groups are one hit, decided on its
    advisory and key alone). ``ids``: :meth:`VerdictMemo.hit_id` of each key, when the caller has them."""
    if ids is None:
        ids = [memo.hit_id(k) for k in keys]
    full = memo.full
    out = []
    for members in _placements(advs, is_os, memo.placing):
        if len(members) == 1:
            i, only = members[0]
            key: tuple[object, ...] = (is_os, ids[i], only)
            found = full.get(key)
            if found is None:
                found = full[key] = _one_verdict(is_os, advs[i], keys[i], only, memo)
        else:
            key = (is_os, *[(ids[i], only) for i, only in members])
            found = full.get(key)
            if found is None:
                group = _Group()
                for i, only in members:
                    group.add(hit(i), only)
                shared_key = (is_os, *[ids[i] for i, _ in members])
                shared = memo.shared.get(shared_key)
                if shared is None:
                    shared = memo.shared[shared_key] = _shared(is_os, group, memo.about)
                found = full[key] = _verdict(is_os, group, shared)
        out.append(found)
    return out


def build_finding(pkg: Package, group: _Group) -> Finding:
    """The finding for one vulnerability group of one package."""
    return finding(pkg, _verdict(pkg.is_os, group), Location(path=pkg.path, layer=pkg.layer))


def package_findings(pkg: Package, found: list[Verdict], location: Location) -> list[Finding]:
    """The findings of ``found`` for ``pkg`` at ``location`` (one :func:`finding` each)."""
    return [finding(pkg, v, location) for v in found]


def finding(pkg: Package, verdict: Verdict, location: Location) -> Finding:
    """The finding of ``verdict`` for ``pkg``, at the package's ``location`` (shared by its findings)."""
    fixed = verdict.fixed
    return Finding(
        id=verdict.primary,
        category=Category.VULNERABILITY,
        severity=verdict.severity,
        title=verdict.title or f"{verdict.primary} in {pkg.name}",
        description=verdict.details,
        location=location,
        evidence="",
        remediation=f"Upgrade {pkg.name} to {fixed[0]} or later" if fixed else "",
        vuln=VulnInfo(
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


def rate_from_aliases(findings: list[Finding], related: Callable[[Iterable[str]], dict[str, list[Advisory]]]) -> list[Finding]:
    """``findings`` where each one its own records leave UNKNOWN takes the best rating of the other records
    that share one of its ids (``related``: per id, the advisories whose id or alias it is; e.g. a GHSA or
    Bitnami record carrying the NVD CVSS of the CVE a PYSEC record names without a score): the preferred CVSS
    vector first (v3.1 > v3.0 > v4.0 > v2, then the highest score), else a rating word. ``severity_source``
    says which record and id gave it. The result is in :meth:`Finding.sort_key` order again."""
    unknown = [f for f in findings if f.severity is Severity.UNKNOWN and f.vuln is not None]
    if not unknown:
        return findings
    names = {n for f in unknown for n in (f.id, *(f.vuln.aliases if f.vuln else ()))}
    found = related(names)
    rated: dict[tuple[str, tuple[str, ...]], tuple[Severity, str, float | None, str] | None] = {}
    out = []
    changed = False
    for f in findings:
        if f.severity is not Severity.UNKNOWN or f.vuln is None:
            out.append(f)
            continue
        key = (f.id, f.vuln.aliases)
        if key not in rated:
            rated[key] = _rating(f, found)
        rating = rated[key]
        if rating is None:
            out.append(f)
            continue
        severity, source, score, vector = rating
        vuln = dataclasses.replace(f.vuln, severity_source=source, cvss_score=score, cvss_vector=vector)
        out.append(dataclasses.replace(f, severity=severity, vuln=vuln))
        changed = True
    if changed:  # the order of match_packages: (severity, id), then the package's (path, name, version)
        out.sort(key=lambda f: (-f.severity.rank, f.id, f.location.path,
                                f.vuln.package_name if f.vuln else "", f.vuln.installed_version if f.vuln else ""))
    return out


def _rating(f: Finding, found: dict[str, list[Advisory]]) -> tuple[Severity, str, float | None, str] | None:
    own = set((f.vuln.data_source if f.vuln else "").split(","))
    ids = (f.id, *(f.vuln.aliases if f.vuln else ()))
    others = [(name, adv) for name in ids for adv in found.get(name, ())
              if not (adv.source in own and adv.id in ids)]  # records other than the finding's own
    others.sort(key=lambda item: (not item[1].native, item[1].source, item[1].id))
    cvss = best_cvss(v for _, adv in others for v in adv.cvss)
    if cvss is not None:
        name, adv = next((n, a) for n, a in others if cvss.vector in a.cvss or f"CVSS:2.0/{cvss.vector}" in a.cvss)
        return cvss.severity, f"{adv.source} {adv.id} via {name} (CVSS {cvss.version})", cvss.score, cvss.vector
    for name, adv in others:
        sev = from_word(adv.severity)
        if sev is not Severity.UNKNOWN:
            return sev, f"{adv.source} {adv.id} via {name}", None, ""
    return None
