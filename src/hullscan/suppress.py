"""Filtering and suppression of findings: pure functions over a :class:`~hullscan.model.ScanReport`,
shared by the CLI (``--severity``, ``--ignore-unfixed``, ``--ignorefile``, ``--vex``) and the server.

Nothing is silently dropped: every finding taken out of ``report.findings`` goes to
``report.suppressed`` with the reason. Order of the rules (the first that applies gives the reason):
OpenVEX statements, ignore-file entries, ``--ignore-unfixed``, ``--severity``.

Ignore file (default ``.hullscanignore``), either YAML::

    - id: CVE-2023-1234          # finding id or any alias
      package: openssl           # optional: package name or purl (without version matches any)
      path: /usr/lib/python3*/*  # optional: glob on the finding's path
      expires: 2025-06-30        # optional: the entry stops applying after this day
      reason: not reachable, see JIRA-123

(a list, or a mapping with an ``ignore`` or ``vulnerabilities`` list), or text, one entry per line::

    CVE-2023-1234 pkg=openssl exp:2025-06-30  # reason

OpenVEX (https://github.com/openvex/spec): statements with status ``not_affected`` (with its
``justification`` / ``impact_statement``) or ``fixed`` suppress the findings of their vulnerability
(name or aliases) for their products: a package purl (``subcomponents`` or ``products``), or the
image (``pkg:oci/...`` or a digest) meaning every package of it. For one finding the latest
statement (by ``timestamp``) wins; ``affected`` / ``under_investigation`` keep it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from hullscan.errors import InputError
from hullscan.model import Artifact, Finding, FixStatus, ScanReport, Severity


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One ignore-file entry."""

    id: str
    package: str = ""
    path: str = ""
    expires: date | None = None
    reason: str = ""

    def expired(self, today: date) -> bool:
        """True once ``expires`` is in the past."""
        return self.expires is not None and self.expires < today


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One OpenVEX statement, reduced to what matching needs."""

    ids: frozenset[str]
    products: tuple[str, ...]  # purls / digests / image references
    subcomponents: tuple[str, ...]
    status: str
    justification: str = ""
    timestamp: str = ""


# --------------------------------------------------------------------------- loading


def _date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(f"{where}: expiry {value!r} is not a date (YYYY-MM-DD)") from None


_TEXT_LINE = re.compile(r"^(?P<body>[^#]*?)\s*(?:#\s*(?P<reason>.*))?$")


def parse_ignore(text: str, origin: str = ".hullscanignore") -> list[IgnoreRule]:
    """Parse an ignore file (YAML or text form, see the module doc)."""
    try:
        import yaml  # lazy: keeps CLI start-up light

        doc = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict):
        doc = doc.get("ignore", doc.get("vulnerabilities", doc.get("misconfigurations")))
    if isinstance(doc, list) and all(isinstance(d, dict) for d in doc):
        rules = []
        for n, item in enumerate(doc, 1):
            if not item.get("id"):
                raise InputError(f"{origin}: entry {n} has no id")
            pkgs = item.get("package") or item.get("purl") or item.get("purls") or ""
            paths = item.get("path") or item.get("paths") or ""
            rules.append(IgnoreRule(
                id=str(item["id"]).strip(),
                package=str(pkgs[0] if isinstance(pkgs, list) and pkgs else pkgs or ""),
                path=str(paths[0] if isinstance(paths, list) and paths else paths or ""),
                expires=_date(item.get("expires", item.get("expired_at")), f"{origin} entry {n}"),
                reason=str(item.get("reason") or item.get("statement") or ""),
            ))
        return rules
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        m = _TEXT_LINE.match(line.strip())
        body = m.group("body").split() if m else []
        if not body:
            continue
        rule = {"id": body[0], "package": "", "path": "", "expires": None}
        for word in body[1:]:
            key, _, value = word.partition("=") if "=" in word else word.partition(":")
            if key in ("pkg", "package", "purl"):
                rule["package"] = value
            elif key == "path":
                rule["path"] = value
            elif key in ("exp", "expires"):
                rule["expires"] = _date(value, f"{origin}:{n}")
            else:
                raise InputError(f"{origin}:{n}: unknown field {word!r} (use pkg=, path=, exp:YYYY-MM-DD)")
        rules.append(IgnoreRule(reason=(m.group("reason") or "").strip() if m else "", **rule))  # type: ignore[arg-type]
    return rules


def load_ignorefile(path: Path) -> list[IgnoreRule]:
    """Read an ignore file; InputError naming the file when it cannot be read or parsed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ignore file ({exc.__class__.__name__})") from None
    return parse_ignore(text, str(path))


def _ids_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(v) for v in [value.get("name"), value.get("@id"), *(value.get("aliases") or ())] if v]
    return []


def _product_ids(items: Any) -> list[str]:
    out: list[str] = []
    for item in items or ():
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(str(v) for v in [item.get("@id"), *((item.get("identifiers") or {}).values())] if v)
    return out


def parse_vex(data: bytes | str, origin: str = "vex") -> list[VexStatement]:
    """Parse an OpenVEX document (v0.0.1 and v0.2.0 shapes)."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InputError(f"{origin}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise InputError(f"{origin}: not an OpenVEX document (no statements list)")
    out = []
    for st in doc["statements"]:
        if not isinstance(st, dict):
            continue
        products: list[str] = []
        subs = _product_ids(st.get("subcomponents"))
        for prod in st.get("products") or ():
            products.extend(_product_ids([prod]))
            if isinstance(prod, dict):
                subs.extend(_product_ids(prod.get("subcomponents")))
        out.append(VexStatement(
            ids=frozenset(_ids_of(st.get("vulnerability"))),
            products=tuple(products),
            subcomponents=tuple(subs),
            status=str(st.get("status") or ""),
            justification=str(st.get("justification") or st.get("impact_statement") or ""),
            timestamp=str(st.get("timestamp") or doc.get("timestamp") or ""),
        ))
    return out


def load_vex(path: Path) -> list[VexStatement]:
    """Read an OpenVEX file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read VEX document ({exc.__class__.__name__})") from None
    return parse_vex(data, str(path))


# --------------------------------------------------------------------------- matching


def _finding_ids(f: Finding) -> set[str]:
    return {f.id, *(f.vuln.aliases if f.vuln else ())}


def _purl_matches(pattern: str, purl: str) -> bool:
    """``pattern`` (a purl, maybe without version) names the package ``purl``."""
    from packageurl import PackageURL

    try:
        want, have = PackageURL.from_string(pattern), PackageURL.from_string(purl)
    except ValueError:
        return False
    same = (want.type, (want.namespace or "").lower(), want.name.lower()) == (
        have.type, (have.namespace or "").lower(), have.name.lower())
    return same and (not want.version or want.version == have.version)


def _package_matches(pattern: str, f: Finding) -> bool:
    if f.vuln is None:
        return False
    if pattern.startswith("pkg:"):
        return bool(f.vuln.purl) and _purl_matches(pattern, f.vuln.purl)
    return pattern in (f.vuln.package_name, f.vuln.source_name)


def _rule_applies(rule: IgnoreRule, f: Finding) -> bool:
    if rule.id not in _finding_ids(f):
        return False
    if rule.package and not _package_matches(rule.package, f):
        return False
    return not rule.path or fnmatch.fnmatch(f.location.path, rule.path)


def _is_image(product: str, artifact: Artifact) -> bool:
    if product.startswith("pkg:oci/"):
        digest = artifact.digest
        return not digest or digest in product.replace("%3A", ":").replace("%3a", ":")
    if product.startswith("sha256:"):
        return product == artifact.digest
    return not product.startswith("pkg:") and product in (artifact.name, f"{artifact.repository}:{artifact.tag}")


def _vex_applies(st: VexStatement, f: Finding, artifact: Artifact) -> bool:
    if not st.ids & _finding_ids(f):
        return False
    purl = f.vuln.purl if f.vuln else ""
    if st.subcomponents:
        return bool(purl) and any(_purl_matches(s, purl) for s in st.subcomponents) and (
            not st.products or any(_is_image(p, artifact) or _purl_matches(p, purl) for p in st.products))
    if not st.products:
        return True
    return any(_is_image(p, artifact) or (bool(purl) and _purl_matches(p, purl)) for p in st.products)


def _vex_reason(statements: list[VexStatement], f: Finding, artifact: Artifact) -> str:
    decided: VexStatement | None = None
    for st in statements:  # sorted by timestamp: the latest applicable statement wins
        if _vex_applies(st, f, artifact):
            decided = st
    if decided is None or decided.status not in ("not_affected", "fixed"):
        return ""
    return f"VEX {decided.status}" + (f": {decided.justification}" if decided.justification else "")


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True, slots=True)
class Filters:
    """Everything that can take findings out of a report."""

    severities: frozenset[Severity] | None = None  # keep only these (None: all)
    ignore_unfixed: bool = False
    rules: tuple[IgnoreRule, ...] = ()
    vex: tuple[VexStatement, ...] = ()


def parse_severities(text: str) -> frozenset[Severity]:
    """``"HIGH,CRITICAL"`` -> the set; InputError naming a word that is no severity."""
    out = set()
    for word in (w.strip().upper() for w in text.split(",")):
        if not word:
            continue
        if word not in Severity.__members__:
            raise InputError(f"--severity: unknown severity {word!r} (use {', '.join(Severity.__members__)})")
        out.add(Severity[word])
    return frozenset(out)


def apply_filters(report: ScanReport, filters: Filters, today: date | None = None) -> ScanReport:
    """A copy of ``report`` with filtered findings moved to ``suppressed`` (with reasons) and notes for
    expired ignore entries."""
    today = today or date.today()
    active = [r for r in filters.rules if not r.expired(today)]
    notes = list(report.notes) + [
        f"ignore entry {r.id}{' (' + r.package + ')' if r.package else ''} expired on {r.expires}: no longer applied"
        for r in filters.rules if r.expired(today)
    ]
    vex = sorted(filters.vex, key=lambda s: s.timestamp)
    kept: list[Finding] = []
    suppressed = list(report.suppressed)
    for f in report.findings:
        reason = _reason(f, filters, active, vex, report.artifact)
        if reason:
            suppressed.append((f, reason))
        else:
            kept.append(f)
    return dataclasses.replace(report, findings=kept, suppressed=suppressed, notes=notes)


def _reason(f: Finding, filters: Filters, rules: Iterable[IgnoreRule], vex: list[VexStatement],
            artifact: Artifact) -> str:
    if vex:
        why = _vex_reason(vex, f, artifact)
        if why:
            return why
    for rule in rules:
        if _rule_applies(rule, f):
            return "ignored" + (f": {rule.reason}" if rule.reason else "") + (
                f" (until {rule.expires})" if rule.expires else "")
    if filters.ignore_unfixed and f.vuln is not None and f.vuln.fix_status is not FixStatus.FIXED:
        return f"no fix available ({f.vuln.fix_status.value}): --ignore-unfixed"
    if filters.severities is not None and f.severity not in filters.severities:
        return f"severity {f.severity.value} not selected by --severity"
    return ""


DEFAULT_IGNOREFILE = ".hullscanignore"


def build_filters(severity: str | None = None, ignore_unfixed: bool = False, ignorefile: Path | None = None,
                  vex: Iterable[Path] = ()) -> Filters:
    """Filters from CLI-style inputs. ``ignorefile`` None: ``.hullscanignore`` in the current folder when it
    exists; a given file that does not exist is an error."""
    if ignorefile is None:
        default = Path(DEFAULT_IGNOREFILE)
        rules = load_ignorefile(default) if default.is_file() else []
    elif not Path(ignorefile).is_file():
        raise InputError(f"{ignorefile}: ignore file not found")
    else:
        rules = load_ignorefile(ignorefile)
    statements = [st for path in vex for st in load_vex(path)]
    return Filters(
        severities=parse_severities(severity) if severity else None,
        ignore_unfixed=ignore_unfixed,
        rules=tuple(rules),
        vex=tuple(statements),
    )


def write_suppressed(report: ScanReport, out: TextIO) -> None:
    """List the suppressed findings with their reasons (``--show-suppressed``)."""
    out.write(f"suppressed: {len(report.suppressed)} finding(s)\n")
    for f, reason in sorted(report.suppressed, key=lambda item: (*item[0].sort_key(), item[1])):
        where = f"{f.vuln.package_name} {f.vuln.installed_version}" if f.vuln else f.location.path
        out.write(f"  {f.id} [{f.severity.value}] {where}: {reason}\n")


def exit_code_for(report: ScanReport, code: int) -> int:
    """``code`` when findings remain after filtering (``--exit-code N``), else 0."""
    return code if report.findings else 0
