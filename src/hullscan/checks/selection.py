"""Check selection and the alert-type whitelist: pure functions over a :class:`~hullscan.model.ScanReport`.

* ``--checks`` / ``--skip-checks`` (``ScanOptions.checks`` / ``skip_checks``, or the ``checks`` /
  ``skip-checks`` keys of ``hullscan.yaml``): ids, ``fnmatch`` globs (``secret-*``) or categories
  (``vulnerability``, ``baseline``, ``malicious``, ``sensitive``, ``history``). A finding is kept when it
  matches ``checks`` (or ``checks`` is empty) and matches no ``skip-checks``; a ``default: off`` check is kept
  only when ``checks`` names its id.
  Findings taken out this way are counted in a report note.
* whitelist (``whitelist`` key of ``hullscan.yaml``): alert types accepted for a scope with a reason::

      whitelist:
        - id: baseline-root-user          # id, glob or category
          scope: all                      # all | repository name (e.g. registry.local/team/app) or glob
          path: /usr/lib/*                # optional glob on the finding's path
          reason: runs as root by design, see ADR-7

  Matching findings move to ``report.suppressed`` with ``whitelist: <reason>``: never silently dropped.
* secrets in the image metadata (config summary: Env, labels, entrypoint, cmd, history; layers' created_by) are masked in
  the report (hullscan.checks.masking).
* files installed by OS packages: secret findings on paths listed in the ``files`` of a deb/rpm/apk package
  are moved to ``report.suppressed`` (distribution-shipped files are not the image author's secrets) unless
  ``plugin_settings["secret"]["include-package-files"]`` is true.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

from hullscan.errors import InputError
from hullscan.model import Category, Finding, ImageConfigSummary, ScanReport
from hullscan.options import ScanOptions
from hullscan.owners import file_owners

CATEGORIES = frozenset(c.value for c in Category)
CONFIG_KEYS = frozenset({"checks", "skip-checks", "whitelist"})


@dataclass(frozen=True, slots=True)
class WhitelistEntry:
    """One accepted alert type within a scope."""

    id: str
    reason: str
    scope: str = "all"
    path: str = ""

    def applies(self, finding: Finding, repository: str) -> bool:
        """True when ``finding`` (of an image from ``repository``) is covered by this entry."""
        if not matches(finding, (self.id,)):
            return False
        if self.scope not in ("", "all", "*") and not fnmatch.fnmatchcase(repository, self.scope):
            return False
        return not self.path or fnmatch.fnmatchcase(finding.location.path, self.path)


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    """The ``hullscan.yaml`` equivalent of the selection flags."""

    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    whitelist: tuple[WhitelistEntry, ...] = field(default_factory=tuple)


def _strings(value: object, key: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InputError(f"{source}: {key!r} must be a list of check ids or categories")


def parse_config(data: object, source: str = "hullscan.yaml") -> SelectionConfig:
    """Validate a parsed ``hullscan.yaml`` (other top-level keys are left to their owners)."""
    if data is None:
        return SelectionConfig()
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping at the top level")
    entries = []
    raw_list = data.get("whitelist") or []
    if not isinstance(raw_list, list):
        raise InputError(f"{source}: 'whitelist' must be a list")
    for i, raw in enumerate(raw_list):
        if not isinstance(raw, dict) or not raw.get("id"):
            raise InputError(f"{source}: whitelist entry {i + 1} needs an 'id'")
        if not str(raw.get("reason") or "").strip():
            raise InputError(f"{source}: whitelist entry {i + 1} ({raw['id']}) needs a 'reason'")
        scope = raw.get("scope", "all")
        if isinstance(scope, dict):  # {repository: name}
            scope = scope.get("repository", "all")
        entries.append(WhitelistEntry(id=str(raw["id"]), reason=str(raw["reason"]).strip(), scope=str(scope or "all"),
                                      path=str(raw.get("path") or "")))
    return SelectionConfig(
        checks=_strings(data.get("checks"), "checks", source),
        skip_checks=_strings(data.get("skip-checks"), "skip-checks", source),
        whitelist=tuple(entries),
    )


def load_config(path: Path) -> SelectionConfig:
    """Read ``hullscan.yaml`` (InputError naming the file when it is missing or malformed)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected YAML)") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_config(data, str(path))


def matches(finding: Finding, selectors: tuple[str, ...]) -> bool:
    """True when ``finding`` matches one selector: its category, its id, a glob over its id, or an alias."""
    ids = [finding.id, *(finding.vuln.aliases if finding.vuln else ())]
    for sel in selectors:
        if sel.lower() in CATEGORIES and finding.category.value == sel.lower():
            return True
        if any(fnmatch.fnmatchcase(i, sel) for i in ids):
            return True
    return False


_VULN_ID = re.compile(r"^(?:CVE|GHSA|DSA|DLA|RHSA|RHBA|ALAS\d*|USN|OSV|PYSEC|GO|RUSTSEC|GMS|ELSA|SUSE|ALSA|RLSA|MAL|BIT|CGA|ALPINE)-",
                      re.IGNORECASE)


def unknown_selectors(selectors: tuple[str, ...]) -> list[str]:
    """Selectors that name no category, no known check id and no vulnerability id, and hold no glob."""
    if not selectors:
        return []
    from hullscan.checks import catalog

    known = catalog()
    return [s for s in selectors if s.lower() not in CATEGORIES and s not in known and not _VULN_ID.match(s)
            and not any(c in s for c in "*?[")]


def _repository(report: ScanReport) -> str:
    art = report.artifact
    return art.repository or art.name


def apply(report: ScanReport, options: ScanOptions, config: SelectionConfig | None = None) -> ScanReport:
    """A new report with the selection, the package-file rule and the whitelist applied (``report`` is unchanged)."""
    from hullscan.checks import default_off

    config = config or SelectionConfig()
    keep = tuple(options.checks) + config.checks
    skip = tuple(options.skip_checks) + config.skip_checks
    off = default_off() if report.findings else frozenset()  # the check catalog is read only when needed
    settings = options.plugin_settings.get("secret") or {}
    include_pkg_files = bool(settings.get("include-package-files", False))
    owned: dict[str, str] | None = {} if include_pkg_files else None  # built for the first secret finding
    repository = _repository(report)

    findings: list[Finding] = []
    suppressed = list(report.suppressed)
    dropped = 0
    for f in report.findings:
        if f.id in off:
            selected = f.id in keep  # a default-off check runs only when named by its id
        else:
            selected = matches(f, keep) if keep else True
        if not selected or (skip and matches(f, skip)):
            dropped += 1
            continue
        owner = None
        if f.category is Category.SENSITIVE:
            if owned is None:
                owned = file_owners(report.packages, os_only=True)  # built only when a secret asks
            owner = owned.get(f.location.path)
        if owner:
            suppressed.append((f, f"file installed by package {owner} (secret.include-package-files=false)"))
            continue
        entry = next((w for w in config.whitelist if w.applies(f, repository)), None)
        if entry is not None:
            suppressed.append((f, f"whitelist: {entry.reason}"))
            continue
        findings.append(f)
    notes = list(report.notes)
    notes.extend(f"--checks/--skip-checks: unknown check {sel!r}" for sel in unknown_selectors(keep + skip))
    if dropped:
        notes.append(f"{dropped} finding(s) not selected by --checks/--skip-checks")
    from hullscan.checks.masking import mask_report

    return mask_report(dataclasses.replace(report, findings=findings, suppressed=suppressed, notes=notes))


def mask_config(config: ImageConfigSummary) -> ImageConfigSummary:
    """``config`` with the secrets in its free-text fields masked (:func:`hullscan.checks.masking.mask_config`)."""
    from hullscan.checks.masking import mask_config as mask

    return mask(config)
