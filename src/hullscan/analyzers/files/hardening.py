"""Hardening items of the baseline scanner (``--scanners baseline``; issue 16.5), described in the
``checks`` list and the data keys after ``sshd_more`` in ``rules/baseline.yaml``:

* sudoers (``/etc/sudoers``, ``/etc/sudoers.d/*``): a rule granting ``NOPASSWD: ALL``;
* application configuration files (the baseline ``config_files``): default user/password pairs
  (``default_credentials``) set within a few lines of each other, or in a URL;
* ``UMASK`` in ``/etc/login.defs`` and ``umask`` in the shell profiles: a mask leaving group or others write;
* ``/etc/shadow`` and ``/etc/gshadow`` readable or writable by others (mode only, never read);
* more CIS sshd items (``sshd_more``: X11Forwarding, MaxAuthTries, IgnoreRhosts, HostbasedAuthentication,
  PermitUserEnvironment, Protocol, LoginGraceTime), evaluated like the ``sshd`` list.

Every finding is one check id of ``checks``: ``hullscan checks`` lists them and ``--checks`` /
``--skip-checks`` / the server's check settings turn each on or off like the other baseline items.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hullscan.analyzers.base import Analyzer, FileInput, FileMeta, is_binary
from hullscan.analyzers.files.baseline import RULES_FILE, _config_re
from hullscan.analyzers.files.baseline import finding as _finding
from hullscan.analyzers.files.rulefiles import rule_yaml, rules_digest
from hullscan.model import AnalysisResult, Finding, ScanWarning

_SSHD = re.compile(r"^/etc/ssh/sshd_config(?:\.d/[^/]+\.conf)?$")
_NOPASSWD_ALL = re.compile(r"\bNOPASSWD\s*:\s*(?:(?:[A-Z_]+)\s*:\s*)*ALL\s*$")
_UMASK = re.compile(r"^\s*(?:UMASK|umask)\s+(?:-S\s+)?([0-7]{3,4})\b")
_SEP = r"""(?:["']?\s*(?:[:=]|=>)\s*["']?|>\s*)"""  # key: value, key = "value", key => 'value', <key>value
_USER_KEY = re.compile(
    r"""(?i)(?:^|(?<=[\s{,;"'<]))(?:[a-z0-9]+[_.-])*(?:user(?:name)?|login|account)""" + _SEP + r"""(?P<v>[^\s"'<>,;#]+)""")
_PASS_KEY = re.compile(
    r"""(?i)(?:^|(?<=[\s{,;"'<]))(?:[a-z0-9]+[_.-])*(?:pass(?:word|wd)?|pwd)""" + _SEP + r"""(?P<v>[^\s"'<>,;#]+)""")
_URL_CRED = re.compile(r"[a-z][a-z0-9+.-]*://(?P<u>[^\s:/@]+):(?P<p>[^\s@/]+)@", re.IGNORECASE)
_NEAR = 5  # lines


def _data() -> dict[str, Any]:
    data: dict[str, Any] = rule_yaml(RULES_FILE)
    return data


def finding(check_id: str, evidence: str, path: str, layer: str, line: int = 0, detail: str = "") -> Finding:
    """A baseline finding of the check ``check_id`` (title, severity, remediation from the data file)."""
    return _finding(check_id, evidence, path, layer, line, detail)


def _in(path: str, files_key: str, dirs_key: str) -> bool:
    data = _data()
    return path in (data.get(files_key) or ()) or any(
        path.startswith(d) and "/" not in path[len(d):] for d in data.get(dirs_key) or ())


def check_sudoers(file: FileInput) -> AnalysisResult:
    """Rules ending in ``NOPASSWD: ALL`` (every command, no password), continuation lines joined."""
    out = AnalysisResult()
    text = file.text().replace("\\\n", " ")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith(("#include", "#includedir"))):
            continue
        line = line.split("#", 1)[0].strip() if not line.startswith("#include") else line
        if line.startswith(("Defaults", "#include", "@include", "Cmnd_Alias", "User_Alias", "Host_Alias", "Runas_Alias")):
            continue
        if _NOPASSWD_ALL.search(line):
            who = line.split()[0]
            out.findings.append(finding("baseline-sudo-nopasswd-all", line, file.path, file.layer, lineno,
                                        f"{'everyone' if who == 'ALL' else who} may run any command as root without a password"))
    return out


def check_umask(file: FileInput) -> AnalysisResult:
    """A UMASK / umask that leaves write permission to group or others (the first one set in the file)."""
    out = AnalysisResult()
    for lineno, raw in enumerate(file.text().splitlines(), 1):
        m = _UMASK.match(raw.split("#", 1)[0])
        if not m:
            continue
        mask = int(m.group(1), 8)
        if mask & 0o022 != 0o022:
            out.findings.append(finding("baseline-permissive-umask", raw.strip(), file.path, file.layer, lineno,
                                        f"umask {m.group(1)} lets {'others' if not mask & 0o002 else 'the group'} write new files"))
        break
    return out


def check_shadow_mode(file: FileInput) -> AnalysisResult:
    """Mode only: others may read or write the file."""
    out = AnalysisResult()
    mode = file.info.mode & 0o7777
    if mode & 0o006:
        out.findings.append(finding("baseline-shadow-readable", f"{file.path} mode {mode:04o}", file.path, file.layer,
                                    detail=f"mode {mode:04o}"))
    return out


@functools.cache
def _pairs() -> frozenset[tuple[str, str]]:
    return frozenset((str(u).lower(), str(p)) for u, p in _data().get("default_credentials") or [])


def check_default_credentials(file: FileInput) -> AnalysisResult:
    """Default user/password pairs set near each other, or in a URL. The password is shown masked."""
    out = AnalysisResult()
    data = file.read()
    if is_binary(data):
        return out
    pairs = _pairs()
    users = {u for u, _ in pairs}
    lines = data.decode("utf-8", errors="replace").splitlines()
    user_at: list[tuple[int, str]] = []
    pass_at: list[tuple[int, str]] = []
    reported: set[int] = set()
    for lineno, line in enumerate(lines, 1):
        for m in _URL_CRED.finditer(line):
            if (m.group("u").lower(), m.group("p")) in pairs:
                out.findings.append(_cred_finding(file, lineno, m.group("u"), m.group("p")))
                reported.add(lineno)
        user_at += [(lineno, u.group("v")) for u in _USER_KEY.finditer(line) if u.group("v").lower() in users]
        pass_at += [(lineno, p.group("v")) for p in _PASS_KEY.finditer(line)]
    for pline, pw in pass_at:
        if pline in reported:
            continue
        near = [(abs(pline - uline), uline, user) for uline, user in user_at if abs(pline - uline) <= _NEAR]
        for _dist, _uline, user in sorted(near):
            if (user.lower(), pw) in pairs:
                out.findings.append(_cred_finding(file, pline, user, pw))
                reported.add(pline)
                break
    return out


def _cred_finding(file: FileInput, line: int, user: str, password: str) -> Finding:
    shown = password[0] + "*" * max(len(password) - 1, 2)
    return finding("baseline-default-credentials", f"{user} / {shown}", file.path, file.layer, line,
                   f"user {user!r} with its well-known default password")


def check_sshd_more(file: FileInput) -> AnalysisResult:
    """The ``sshd_more`` settings (first value of a keyword wins, ``Match`` blocks ignored, as in sshd)."""
    out = AnalysisResult()
    rules = {r["keyword"]: r for r in _data().get("sshd_more") or []}
    seen: set[str] = set()
    for lineno, raw in enumerate(file.text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(r"[\s=]+", line, maxsplit=1)
        keyword = parts[0].lower()
        if keyword == "match":
            break
        if keyword in seen:
            continue
        seen.add(keyword)
        rule = rules.get(keyword)
        if rule is None:
            continue
        value = parts[1].strip().lower() if len(parts) > 1 else ""
        if "max" in rule:
            number = _seconds(value) if keyword == "logingracetime" else (int(value) if value.isdigit() else None)
            bad = number is not None and (number > int(rule["max"]) or (keyword == "logingracetime" and number == 0))
        else:
            bad = value.replace(" ", "") in [str(v).lower() for v in rule["bad"]]
        if bad:
            out.findings.append(finding(rule["check"], raw.strip(), file.path, file.layer, lineno))
    return out


def _seconds(value: str) -> int | None:
    """sshd time format: ``90``, ``2m``, ``1m30s``."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?", value)
    if not m or not value:
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


class HardeningAnalyzer(Analyzer):
    """sudoers, UMASK, shadow modes, default credentials and the extra sshd items."""

    name = "files/hardening"
    version = 1
    tags = frozenset({"baseline"})
    kinds = frozenset({"file"})
    max_size = 4 * 1024 * 1024

    def wants(self, path: str, info: FileMeta) -> bool:
        """sudoers, profiles, login.defs, shadow files, sshd configs and configuration files."""
        return (_in(path, "sudoers_files", "sudoers_dirs") or _in(path, "umask_files", "umask_dirs")
                or path in (_data().get("shadow_files") or ()) or bool(_SSHD.match(path)) or bool(_config_re().search(path)))

    def analyze(self, file: FileInput) -> AnalysisResult | None:
        """Dispatch on the path; malformed content gives a warning, never an exception."""
        path = file.path
        try:
            if path in (_data().get("shadow_files") or ()):
                res = check_shadow_mode(file)
            elif _in(path, "sudoers_files", "sudoers_dirs"):
                res = check_sudoers(file)
            elif _in(path, "umask_files", "umask_dirs"):
                res = check_umask(file)
            elif _SSHD.match(path):
                res = check_sshd_more(file)
            else:
                res = check_default_credentials(file)
        except Exception as exc:  # noqa: BLE001 - malformed input must never escape an analyzer
            return AnalysisResult(warnings=[ScanWarning("malformed-file", f"hardening check failed: {exc}", path, file.layer)])
        return res if (res.findings or res.warnings) else None

    def cache_salt(self) -> str:
        """Digest of the baseline rules (where the hardening data lives)."""
        return rules_digest(RULES_FILE)
