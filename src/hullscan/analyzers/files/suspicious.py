"""Suspicious files (``--scanners malware``; issue 16.4): heuristic indicators of mining trojans, user-land
rootkits and backdoors that no signature names, from ``rules/suspicious.yaml`` (data, not code):

* miner launchers and configurations: stratum pool URLs, Monero wallet addresses, miner binaries started with
  arguments, XMRig-style configuration keys (in scripts, configuration and other small text files);
* persistence that starts a program from a temporary or hidden folder, downloads or decodes and runs code
  (cron files, systemd units, rc.local, profile.d, init.d, supervisor);
* ``/etc/ld.so.preload`` naming a library, and shared objects carrying a process hider's strings;
* an ``authorized_keys`` for root;
* executables (ELF, or a script with a ``#!`` line and an execute bit) in ``/tmp``, ``/var/tmp``, ``/dev/shm``
  or in a dot-folder (except the ``allowed_dot_dirs``);
* the ``library`` fact: shared objects directly in a system library folder, which
  :func:`hullscan.checks.suspicious.unowned_libraries` reports when no package installed them.

Findings are category ``malicious`` with an id starting ``suspicious-``, severity MEDIUM (signature hits of
``files/malware`` are HIGH or CRITICAL), a title starting "Suspicious", and evidence naming the indicator.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput, FileMeta, is_binary
from hullscan.analyzers.files.rulefiles import rule_yaml, rules_digest
from hullscan.model import AnalysisResult, Category, Finding, Location, Severity

RULES_FILE = "suspicious.yaml"
_SO = re.compile(r"\.so(?:\.[0-9][0-9.]*)?$")
_KEY_LINE = re.compile(r"^(?:[^#\s][^\n]*\s)?(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]{20,}", re.MULTILINE)


@dataclass(frozen=True)
class Indicator:
    """One named text indicator."""

    name: str
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None = None
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


def _data() -> dict[str, Any]:
    data: dict[str, Any] = rule_yaml(RULES_FILE)
    return data


@functools.cache
def indicators(kind: str) -> tuple[Indicator, ...]:
    """The ``<kind>_indicators`` of the data file (``miner``, ``persistence``)."""
    out = []
    for raw in _data().get(f"{kind}_indicators") or []:
        ex = raw.get("examples") or {}
        out.append(Indicator(raw["name"], re.compile(raw["regex"], re.MULTILINE),
                             re.compile(raw["unless"]) if raw.get("unless") else None,
                             tuple(ex.get("match") or ()), tuple(ex.get("no_match") or ())))
    return tuple(out)


def first_match(indicator: Indicator, text: str) -> re.Match[str] | None:
    """The first match of ``indicator`` in ``text`` on a line its ``unless`` does not match."""
    for m in indicator.regex.finditer(text):
        if indicator.unless is None:
            return m
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        if not indicator.unless.search(text[start : end if end >= 0 else len(text)]):
            return m
    return None


@functools.cache
def checks() -> dict[str, dict[str, Any]]:
    """The suspicious check entries by id."""
    return {c["id"]: c for c in _data()["checks"]}


def finding(check_id: str, indicator: str, matched: str, path: str, layer: str, line: int = 0) -> Finding:
    """A suspicious finding: the check's title and remediation, the indicator that fired in the evidence."""
    info = checks()[check_id]
    shown = " ".join(matched.split())
    shown = shown if len(shown) <= 160 else shown[:157] + "..."
    return Finding(id=check_id, category=Category.MALICIOUS, severity=Severity.parse(_data().get("severity", "MEDIUM")),
                   title=str(info["title"]),
                   description=f"{info['title']} ({path}): heuristic indicator {indicator}, not a signature match",
                   location=Location(path=path, line=line, layer=layer), evidence=f"indicator {indicator}: {shown}",
                   remediation=str(info.get("remediation", "")))


def _under(path: str, dirs: list[str]) -> bool:
    return any(path.startswith(d) for d in dirs)


def _directly_in(path: str, dirs: list[str]) -> bool:
    return any(path.startswith(d) and "/" not in path[len(d):] for d in dirs)


def _hidden_dir(path: str) -> str | None:
    """The first dot-folder of ``path`` that is not an allowed one, or None."""
    allowed = _data().get("allowed_dot_dirs") or []
    parts = path.strip("/").split("/")[:-1]
    for i, part in enumerate(parts):
        if part.startswith(".") and part not in (".", ".."):
            joined = "/".join(parts[i:i + 2])
            if part in allowed or joined in allowed:
                return None
            return "/" + "/".join(parts[: i + 1])
    return None


def _is_persistence(path: str) -> bool:
    data = _data()
    return path in (data.get("persistence_files") or ()) or _under(path, data.get("persistence_dirs") or [])


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class SuspiciousAnalyzer(Analyzer):
    """Heuristic indicators (see the module doc)."""

    name = "files/suspicious"
    version = 1
    tags = frozenset({"malware"})
    kinds = frozenset({"file"})
    max_size = 64 * 1024 * 1024

    def wants(self, path: str, info: FileMeta) -> bool:
        """Persistence places, ld.so.preload, root's authorized_keys, executables in temp and dot-folders,
        shared objects, and small scripts/configuration files (miner indicators)."""
        data = _data()
        if path in ("/etc/ld.so.preload", "/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2") or _is_persistence(path):
            return True
        if _SO.search(path):
            return True
        executable = bool(info.mode & 0o111)
        if executable and (_under(path, data.get("temp_dirs") or []) or _hidden_dir(path)):
            return True
        if info.size > int(data.get("max_text_size", 1 << 20)):
            return False
        name = path.rsplit("/", 1)[-1]
        return executable or name.endswith((".sh", ".json", ".conf", ".cfg", ".ini", ".yaml", ".yml", ".service", ".timer", ".txt", ".toml"))

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Every indicator that applies to the file."""
        data = _data()
        path, layer = file.path, file.layer
        out = AnalysisResult()
        if _SO.search(path):
            if _directly_in(path, data.get("library_dirs") or []):
                out.facts["library"] = [path]
            self._process_hider(file, out)
        executable = bool(file.info.mode & 0o111)
        head = file.read()[:4] if executable else b""
        if executable and (head == b"\x7fELF" or head[:2] == b"#!"):
            if _under(path, data.get("temp_dirs") or []):
                out.findings.append(finding("suspicious-hidden-executable", "temp-folder", path, path, layer))
            elif (hidden := _hidden_dir(path)) is not None:
                out.findings.append(finding("suspicious-hidden-executable", "dot-folder", f"{hidden}/", path, layer))
        if path == "/etc/ld.so.preload":
            entries = [ln.strip() for ln in file.text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
            if entries:
                out.findings.append(finding("suspicious-ld-preload", "ld-so-preload", " ".join(entries), path, layer))
            return out if out.findings or out.facts else None
        if path.startswith("/root/.ssh/authorized_keys"):
            m = _KEY_LINE.search(file.text())
            if m:
                out.findings.append(finding("suspicious-root-authorized-keys", "root-authorized-keys",
                                            m.group(0)[:40] + "...", path, layer, _line_of(file.text(), m.start())))
            return out if out.findings else None
        raw = file.read()
        if len(raw) <= int(data.get("max_text_size", 1 << 20)) and not is_binary(raw):
            text = raw.decode("utf-8", errors="replace")
            if _is_persistence(path):
                for ind in indicators("persistence"):
                    m = first_match(ind, text)
                    if m:
                        out.findings.append(finding("suspicious-persistence", ind.name, m.group(0), path, layer,
                                                    _line_of(text, m.start())))
                        break
            for ind in indicators("miner"):
                m = first_match(ind, text)
                if m:
                    out.findings.append(finding("suspicious-miner-indicator", ind.name, m.group(0), path, layer,
                                                _line_of(text, m.start())))
                    break
        return out if out.findings or out.facts else None

    def _process_hider(self, file: FileInput, out: AnalysisResult) -> None:
        data = file.read()
        for markers in _data().get("process_hider_markers") or []:
            if all(str(m).encode() in data for m in markers):
                out.findings.append(finding("suspicious-process-hider", "process-hider-strings", " + ".join(markers),
                                            file.path, file.layer))
                return

    def cache_salt(self) -> str:
        """Digest of the suspicious-file data."""
        return rules_digest(RULES_FILE)
