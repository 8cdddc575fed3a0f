"""Baseline (hardening) checks on files (``--scanners baseline``), described in ``rules/baseline.yaml``.

* ``/etc/shadow``: empty passwords, weak passwords (hashes tried against ``rules/weak-passwords.txt`` and the
  account name, with passlib for sha512/sha256/md5/des crypt, the bcrypt library for bcrypt and the C ``crypt``
  module (libxcrypt) for yescrypt),
  obsolete hash algorithms;
* ``/etc/passwd``: accounts other than root with UID 0;
* ``/etc/ssh/sshd_config`` and ``sshd_config.d/*.conf``: risky settings (data: ``sshd`` in baseline.yaml);
* configuration files: AccessKeys and passwords in plain text (the secret rules listed in baseline.yaml);
* file modes (metadata only): world-writable files/directories without the sticky bit (findings) and
  setuid/setgid files (the ``setuid`` fact; ``hullscan.checks.config`` reports those no package owns).
"""

from __future__ import annotations

import functools
import re
import time
import warnings as _warnings
from dataclasses import dataclass
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput, FileMeta, is_binary
from hullscan.analyzers.files.rulefiles import rule_bytes, rule_yaml, rules_digest
from hullscan.analyzers.files.secrets import RULES_FILE as SECRET_RULES
from hullscan.analyzers.files.secrets import scan_text
from hullscan.model import AnalysisResult, Category, Finding, Location, ScanWarning, Severity

RULES_FILE = "baseline.yaml"
WORDS_FILE = "weak-passwords.txt"
_SSHD = re.compile(r"^/etc/ssh/sshd_config(?:\.d/[^/]+\.conf)?$")
_LOCKED = re.compile(r"^[!*]")


@dataclass(frozen=True)
class CheckInfo:
    """Metadata of one baseline check (from ``rules/baseline.yaml``)."""

    id: str
    title: str
    severity: Severity
    default: bool
    remediation: str


@functools.cache
def checks() -> dict[str, CheckInfo]:
    """The baseline checks by id."""
    out = {}
    for raw in rule_yaml(RULES_FILE)["checks"]:
        out[raw["id"]] = CheckInfo(raw["id"], raw["title"], Severity.parse(raw["severity"]), raw.get("default", True) in (True, "on"),
                                   raw.get("remediation", ""))
    return out


def finding(check_id: str, evidence: str, path: str = "", layer: str = "", line: int = 0, detail: str = "") -> Finding:
    """A baseline finding for the check ``check_id`` (title, severity and remediation from the data file)."""
    info = checks()[check_id]
    return Finding(
        id=check_id,
        category=Category.BASELINE,
        severity=info.severity,
        title=info.title,
        description=f"{info.title}" + (f": {detail}" if detail else "") + (f" ({path})" if path else ""),
        location=Location(path=path, line=line, layer=layer),
        evidence=evidence,
        remediation=info.remediation,
    )


@functools.cache
def weak_words() -> tuple[str, ...]:
    """The shipped weak-password dictionary."""
    lines = rule_bytes(WORDS_FILE).decode("utf-8").splitlines()
    return tuple(w for w in (line.strip() for line in lines) if w and not w.startswith("#"))


@functools.cache
def _context() -> Any:
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", DeprecationWarning)  # passlib imports the deprecated crypt module
        from passlib.context import CryptContext

    return CryptContext(schemes=["sha512_crypt", "sha256_crypt", "md5_crypt", "des_crypt"])


def _c_crypt() -> Any:
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:  # Python >= 3.13 has no crypt module
            return None
    return crypt


def verify(word: str, hashed: str) -> bool | None:
    """Whether ``word`` is the password of ``hashed``; None when the hash scheme cannot be checked here."""
    if hashed.startswith(("$y$", "$gy$", "$7$")):
        crypt = _c_crypt()
        if crypt is None:
            return None
        result = crypt.crypt(word, hashed)
        return None if result in (None, "*0", "*1") else result == hashed
    if hashed.startswith(("$2a$", "$2b$", "$2y$")):
        # passlib 1.7's bcrypt backend breaks with bcrypt >= 4.1 (its self-test hashes a >72-byte password):
        # check bcrypt hashes with the bcrypt library itself
        try:
            import bcrypt

            return bool(bcrypt.checkpw(word.encode()[:72], hashed.encode()))
        except (ImportError, ValueError):
            return None
    ctx = _context()
    try:
        if ctx.identify(hashed) is None:
            return None
        return bool(ctx.verify(word, hashed))
    except (ValueError, TypeError):
        return None


#: seconds of hashing spent on one account at most (expensive bcrypt/yescrypt costs)
ACCOUNT_BUDGET = 3.0
#: seconds of hashing spent on one shadow file at most (a file with thousands of accounts); the accounts
#: left unchecked are named in a warning
FILE_BUDGET = 10.0


def weak_password(user: str, hashed: str, budget: float = ACCOUNT_BUDGET) -> str | None:
    """The dictionary word (or the user name) that ``hashed`` is the hash of; ``""`` when none is (or the time
    budget ran out); None when the scheme is unsupported."""
    deadline = time.monotonic() + budget
    for word in (user, *weak_words()):
        ok = verify(word, hashed)
        if ok is None:
            return None
        if ok:
            return word
        if time.monotonic() > deadline:
            return ""
    return ""


def check_shadow(file: FileInput) -> AnalysisResult:
    """Empty, weak and obsolete-hash passwords in a shadow file."""
    out = AnalysisResult()
    deadline = time.monotonic() + FILE_BUDGET
    tried: dict[tuple[str, str], str | None] = {}  # (user, hash) -> weak_password's answer
    skipped: list[str] = []
    for lineno, line in enumerate(file.text().splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 2 or not fields[0] or line.startswith("#"):
            continue
        user, hashed = fields[0], fields[1]
        if hashed == "":
            out.findings.append(finding("baseline-empty-password", f"{user}: empty password field", file.path, file.layer, lineno,
                                        f"account {user!r} has no password"))
            continue
        if _LOCKED.match(hashed):
            continue
        scheme = hashed.split("$")[1] if hashed.startswith("$") and hashed.count("$") >= 2 else "des"
        if scheme in ("1", "des") :
            out.findings.append(finding("baseline-weak-hash-algorithm", f"{user}: {'MD5' if scheme == '1' else 'DES'} crypt hash",
                                        file.path, file.layer, lineno, f"account {user!r}"))
        if (user, hashed) in tried:
            word = tried[(user, hashed)]
        elif time.monotonic() > deadline:
            skipped.append(user)
            continue
        else:
            word = tried[(user, hashed)] = weak_password(user, hashed, min(ACCOUNT_BUDGET, max(0.1, deadline - time.monotonic())))
        if word is None:
            out.warnings.append(ScanWarning("unsupported-hash", f"cannot check the password hash of {user!r} (scheme ${scheme}$)",
                                            file.path, file.layer))
        elif word:
            shown = word[0] + "*" * (len(word) - 1)
            out.findings.append(finding("baseline-weak-password", f"{user}: password is a dictionary word ({shown})", file.path,
                                        file.layer, lineno, f"account {user!r} has a guessable password"))
    if skipped:
        out.warnings.append(ScanWarning("check-budget", f"weak-password check stopped after {FILE_BUDGET:.0f} s: {len(skipped)} "
                                        f"account(s) not checked (first: {skipped[0]!r})", file.path, file.layer))
    return out


def check_passwd(file: FileInput) -> AnalysisResult:
    """Accounts other than root with UID 0."""
    out = AnalysisResult()
    for lineno, line in enumerate(file.text().splitlines(), 1):
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] != "root" and fields[2].strip() == "0" and not line.startswith("#"):
            out.findings.append(finding("baseline-extra-uid0", f"{fields[0]}:x:0:{fields[3]}", file.path, file.layer, lineno,
                                        f"account {fields[0]!r} has UID 0"))
    return out


def check_sshd(file: FileInput) -> AnalysisResult:
    """Risky sshd settings outside ``Match`` blocks (the first value of a keyword wins, as in sshd), and the
    (default-off) note that an SSH server is configured at all."""
    out = AnalysisResult()
    if file.path == "/etc/ssh/sshd_config":
        out.findings.append(finding("baseline-sshd-installed", "sshd_config present", file.path, file.layer))
    rules = {r["keyword"]: r for r in rule_yaml(RULES_FILE).get("sshd") or []}
    seen: set[str] = set()
    for lineno, raw in enumerate(file.text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(r"[\s=]+", line, maxsplit=1)
        keyword = parts[0].lower()
        if keyword == "match":
            break
        value = parts[1].strip().lower() if len(parts) > 1 else ""
        if keyword in seen:
            continue
        seen.add(keyword)
        rule = rules.get(keyword)
        if rule and value in [str(v).lower() for v in rule["bad"]]:
            out.findings.append(finding(rule["check"], raw.strip(), file.path, file.layer, lineno))
    return out


@functools.cache
def _config_re() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in rule_yaml(RULES_FILE).get("config_files") or []))


def check_config(file: FileInput) -> AnalysisResult:
    """AccessKeys and passwords in plain text in a configuration file."""
    data = file.read()
    if is_binary(data):
        return AnalysisResult()
    ids = frozenset(rule_yaml(RULES_FILE).get("credential_rules") or [])
    out = AnalysisResult()
    for m in scan_text(data.decode("utf-8", errors="replace"), rule_ids=ids):
        out.findings.append(finding("baseline-plaintext-credential", m.masked, file.path, file.layer, m.line, m.rule.title))
    return out


class BaselineFileAnalyzer(Analyzer):
    """Shadow, passwd, sshd config and configuration-file checks."""

    name = "files/baseline"
    version = 2  # 2: shadow file time budget and check-budget warning
    tags = frozenset({"baseline"})
    max_size = 4 * 1024 * 1024

    def wants(self, path: str, info: FileMeta) -> bool:
        """The account databases, sshd configs and configuration files."""
        if info.kind not in ("file", "hardlink"):
            return False
        return path in ("/etc/shadow", "/etc/passwd") or bool(_SSHD.match(path)) or bool(_config_re().search(path))

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Dispatch on the path; malformed content gives a warning, never an exception."""
        try:
            if file.path == "/etc/shadow":
                res = check_shadow(file)
            elif file.path == "/etc/passwd":
                res = check_passwd(file)
            elif _SSHD.match(file.path):
                res = check_sshd(file)
            else:
                res = check_config(file)
        except Exception as exc:  # noqa: BLE001 - malformed input must never escape an analyzer
            return AnalysisResult(warnings=[ScanWarning("malformed-file", f"baseline check failed: {exc}", file.path, file.layer)])
        return res if (res.findings or res.warnings) else None

    def cache_salt(self) -> str:
        """Digest of the baseline rules, the dictionary and the secret rules it reuses."""
        return rules_digest(RULES_FILE, WORDS_FILE, SECRET_RULES)


class PermissionAnalyzer(Analyzer):
    """File modes: world-writable entries (findings) and setuid/setgid files (the ``setuid`` fact)."""

    name = "files/permissions"
    version = 1
    tags = frozenset({"baseline"})
    metadata_only = True
    kinds = frozenset({"file", "dir"})

    def wants(self, path: str, info: FileMeta) -> bool:
        """Files with setuid/setgid bits; files and directories writable by others (directories without sticky)."""
        if info.kind == "file":
            return bool(info.mode & 0o6000) or bool(info.mode & 0o002)
        if info.kind == "dir":
            return bool(info.mode & 0o002) and not info.mode & 0o1000
        return False

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Uses ``file.info`` only (never reads the content)."""
        info = file.info
        out = AnalysisResult()
        if info.kind == "file" and info.mode & 0o6000:
            out.facts["setuid"] = [file.path]
        if info.mode & 0o002 and not (info.kind == "dir" and info.mode & 0o1000):
            out.findings.append(finding("baseline-world-writable", f"{info.kind} {file.path} mode {info.mode & 0o7777:04o}", file.path,
                                        file.layer))
        return out

    def cache_salt(self) -> str:
        """Digest of the baseline rules."""
        return rules_digest(RULES_FILE)
