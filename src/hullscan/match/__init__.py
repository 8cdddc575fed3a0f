"""Vulnerability matching: :data:`MATCHERS` (the one explicit list) and the ``vuln`` stage.

For each inventory package the first matcher that ``applies`` looks up its candidates (one indexed
query per namespace and name), keeps those whose ranges contain the installed version
(``affected``), and :mod:`hullscan.match.merge` folds them into one finding per vulnerability.

Never a silent clean: a package whose distro release, or whose language ecosystem, has no data in
the database is counted in one note per release/ecosystem ("no vulnerability data for alpine 3.99:
12 packages not checked"), as are OS packages without a detected distro and versions that could not
be compared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hullscan.match.base import Matcher
from hullscan.match.lang import LanguageMatcher
from hullscan.match.merge import Hit, build_finding, group_hits
from hullscan.match.os import AlpineMatcher, DebianMatcher, RpmMatcher, UbuntuMatcher, WolfiMatcher
from hullscan.model import Distro, Finding, Package
from hullscan.plugins import Entry, Registry
from hullscan.stages import ScanContext
from hullscan.version import InvalidVersionError, UnknownEcosystemError, osvrange
from hullscan.vulndb.db import Candidate, VulnDB


def _entry(cls: type[Matcher], *tags: str) -> Entry[Matcher]:
    return Entry(cls.name, cls.version, cls, frozenset(tags))


MATCHERS: Registry[Matcher] = Registry("matcher", [
    _entry(DebianMatcher, "os"),
    _entry(UbuntuMatcher, "os"),
    _entry(AlpineMatcher, "os"),
    _entry(WolfiMatcher, "os"),
    _entry(RpmMatcher, "os"),
    _entry(LanguageMatcher, "lang"),
])


@dataclass
class MatchResult:
    """Findings (sorted) and human notes of one matching run."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Run:
    """One matching run: candidate lookups are cached per (namespace, name)."""

    def __init__(self, db: VulnDB, distro: Distro | None) -> None:
        self.db = db
        self.distro = distro
        self.matchers = [e.factory() for e in MATCHERS]
        self.lookups: dict[tuple[str, ...], list[Candidate]] = {}
        self.no_data: Counter[str] = Counter()
        self.no_matcher: Counter[str] = Counter()
        self.bad_versions: dict[str, str] = {}  # advisory id -> first problem seen
        self.bad_count = 0

    def package(self, pkg: Package) -> list[Finding]:
        matcher = next((m for m in self.matchers if m.applies(pkg, self.distro)), None)
        if matcher is None:
            self.no_matcher[self._unmatched_label(pkg)] += 1
            return []
        namespaces = matcher.namespaces(pkg, self.distro)
        if not any(self.db.has_namespace(ns) for ns in namespaces):
            self.no_data[matcher.label(pkg, self.distro)] += 1
            return []
        key = (matcher.name, *namespaces, "\0", *matcher.names(pkg))
        candidates = self.lookups.get(key)
        if candidates is None:
            candidates = self.lookups[key] = matcher.candidates(self.db, pkg, self.distro)
        installed = matcher.installed_version(pkg)
        hits: list[Hit] = []
        for cand in candidates:
            try:
                if not matcher.affected(pkg, cand):
                    continue
            except (InvalidVersionError, UnknownEcosystemError) as exc:
                self.bad_count += 1
                self.bad_versions.setdefault(cand.advisory.id, f"{pkg.ecosystem} {pkg.name} {installed}: {exc}")
                continue
            hits.append(Hit(cand, _fixes(cand, installed)))
        return [build_finding(pkg, group) for group in group_hits(hits, split_multi=pkg.is_os)]

    def _unmatched_label(self, pkg: Package) -> str:
        if self.distro is None:
            return f"{pkg.ecosystem} packages without a detected distro"
        return f"{pkg.ecosystem} packages of {self.distro.id} {self.distro.version_id}".strip()

    def notes(self) -> list[str]:
        out = [f"no vulnerability data for {label}: {n} package{'s' if n > 1 else ''} not checked"
               for label, n in sorted(self.no_data.items())]
        out += [f"no vulnerability matcher for {label}: {n} not checked" for label, n in sorted(self.no_matcher.items())]
        if self.bad_versions:
            ids = sorted(self.bad_versions)
            listed = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            out.append(f"{self.bad_count} advisory entries of {len(ids)} advisories ({listed}) could not be compared "
                       f"with the installed version and were not checked, e.g. {self.bad_versions[ids[0]]}")
        return out


def _fixes(cand: Candidate, installed: str) -> tuple[str, ...]:
    """The fixed versions above ``installed`` in an entry that affects it. The common one-interval shape
    (``introduced``, ``fixed``; no ``versions``) is answered directly: its fix is above every affected
    version."""
    ranges: list[Any] = cand.entry.get("ranges") or []
    if len(ranges) == 1 and "versions" not in cand.entry:
        events: list[Any] = ranges[0].get("events") or []
        if len(events) == 2 and "introduced" in events[0] and "fixed" in events[1]:
            return (str(events[1]["fixed"]),)
    return tuple(osvrange.fixed_versions(cand.entry, cand.namespace, installed))


def match_packages(db: VulnDB, distro: Distro | None, packages: list[Package]) -> MatchResult:
    """Match ``packages`` (of an image whose OS is ``distro``) against ``db``."""
    run = _Run(db, distro)
    findings = [f for pkg in packages for f in run.package(pkg)]
    findings.sort(key=lambda f: (*f.sort_key(), f.vuln.package_name if f.vuln else "",
                                 f.vuln.installed_version if f.vuln else ""))
    return MatchResult(findings, run.notes())


def vulnerability_stage(ctx: ScanContext) -> list[Finding]:
    """The ``vuln`` stage: match the inventory against the database at ``ctx.options.db_path``.

    Raises :class:`~hullscan.errors.DatabaseError` when the database is missing (and there is
    something to match).
    """
    packages = ctx.inventory.packages
    if not packages:
        return []
    with VulnDB(ctx.options.db_path) as db:
        result = match_packages(db, ctx.inventory.distro, packages)
    ctx.notes.extend(result.notes)
    return result.findings
