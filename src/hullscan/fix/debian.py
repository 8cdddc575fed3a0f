"""The Debian / Ubuntu fix: from the scan's findings to the patch layer's bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from hullscan.fix import apt
from hullscan.fix.debfile import DebError, DebFile, read_deb
from hullscan.fix.dpkgdb import DpkgDatabase
from hullscan.fix.errors import CHECKSUM_MISMATCH, FixRefused
from hullscan.fix.imagefs import ImageFiles
from hullscan.fix.layer import build
from hullscan.fix.resolve import Planner, vcmp
from hullscan.image.source import ResolvedImage
from hullscan.model import ScanReport

if TYPE_CHECKING:
    from hullscan.fix.service import FixOptions, FixResult


@dataclass
class Patch:
    """The patch layer's tar and the vulnerabilities it is expected to fix."""

    tar: bytes
    predicted: set[str] = field(default_factory=set)


def http_client(options: FixOptions) -> httpx.Client:
    """The client for package repositories (the registry timeout; redirects followed)."""
    return httpx.Client(timeout=httpx.Timeout(options.scan.registry.timeout), follow_redirects=True,
                        headers={"User-Agent": "hullscan-fix"})


def _sources(options: FixOptions, files: ImageFiles, report: ScanReport, arch: str) -> list[apt.AptSource]:
    if options.apt_sources:
        out: list[apt.AptSource] = []
        for line in options.apt_sources:
            try:
                out += apt.parse_one_line(line if line.startswith("deb") else "deb " + line, "--apt-source")
            except ValueError as exc:
                from hullscan.errors import InputError

                raise InputError(str(exc)) from None
        return out
    try:
        sources = apt.image_sources(files)
    except ValueError:
        sources = []
    if sources:
        return sources
    distro = report.os
    return apt.mirror_sources(distro.id if distro else "debian", distro.codename if distro else "", arch)


def _fetch_one(client: httpx.Client, cand: apt.Candidate) -> DebFile:
    data = apt.fetch_deb(client, cand)
    try:
        deb = read_deb(data, f"{cand.name} {cand.version}")
    except DebError as exc:
        raise FixRefused(CHECKSUM_MISMATCH, str(exc)) from None
    if deb.name != cand.name or deb.version != cand.version:
        raise FixRefused(CHECKSUM_MISMATCH, f"{cand.name} {cand.version}: the .deb says it is {deb.name} {deb.version}")
    return deb


def _fetch_all(client: httpx.Client, upgrades: dict[str, apt.Candidate]) -> dict[str, DebFile]:
    """Every planned package, fetched and checked on a few threads (downloads wait on the network; one refusal
    refuses the fix)."""
    from concurrent.futures import ThreadPoolExecutor

    names = sorted(upgrades)
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(names)))) as pool:
        futures = [pool.submit(_fetch_one, client, upgrades[n]) for n in names]
        return {n: f.result() for n, f in zip(names, futures, strict=True)}


def patch_debian(report: ScanReport, base: ResolvedImage, files: ImageFiles, db: DpkgDatabase, options: FixOptions,
                 result: FixResult, work: Path) -> Patch:
    """Plan, fetch and build the patch layer of a dpkg image; fills ``result``'s upgraded/unfixed/log fields."""
    from hullscan.fix.service import Unfixed, Upgrade, _targets

    arch = apt.DEB_ARCH.get(base.artifact.platform.architecture, base.artifact.platform.architecture or "amd64")
    targets = _targets(report, "deb")
    installed = db.installed()
    fixable = {n: t for n, t in targets.items() if t[1] and n in installed}
    for name, (inst, fixed, ids) in sorted(targets.items()):
        if not fixed:
            result.unfixed.append(Unfixed(name, inst, "no-fix-released",
                                          f"{name} {inst}: the vulnerability database has no fixed version", ids))
    if not fixable:
        return Patch(b"")
    sources = _sources(options, files, report, arch)
    keyrings = apt.image_keyrings(files, Path(work), list(options.keyrings))
    codename = report.os.codename if report.os else ""
    with http_client(options) as client:
        index = apt.load_indexes(sources, keyrings, arch, client, Path(work), codename)
        result.repositories = index.log
        planner = Planner(installed, index, arch)
        for name, (inst, fixed, ids) in sorted(fixable.items()):
            refusal = planner.fix(name, fixed)
            if refusal is not None:
                result.unfixed.append(Unfixed(name, inst, refusal.reason, refusal.message, ids))
        plan = planner.plan
        debs = _fetch_all(client, plan.upgrades)
    for name, cand in sorted(plan.upgrades.items()):
        old = installed.get(name)
        result.upgraded.append(Upgrade(name, old.get("Version") if old is not None else "", cand.version,
                                       plan.why.get(name, name)))
    layer = build(db, files, debs)
    result.skipped_scripts = layer.skipped_scripts
    result.kept_conffiles = layer.kept_conffiles
    result.whiteouts = len(layer.whiteouts)
    predicted: set[str] = set()
    for f in report.findings:
        v = f.vuln
        if v is None or v.package_name not in plan.upgrades:
            continue
        cand = plan.upgrades[v.package_name]
        for fv in v.fixed_versions:
            try:
                if vcmp(cand.source_version, fv) >= 0 or vcmp(cand.version, fv) >= 0:
                    predicted.add(f.id)
            except ValueError:
                continue
    return Patch(layer.tar() if debs else b"", predicted)
