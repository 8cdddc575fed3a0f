"""The optimised matcher gives exactly the findings and notes of a straightforward reference
implementation, on thousands of real packages drawn from the offline snapshot ($HULLSCAN_VULNDATA).

The reference below is the matching code as it was before the speed work (one query per package and
name, each entry decoded and evaluated with :func:`osvrange.is_affected` / :func:`osvrange.fixed_versions`,
one ``Finding(...)`` per group built by the original merge code), kept here on purpose: it must not share
the fast path's caches, batching or compiled entries.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hullscan.match import MATCHERS, match_packages
from hullscan.match.merge import (
    Hit,
    _fix_status,
    _Group,
    _sort_versions,
    group_hits,
)
from hullscan.model import Category, Distro, Finding, FixStatus, Location, Package, Severity, VulnInfo
from hullscan.severity import best_cvss, from_word
from hullscan.version import InvalidVersionError, UnknownEcosystemError, osvrange
from hullscan.vulndb.db import Advisory, Candidate, VulnDB
from hullscan.vulndb.manage import import_paths
from hullscan.vulndb.records import normalise_name, normalise_namespace
from tests.vulndb.fixtures import VULNDATA, needs_vulndata

BUNDLES = ["AlmaLinux", "PyPI", "Go", "npm", "crates.io", "RubyGems", "Packagist"]
LANGUAGE = BUNDLES[1:]


# ---- the reference: the pre-optimisation matcher, written plainly -------------------------------------------

def _ref_fixes(entry: dict[str, Any], namespace: str, installed: str) -> tuple[str, ...]:
    ranges: list[Any] = entry.get("ranges") or []
    if len(ranges) == 1 and "versions" not in entry:
        events: list[Any] = ranges[0].get("events") or []
        if len(events) == 2 and "introduced" in events[0] and "fixed" in events[1]:
            return (str(events[1]["fixed"]),)
    return tuple(osvrange.fixed_versions(entry, namespace, installed))


def _ref_primary(pkg: Package, group: _Group) -> str:
    cves = sorted({i for i in group.ids() if i.startswith("CVE-")})
    record_ids = sorted({h.candidate.advisory.id for h in group.hits})
    if len(cves) == 1:  # issue 16.6: a CVE is the primary id of language findings too
        return cves[0]
    non_cve = [i for i in record_ids if not i.startswith("CVE-")]
    return (non_cve or record_ids)[0]


def _ref_severity(pkg: Package, hits: list[Hit]) -> tuple[Severity, str, float | None, str]:
    ordered = hits if len(hits) == 1 else sorted(
        hits, key=lambda h: (not h.candidate.advisory.native, h.candidate.advisory.source))
    cvss = best_cvss(tuple(v for h in ordered for v in h.candidate.advisory.cvss))
    score, vector = (cvss.score, cvss.vector) if cvss else (None, "")
    if pkg.is_os:
        for h in ordered:
            sev = from_word(h.candidate.severity or h.candidate.advisory.severity)
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


def _ref_title(primary: str, pkg: Package, advs: list[Advisory]) -> tuple[str, str]:
    summary = next((a.summary for a in advs if a.summary), "")
    details = next((a.details for a in advs if a.details), "")
    if not summary and details:
        # issue 16.6: not the package's own description ("urllib3 is a user-friendly HTTP client library")
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", details.strip()) if s.strip()]
        while len(sentences) > 1 and re.match(r"^[\w.@/-]+(?:\s+\([^)]*\))?\s+(?:is|are)\s+(?:a|an|the)\b", sentences[0]):
            sentences.pop(0)
        first = sentences[0].split("\n", 1)[0].rstrip(".").strip() if sentences else ""
        summary = first if len(first) <= 120 else first[:117].rstrip() + "..."
    return summary or f"{primary} in {pkg.name}", details


def _ref_finding(pkg: Package, group: _Group) -> Finding:
    primary = _ref_primary(pkg, group)
    fixed = _sort_versions(group.hits[0].candidate.namespace, {v for h in group.hits for v in h.fixed})
    severity, sev_source, score, vector = _ref_severity(pkg, group.hits)
    advs = sorted((h.candidate.advisory for h in group.hits), key=lambda a: (a.id, a.source))
    refs = tuple(dict.fromkeys(r for a in advs for r in a.references)) if len(advs) > 1 else advs[0].references
    title, details = _ref_title(primary, pkg, advs)
    return Finding(
        id=primary, category=Category.VULNERABILITY, severity=severity, title=title, description=details,
        location=Location(path=pkg.path, layer=pkg.layer),
        remediation=f"Upgrade {pkg.name} to {fixed[0]} or later" if fixed else "",
        vuln=VulnInfo(
            package_name=pkg.name, installed_version=pkg.version, ecosystem=pkg.ecosystem, purl=pkg.purl,
            source_name=pkg.source_name, aliases=tuple(sorted(group.ids() - {primary})), fixed_versions=fixed,
            fix_status=_fix_status(group, fixed), cvss_score=score, cvss_vector=vector, severity_source=sev_source,
            data_source=",".join(sorted({a.source for a in advs})),
            references=refs,
            published=min((a.published for a in advs if a.published), default=""),
            modified=max((a.modified for a in advs if a.modified and not a.modified.startswith("0001")), default=""),
        ),
    )


def _ref_rate_from_aliases(names: dict[str, list[int]], db: VulnDB, f: Finding) -> Finding:
    """Issue 16.6: an UNKNOWN finding takes the best CVSS (else rating word) of the other records sharing an id."""
    if f.severity is not Severity.UNKNOWN or f.vuln is None:
        return f
    ids = (f.id, *f.vuln.aliases)
    own = set(f.vuln.data_source.split(","))
    others = []
    for name in ids:
        for rid in names.get(name, ()):
            adv = db.advisory(rid)
            if not (adv.source in own and adv.id in ids):
                others.append((name, adv))
    others.sort(key=lambda item: (not item[1].native, item[1].source, item[1].id))
    cvss = best_cvss(tuple(v for _, adv in others for v in adv.cvss))
    if cvss is not None:
        name, adv = next((n, a) for n, a in others if cvss.vector in a.cvss or f"CVSS:2.0/{cvss.vector}" in a.cvss)
        vuln = dataclasses.replace(f.vuln, severity_source=f"{adv.source} {adv.id} via {name} (CVSS {cvss.version})",
                                   cvss_score=cvss.score, cvss_vector=cvss.vector)
        return dataclasses.replace(f, severity=cvss.severity, vuln=vuln)
    for name, adv in others:
        if from_word(adv.severity) is not Severity.UNKNOWN:
            vuln = dataclasses.replace(f.vuln, severity_source=f"{adv.source} {adv.id} via {name}", cvss_score=None,
                                       cvss_vector="")
            return dataclasses.replace(f, severity=from_word(adv.severity), vuln=vuln)
    return f


def reference_match(db: VulnDB, distro: Distro | None, packages: list[Package]) -> tuple[list[Finding], list[str]]:
    """(sorted findings, notes) the plain way."""
    conn = sqlite3.connect(db.path)
    matchers = [e.factory() for e in MATCHERS]
    findings: list[Finding] = []
    no_data: Counter[str] = Counter()
    bad: dict[str, str] = {}
    bad_count = 0
    for pkg in packages:
        matcher = next((m for m in matchers if m.applies(pkg, distro)), None)
        assert matcher is not None  # the sample has a matcher for every package
        namespaces = matcher.namespaces(pkg, distro)
        if not any(db.has_namespace(ns) for ns in namespaces):
            no_data[matcher.label(pkg, distro)] += 1
            continue
        installed = matcher.installed_version(pkg)
        hits = []
        for ns in namespaces:
            for name in dict.fromkeys(matcher.names(pkg)):
                rows = conn.execute("SELECT rid, ecosystem, package, entry, fix_status, severity FROM affected "
                                    "WHERE ns = ? AND name = ? ORDER BY rowid",
                                    (normalise_namespace(ns), normalise_name(ns, name))).fetchall()
                for rid, ecosystem, package, text, fix_status, severity in rows:
                    entry = json.loads(text)
                    advisory = db.advisory(rid)
                    try:
                        if not osvrange.is_affected(installed, entry, ecosystem):
                            continue
                    except (InvalidVersionError, UnknownEcosystemError) as exc:
                        bad_count += 1
                        bad.setdefault(advisory.id, f"{pkg.ecosystem} {pkg.name} {installed}: {exc}")
                        continue
                    candidate = Candidate(advisory, ecosystem, package, entry, fix_status, severity)
                    hits.append(Hit(candidate, _ref_fixes(entry, ecosystem, installed)))
        findings += [_ref_finding(pkg, g) for g in group_hits(hits, split_multi=pkg.is_os)]
    names: dict[str, list[int]] = {}  # every id and alias -> the advisory rows that carry it
    for rid, vid, aliases in conn.execute("SELECT rid, id, aliases FROM advisories ORDER BY rid"):
        for name in dict.fromkeys((vid, *(aliases.split("\n") if aliases else ()))):
            names.setdefault(name, []).append(rid)
    findings = [_ref_rate_from_aliases(names, db, f) for f in findings]
    conn.close()
    findings.sort(key=lambda f: (*f.sort_key(), f.vuln.package_name, f.vuln.installed_version))
    notes = [f"no vulnerability data for {label}: {n} package{'s' if n > 1 else ''} not checked"
             for label, n in sorted(no_data.items())]
    if bad:
        ids = sorted(bad)
        listed = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        notes.append(f"{bad_count} advisory entries of {len(ids)} advisories ({listed}) could not be compared "
                     f"with the installed version and were not checked, e.g. {bad[ids[0]]}")
    return findings, notes


# ---- the sample ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> VulnDB:
    path = tmp_path_factory.mktemp("reference") / "vuln.db"
    import_paths(path, [Path(VULNDATA) / bundle / "all.zip" for bundle in BUNDLES])
    db = VulnDB(path)
    yield db
    db.close()


def _bounds(entry: dict[str, Any]) -> list[str]:
    out = [str(v) for v in entry.get("versions") or ()]
    for rng in entry.get("ranges") or ():
        for event in rng.get("events") or ():
            out += [str(v) for k, v in event.items() if k in ("introduced", "fixed", "last_affected") and v != "0"]
    return out


def sample(db: VulnDB, size: int, seed: int) -> list[Package]:
    """``size`` real packages at versions the feeds name (so many are vulnerable, some at a fix, some just
    below), plus versions no scheme accepts, duplicates at other paths, and AlmaLinux packages with a source
    rpm name."""
    rnd = random.Random(seed)
    conn = sqlite3.connect(db.path)
    pools: dict[str, dict[str, set[str]]] = {}
    for ecosystem, package, text in conn.execute("SELECT ecosystem, package, entry FROM affected ORDER BY rowid"):
        key = "rpm" if ecosystem == "AlmaLinux:9" else ecosystem
        if key == "rpm" or key in LANGUAGE:
            pools.setdefault(key, {}).setdefault(package, set()).update(_bounds(json.loads(text)))
    conn.close()
    names = {key: sorted(n for n, v in pool.items() if v) for key, pool in pools.items()}
    packages: list[Package] = []
    for n in range(size):
        key = "rpm" if n % 3 == 0 else LANGUAGE[n % (3 * len(LANGUAGE)) // 3 % len(LANGUAGE)]
        name = rnd.choice(names[key])
        version = rnd.choice(sorted(pools[key][name]))
        if n % 17 == 0:
            version = "not a version!"  # every scheme refuses it: counted in the note, never a finding
        elif key == "Go" and name != "stdlib" and not version.startswith("v"):
            version = "v" + version
        if key == "rpm":
            source = name if n % 2 else ""
            packages.append(Package(name, version, "rpm", path=f"/var/lib/rpm/{n}", source_name=source, layer=f"l{n % 3}"))
        else:
            packages.append(Package(name, version, key, path=f"/app/{n}", layer=f"l{n % 3}"))
        if n % 11 == 0:
            packages.append(dataclasses.replace(packages[-1], path=f"/copy/{n}"))
    return packages


@needs_vulndata
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_reference(real_db: VulnDB, seed: int) -> None:
    packages = sample(real_db, 2500, seed)
    distro = Distro("almalinux", "9.4")
    want, want_notes = reference_match(real_db, distro, packages)
    with VulnDB(real_db.path) as fresh:  # nothing cached
        got = match_packages(fresh, distro, packages)
    assert len(want) > 3000  # a real sample: thousands of findings, OS and language ones
    assert {f.vuln.ecosystem for f in want} >= {"rpm", "PyPI", "Go", "npm", "crates.io", "RubyGems", "Packagist"}
    assert any(f.vuln.fix_status is FixStatus.FIXED for f in want)
    assert any("could not be compared" in n for n in want_notes)
    assert got.notes == want_notes
    assert len(got.findings) == len(want)
    for g, w in zip(got.findings, want, strict=True):
        assert g == w
    # the same database object again (every cache warm) gives the same answer
    assert match_packages(real_db, distro, packages).findings == got.findings


@needs_vulndata
def test_candidates_are_rows_with_advisories(real_db: VulnDB) -> None:
    rows = real_db.rows("PyPI", ["URLLib3", "urllib3", "no-such-package"])
    assert list(rows) == ["urllib3"]
    cands = real_db.candidates("PyPI", "urllib3")
    assert [c.advisory.rid for c in cands] == [r.rid for r in rows["urllib3"]]
    assert all(c.entry is r.entry for c, r in zip(cands, rows["urllib3"], strict=True))


