"""Which packages to upgrade, and whether the upgrade holds together (dpkg relations only: Depends, Pre-Depends,
Breaks, Conflicts, Provides).

For each vulnerable package with a fixed version, the newest candidate of the repositories is taken; its
dependencies must be met by what is installed, by upgrades of installed packages (pulled in), or by packages new to
the image; installed packages must still have their dependencies met afterwards and must not be broken. Otherwise the
package is refused with a named reason (:mod:`hullscan.fix.errors`) and the plan is left as it was before it, so one
refusal never takes the other fixes with it. ``Recommends``/``Suggests`` are not followed (as ``apt`` does for an
upgrade of an installed package when they were not installed before, they add nothing the package needs to run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hullscan.fix import deb822
from hullscan.fix.apt import Candidate, RepoIndex
from hullscan.fix.errors import FIXED_VERSION_ABSENT, NEEDS_REMOVAL, SONAME_CHANGE, UNSATISFIABLE, FixRefused
from hullscan.version import compare as _compare


def vcmp(a: str, b: str) -> int:
    """Debian version comparison."""
    return _compare("deb", a, b)


def satisfies(version: str, op: str, want: str) -> bool:
    """Whether ``version`` meets ``op want`` (``<<``, ``<=``, ``=``, ``>=``, ``>>``; empty op: always)."""
    if not op:
        return True
    c = vcmp(version, want)
    return {"<<": c < 0, "<=": c <= 0, "=": c == 0, ">=": c >= 0, ">>": c > 0}[op]


@dataclass
class Pkg:
    """A package of the (planned) system: its version and control fields."""

    name: str
    version: str
    stanza: deb822.Stanza

    def rel(self, field_name: str) -> list[list[tuple[str, str, str, str]]]:
        """A relation field, parsed."""
        try:
            return deb822.relations(self.stanza.get(field_name))
        except ValueError:
            return []


@dataclass
class Refusal:
    """A package that could not be fixed, and why."""

    package: str
    installed: str
    reason: str
    message: str


@dataclass
class Plan:
    """The upgrades (and new packages) to make."""

    upgrades: dict[str, Candidate] = field(default_factory=dict)
    #: the package whose fix pulled each one in (itself for a vulnerable package)
    why: dict[str, str] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)


def _text(alts: list[tuple[str, str, str, str]]) -> str:
    return " | ".join(f"{n} ({op} {v})" if op else n for n, _, op, v in alts)


class Planner:
    """Builds a :class:`Plan` over ``installed`` (name -> status stanza) with the candidates of ``index``."""

    def __init__(self, installed: dict[str, deb822.Stanza], index: RepoIndex, arch: str) -> None:
        self.installed = {n: Pkg(n, st.get("Version"), st) for n, st in installed.items()}
        self.state = dict(self.installed)
        self.index = index
        self.arch = arch
        self.plan = Plan()

    # ---------------------------------------------------------------- queries

    def candidates(self, name: str) -> list[Candidate]:
        """The repository's versions of ``name`` for this architecture (or ``all``), newest first."""
        import functools

        cands = [c for c in self.index.packages.get(name, []) if c.arch in (self.arch, "all")]
        def order(a: Candidate, b: Candidate) -> int:
            return vcmp(a.version, b.version)

        return sorted(cands, key=functools.cmp_to_key(order), reverse=True)

    def provided(self, name: str, op: str, want: str) -> bool:
        """Whether some package of the planned system provides ``name`` meeting ``op want``."""
        for pkg in self.state.values():
            for group in pkg.rel("Provides"):
                for pname, _, pop, pver in group:
                    if pname == name and (not op or (pop == "=" and satisfies(pver, op, want))):
                        return True
        return False

    def met(self, alts: list[tuple[str, str, str, str]]) -> bool:
        """Whether one alternative of a dependency group is met by the planned system."""
        for name, _, op, want in alts:
            pkg = self.state.get(name)
            if pkg is not None and satisfies(pkg.version, op, want):
                return True
            if self.provided(name, op, want):
                return True
        return False

    # ---------------------------------------------------------------- planning

    def fix(self, name: str, fixed: str) -> Refusal | None:
        """Plan the upgrade of installed ``name`` to a version at or above ``fixed`` (source version)."""
        saved = (dict(self.state), dict(self.plan.upgrades), dict(self.plan.why))
        installed = self.installed[name].version
        try:
            if name in self.plan.upgrades:  # already pulled in by another fix
                cand = self.plan.upgrades[name]
                if vcmp(cand.source_version, fixed) >= 0 or vcmp(cand.version, fixed) >= 0:
                    return None
            cands = self.candidates(name)
            best = cands[0] if cands else None
            if best is None or (vcmp(best.source_version, fixed) < 0 and vcmp(best.version, fixed) < 0):
                self._no_fixed_version(name, installed, fixed, best)
            assert best is not None
            if vcmp(best.version, installed) <= 0:
                raise FixRefused(FIXED_VERSION_ABSENT, f"{name}: the repositories have no version newer than the "
                                                       f"installed {installed}")
            self._add(best, name)
            self._settle(name)
            return None
        except FixRefused as exc:
            self.state, self.plan.upgrades, self.plan.why = saved[0], saved[1], saved[2]
            refusal = Refusal(name, installed, exc.reason, exc.message)
            self.plan.refused.append(refusal)
            return refusal

    def _no_fixed_version(self, name: str, installed: str, fixed: str, best: Candidate | None) -> None:
        source = self.installed[name].stanza.get("Source").split(" ")[0] or name
        for cands in self.index.packages.values():
            for c in cands:
                if c.source_name == source and c.name != name and vcmp(c.source_version, fixed) >= 0:
                    raise FixRefused(SONAME_CHANGE, f"{name} {installed}: source {source} {c.source_version} builds "
                                                    f"{c.name} instead of {name} (a new major version / soname): the "
                                                    f"fix would install {c.name} and remove {name}")
        have = f"the newest is {best.version}" if best is not None else "it is not in them"
        raise FixRefused(FIXED_VERSION_ABSENT, f"{name}: fixed version {fixed} is not in the repositories ({have})")

    def _add(self, cand: Candidate, why: str) -> None:
        """Put ``cand`` in the plan and pull in what its dependencies and breaks need."""
        if cand.name in self.plan.upgrades and self.plan.upgrades[cand.name].version == cand.version:
            return
        self.plan.upgrades[cand.name] = cand
        self.plan.why.setdefault(cand.name, why)
        new = Pkg(cand.name, cand.version, cand.stanza)
        self.state[cand.name] = new
        for group in new.rel("Pre-Depends") + new.rel("Depends"):
            if not self.met(group):
                self._satisfy(group, f"{cand.name} {cand.version}", why)
        for field_name in ("Breaks", "Conflicts"):
            for group in new.rel(field_name):
                for bname, _, op, want in group:
                    other = self.state.get(bname)
                    if other is None or bname == cand.name or not satisfies(other.version, op, want):
                        continue
                    self._upgrade_out_of(bname, op, want, f"{cand.name} {cand.version} {field_name.lower()} "
                                                          f"{bname} {other.version}", why)

    def _satisfy(self, group: list[tuple[str, str, str, str]], who: str, why: str) -> None:
        for name, _, op, want in group:  # an upgrade of an installed alternative first
            if name in self.state:
                for cand in self.candidates(name):
                    if satisfies(cand.version, op, want) and vcmp(cand.version, self.state[name].version) > 0:
                        self._add(cand, why)
                        return
        for name, _, op, want in group:  # then a package new to the image
            if name not in self.state:
                for cand in self.candidates(name):
                    if satisfies(cand.version, op, want):
                        self._add(cand, why)
                        return
        raise FixRefused(UNSATISFIABLE, f"{who} depends on {_text(group)}, which neither the image nor the "
                                        "repositories provide")

    def _upgrade_out_of(self, name: str, op: str, want: str, what: str, why: str) -> None:
        for cand in self.candidates(name):
            if not satisfies(cand.version, op, want) and vcmp(cand.version, self.state[name].version) > 0:
                self._add(cand, why)
                return
        raise FixRefused(NEEDS_REMOVAL, f"{what}: no newer {name} avoids it, so the fix would need removing {name}")

    def _newer_not_breaking(self, pkg: Pkg, target: str, version: str, field_name: str, why: str) -> None:
        """Upgrade installed ``pkg``, whose ``field_name`` hits ``target`` at ``version``, to a version that does not."""
        for cand in self.candidates(pkg.name):
            if vcmp(cand.version, pkg.version) <= 0:
                break
            hits = any(n == target and satisfies(version, op, want)
                       for group in Pkg(cand.name, cand.version, cand.stanza).rel(field_name) for n, _, op, want in group)
            if not hits:
                self._add(cand, why)
                return
        raise FixRefused(NEEDS_REMOVAL, f"installed {pkg.name} {pkg.version} {field_name.lower()} {target} {version} "
                                        f"and no newer {pkg.name} avoids it: the fix would need removing {pkg.name}")

    def _settle(self, why: str) -> None:
        """Upgrade installed packages whose dependencies the plan broke, or whose Breaks hit it; refuse if none can."""
        for _ in range(100):
            changed = False
            for pkg in list(self.state.values()):
                for group in pkg.rel("Pre-Depends") + pkg.rel("Depends"):
                    if self.met(group):
                        continue
                    if pkg.name in self.plan.upgrades:
                        self._satisfy(group, f"{pkg.name} {pkg.version}", why)
                        changed = True
                        continue
                    fixed = next((c for c in self.candidates(pkg.name) if vcmp(c.version, pkg.version) > 0), None)
                    if fixed is None:
                        raise FixRefused(NEEDS_REMOVAL, f"installed {pkg.name} {pkg.version} depends on "
                                                        f"{_text(group)}, which the upgrade breaks, and no newer "
                                                        f"{pkg.name} is in the repositories: the fix would need "
                                                        f"removing {pkg.name}")
                    self._add(fixed, why)
                    changed = True
                for field_name in ("Breaks", "Conflicts"):
                    for group in pkg.rel(field_name):
                        for bname, _, op, want in group:
                            target = self.state.get(bname)
                            if (target is None or bname == pkg.name or bname not in self.plan.upgrades
                                    or not satisfies(target.version, op, want)):
                                continue
                            self._newer_not_breaking(pkg, bname, target.version, field_name, why)
                            changed = True
                if changed:
                    break
            if not changed:
                return
        raise FixRefused(UNSATISFIABLE, "the dependencies of the upgrade do not settle")
