"""Vulnerability matching: :data:`MATCHERS` (the one explicit list) and the ``vuln`` stage.

For each inventory package the first matcher that ``applies`` names its lookups (namespace x name);
the affected rows of the whole inventory are read in a few indexed queries per namespace, each
package keeps the rows whose ranges contain its installed version (``affected``, on entries compiled
once per run), only the advisories that hit are read, and :mod:`hullscan.match.merge` folds them into
one finding per vulnerability.

Never a silent clean: a package whose distro release, or whose language ecosystem, has no data in
the database is counted in one note per release/ecosystem ("no vulnerability data for alpine 3.99:
12 packages not checked"), as are OS packages without a detected distro and versions that could not
be compared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hullscan.match.base import Matcher
from hullscan.match.lang import LanguageMatcher
from hullscan.match.merge import Hit, Verdict, VerdictMemo, memo_verdicts, package_findings, rate_from_aliases
from hullscan.match.os import AlpineMatcher, DebianMatcher, RpmMatcher, UbuntuMatcher, WolfiMatcher
from hullscan.model import DatabaseInfo, DatabaseSource, Distro, Finding, Location, Package
from hullscan.plugins import Entry, Registry
from hullscan.stages import ScanContext
from hullscan.version import InvalidVersionError, UnknownEcosystemError
from hullscan.vulndb.db import AffectedRow, VulnDB
from hullscan.vulndb.records import normalise_name


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


class _Plan(NamedTuple):
    """What matching one package needs: its matcher, (namespace, name) lookups and installed version."""

    matcher: Matcher
    lookups: tuple[tuple[str, str], ...]
    installed: str
    is_os: bool


class _Outcome:
    """The result of one distinct plan (packages with the same plan share it: the subpackages of one
    source, a library vendored twice): the hits with their fixes, the entries that could not be compared,
    and (once advisories are read) the verdicts."""

    __slots__ = ("errors", "hits", "verdicts")

    def __init__(self) -> None:
        self.hits: list[tuple[AffectedRow, tuple[str, ...]]] = []
        self.errors: list[tuple[int, str]] = []  # (advisory row id, problem)
        self.verdicts: list[Verdict] | None = None


class _Run:
    """One matching run over an inventory: plan every package, read the affected rows of all of them in a
    few queries per namespace, decide per row, then read only the advisories that hit."""

    def __init__(self, db: VulnDB, distro: Distro | None) -> None:
        self.db = db
        self.distro = distro
        self.matchers = [e.factory() for e in MATCHERS]
        self.rows: dict[tuple[str, str], list[AffectedRow]] = {}  # (namespace, normalised name) -> rows
        self.no_data: Counter[str] = Counter()
        self.no_matcher: Counter[str] = Counter()
        self.bad_versions: dict[str, str] = {}  # advisory id -> first problem seen
        self.bad_count = 0
        self.outcomes: dict[_Plan, _Outcome] = {}
        self.memo = VerdictMemo()  # verdicts per group of hits (row ids are this database's)
        self.has_data: dict[str, bool] = {}  # namespace -> db.has_namespace()

    def plan(self, pkg: Package) -> _Plan | None:
        """The plan of one package; None (and a note) when no matcher or no data covers it."""
        distro = self.distro
        for matcher in self.matchers:
            if matcher.applies(pkg, distro):
                break
        else:
            self.no_matcher[self._unmatched_label(pkg)] += 1
            return None
        lookups = matcher.lookups(pkg, distro)
        has_data = self.has_data
        for ns in matcher.namespaces(pkg, distro):
            found = has_data.get(ns)
            if found is None:
                found = has_data[ns] = self.db.has_namespace(ns)
            if found:
                break
        else:
            self.no_data[matcher.label(pkg, distro)] += 1
            return None
        return _Plan(matcher, tuple([(ns, normalise_name(ns, name)) for ns, name in lookups]),
                     matcher.installed_version(pkg), pkg.is_os)

    def fetch(self, plans: list[_Plan | None]) -> None:
        """Read the affected rows of every planned lookup, batched per namespace."""
        wanted: dict[str, set[str]] = {}
        for plan in plans:
            if plan is not None:
                for ns, name in plan.lookups:
                    wanted.setdefault(ns, set()).add(name)
        for ns, names in wanted.items():
            for name, rows in self.db.rows(ns, names).items():
                self.rows[(ns, name)] = rows

    def outcome(self, pkg: Package, plan: _Plan) -> _Outcome:
        """The outcome of ``pkg``'s plan (computed once per distinct plan); its comparison problems are
        counted for every package."""
        found = self.outcomes.get(plan)
        if found is None:
            found = self.outcomes[plan] = self._decide(plan)
        for rid, problem in found.errors:
            self.bad_count += 1
            self.bad_versions.setdefault(self.db.advisory(rid).id, f"{pkg.ecosystem} {pkg.name} {plan.installed}: {problem}")
        return found

    def _decide(self, plan: _Plan) -> _Outcome:
        """The rows that affect the installed version, each with its fixed versions above it."""
        out = _Outcome()
        installed = plan.installed
        parsed: dict[Any, Any] = {}  # the installed version parsed once per scheme
        # a matcher that keeps the base decision (the entry's ranges) has it made on the compiled entry directly
        direct = type(plan.matcher).affected is Matcher.affected
        affected = plan.matcher.affected
        for key in plan.lookups:
            for row in self.rows.get(key, ()):
                try:
                    if direct:
                        fixed = row.compiled.hit(installed, parsed)
                        if fixed is None:
                            continue
                    elif affected(installed, row, parsed):
                        fixed = row.compiled.simple_fix or row.compiled.fixes(installed, parsed)
                    else:
                        continue
                except (InvalidVersionError, UnknownEcosystemError) as exc:
                    out.errors.append((row.rid, str(exc)))
                    continue
                out.hits.append((row, fixed))
        return out

    def verdicts(self, plan: _Plan, outcome: _Outcome) -> list[Verdict]:
        """The verdicts of an outcome's hits (advisories already read), computed once per outcome and once per
        list of hits (the same hits, rows of one advisory at the same fixes, give the same verdicts)."""
        found = outcome.verdicts
        if found is None:
            memo = self.memo
            hits = outcome.hits
            keys = [(row.rid, row.namespace, row.fix_status, row.severity, fixed) for row, fixed in hits]
            hit_id = memo.hit_id
            ids = tuple([hit_id(k) for k in keys])
            found = memo.by_hits.get((plan.is_os, ids))
            if found is None:
                advisory, candidate = self.db.advisory, self.db.candidate
                found = memo.by_hits[(plan.is_os, ids)] = memo_verdicts(
                    plan.is_os, [advisory(row.rid) for row, _ in hits], keys,
                    lambda i: Hit(candidate(hits[i][0]), hits[i][1]), memo, ids)
            outcome.verdicts = found
        return found

    def release(self) -> None:
        """Drop the rows, outcomes and verdicts of the run (the counters for :meth:`notes` stay)."""
        self.rows.clear()
        self.outcomes.clear()
        self.memo = VerdictMemo()

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


def _sorted_findings(found: list[tuple[Package, list[Verdict]]]) -> list[Finding]:
    """The findings of every package's verdicts in the order of :meth:`Finding.sort_key` then package name and
    installed version, i.e. by (severity rank, id) then (path, name, version), equal ones in inventory order.

    Without a sort key per finding: the packages are sorted (stably) by (path, name, version), the distinct
    verdicts by (severity rank, id), and each finding is dealt, package after package, into the bucket of
    its verdict's (rank, id); the buckets, in order, are the sorted findings."""
    found.sort(key=lambda item: (item[0].path, item[0].name, item[0].version))
    distinct = {id(v): v for _, verdicts_ in found for v in verdicts_}
    bucket_of: dict[int, list[Finding]] = {}
    buckets: list[list[Finding]] = []
    last: tuple[int, str] | None = None
    for v in sorted(distinct.values(), key=lambda v: (-v.rank, v.primary)):
        if (v.rank, v.primary) != last:
            last = (v.rank, v.primary)
            buckets.append([])
        bucket_of[id(v)] = buckets[-1]
    for pkg, verdicts_ in found:
        for v, f in zip(verdicts_, package_findings(pkg, verdicts_, Location(path=pkg.path, layer=pkg.layer)),
                        strict=True):
            bucket_of[id(v)].append(f)
    return [f for bucket in buckets for f in bucket]


def match_packages(db: VulnDB, distro: Distro | None, packages: list[Package]) -> MatchResult:
    """Match ``packages`` (of an image whose OS is ``distro``) against ``db``."""
    run = _Run(db, distro)
    plans = [run.plan(pkg) for pkg in packages]
    run.fetch(plans)
    outcomes = [(pkg, plan, run.outcome(pkg, plan)) for pkg, plan in zip(packages, plans, strict=True)
                if plan is not None]
    db.load_advisories(row.rid for outcome in run.outcomes.values() for row, _ in outcome.hits)
    findings = _sorted_findings([(pkg, run.verdicts(plan, outcome)) for pkg, plan, outcome in outcomes
                                 if outcome.hits])
    findings = rate_from_aliases(findings, db.related)  # UNKNOWN: the best rating of the records sharing an id
    del outcomes, plans
    notes = run.notes()
    run.release()
    return MatchResult(findings, notes)


def vulnerability_stage(ctx: ScanContext) -> list[Finding]:
    """The ``vuln`` stage: match the inventory against the database at ``ctx.options.db_path``.

    Raises :class:`~hullscan.errors.DatabaseError` when the database is missing (and there is
    something to match).
    """
    packages = ctx.inventory.packages
    if not packages:
        return []
    if ctx.options.prepare_db is not None:
        note = ctx.options.prepare_db(ctx.options.db_path)
        if note:
            ctx.notes.append(note)
    with VulnDB(ctx.options.db_path) as db:
        ctx.database = database_info(db)
        result = match_packages(db, ctx.inventory.distro, packages)
    ctx.notes.extend(result.notes)
    return result.findings


def database_info(db: VulnDB) -> DatabaseInfo:
    """What a report records about the database: schema version, build time, sources."""
    meta = db.meta()
    return DatabaseInfo(int(meta.get("schema_version", "0") or 0), meta.get("built_at", ""),
                        [DatabaseSource(s.name, s.feed, s.records, s.newest, s.imported_at) for s in db.sources()])
