"""Hostile inputs found by the issue-5 audit: each must end in a report quickly, never a hang.

Before the fixes, a 400 KB single-line file of near-miss keys took 3 s (quadratic: every match looked
for its line's bounds and number from the start of the text) and a 10 MB one never finished; a shadow file
with thousands of sha512-crypt accounts spent ~0.2 s per account on the dictionary (10,000 accounts:
about half an hour)."""

from __future__ import annotations

import random
import string
import time

from hullscan.analyzers.files.secrets import scan_text

AN = string.ascii_letters + string.digits


def near_miss_line(size: int, seed: int = 3) -> tuple[str, list[str]]:
    """One line of ``size`` characters of near-miss keys (too short, placeholders, keywords without values)
    with three real-shaped secrets spread through it; returns (text, the secret values)."""
    rng = random.Random(seed)
    shapes = [
        lambda: "AKIA" + "".join(rng.choice(string.ascii_uppercase) for _ in range(15)),
        lambda: "ghp_" + "".join(rng.choice(AN) for _ in range(35)),
        lambda: "password=",
        lambda: "aws_secret_access_key=" + "".join(rng.choice(AN) for _ in range(39)),
        lambda: "eyJhbGciOi.",
        lambda: "xoxb-123-",
        lambda: "-----BEGIN RSA PRIVATE KEY-----",
        lambda: "token: '",
    ]
    parts: list[str] = []
    secrets = ["ghp_" + "".join(rng.choice(AN) for _ in range(36)) for _ in range(3)]
    total = 0
    while total < size:
        part = rng.choice(shapes)() + " "
        parts.append(part)
        total += len(part)
    for i, secret in enumerate(secrets):
        parts.insert((i + 1) * len(parts) // 4, f"GITHUB_TOKEN={secret} ")
    return "".join(parts), secrets


def test_long_single_line_of_near_misses_is_linear() -> None:
    small, _ = near_miss_line(125_000)
    big, secrets = near_miss_line(1_000_000)
    t0 = time.perf_counter()
    scan_text(small)
    t_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = scan_text(big)
    t_big = time.perf_counter() - t0
    # 8x the input: linear is ~8x the time; the quadratic version was ~64x (and > 30 s here)
    assert t_big < max(20 * t_small, 1.0), (t_small, t_big)
    assert t_big < 8.0
    github = [m for m in found if m.rule.id.startswith("github")]
    assert {m.line for m in github} == {1}
    assert len(github) >= 3
    for m in found:
        for secret in secrets:
            assert secret not in m.masked


def test_shadow_with_thousands_of_accounts_stops_at_the_file_budget(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from hullscan.analyzers.base import FileInput
    from hullscan.analyzers.files import baseline
    from hullscan.analyzers.files.baseline import BaselineFileAnalyzer

    def passwd(word: str) -> str:
        return subprocess.run(["openssl", "passwd", "-6", word], capture_output=True, text=True, check=True).stdout.strip()

    weak, strong = passwd("letmein"), passwd("Kq2#vX9!zTm4-wR7")
    lines = ["root:*:19000:0:99999:7:::", f"first:{weak}:19000:0:99999:7:::"]
    lines += [f"u{i}:{strong}:19000:0:99999:7:::" for i in range(3000)]
    lines.append(f"last:{weak}:19000:0:99999:7:::")
    monkeypatch.setattr(baseline, "FILE_BUDGET", 1.0)
    t0 = time.perf_counter()
    res = BaselineFileAnalyzer().analyze(FileInput.from_bytes("/etc/shadow", ("\n".join(lines) + "\n").encode(), layer="sha256:l"))
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0 + 2 * baseline.ACCOUNT_BUDGET
    assert res is not None
    weak_found = [f for f in res.findings if f.id == "baseline-weak-password"]
    assert [f.location.line for f in weak_found] == [2]
    assert "letmein" not in weak_found[0].evidence
    (warning,) = [w for w in res.warnings if w.code == "check-budget"]
    assert "not checked" in warning.message and warning.path == "/etc/shadow"


def test_unpack_budget_is_shared_by_all_nesting_levels() -> None:
    import gzip
    import io
    import zipfile

    from hullscan.analyzers.files.malware import MAX_UNPACKED, unpack

    bomb = gzip.compress(b"\0" * (MAX_UNPACKED + (1 << 20)), 9)  # each member inflates past the whole budget
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(8):
            zf.writestr(f"m{i}.gz", bomb)
    total = sum(len(b) for _, b in unpack(buf.getvalue()))
    # before: each gzip member had its own 64 MiB budget (8 x 64 MiB here, 6.4 GB for a 10 MB zip of 100)
    assert total <= MAX_UNPACKED + 8 * len(bomb)


def test_archives_nested_too_deep_are_a_warning() -> None:
    import io
    import zipfile

    from hullscan.analyzers.base import FileInput
    from hullscan.analyzers.files.malware import MalwareAnalyzer
    from tests.checks.test_malware import EICAR

    def zipped(name: str, data: bytes) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name, data)
        return buf.getvalue()

    shallow = zipped("eicar.com", EICAR)
    res = MalwareAnalyzer().analyze(FileInput.from_bytes("/app/shallow.zip", shallow, layer="sha256:l"))
    assert res is not None and [f.id for f in res.findings] and not res.warnings
    data, name = EICAR, "eicar.com"
    for i in range(50):
        data, name = zipped(name, data), f"l{i}.zip"
    t0 = time.perf_counter()
    res = MalwareAnalyzer().analyze(FileInput.from_bytes("/app/deep.zip", data, layer="sha256:l"))
    assert time.perf_counter() - t0 < 2.0
    assert res is not None and not res.findings
    (warning,) = res.warnings
    assert warning.code == "nesting-limit" and warning.path == "/app/deep.zip" and "l48.zip!l47.zip" in warning.message


def test_non_utf8_text_is_scanned_and_masked() -> None:
    from hullscan.analyzers.base import FileInput
    from hullscan.analyzers.files.secrets import SecretAnalyzer

    token = "ghp_" + "".join(random.Random(5).choice(AN) for _ in range(36))
    stripe = "sk_live_" + "".join(random.Random(6).choice(AN) for _ in range(24))
    files = {
        "/app/latin1.conf": f"name=caf\u00e9\nGITHUB_TOKEN={token}\n".encode("latin-1"),
        "/app/win.env": f"STRIPE_KEY={stripe}\r\nGITHUB_TOKEN={token}\r\n".encode("utf-16"),  # BOM + UTF-16-LE
        "/app/junk.env": b"\xff\xfd\xc3\x28" * 500 + f"\nGITHUB_TOKEN={token}\n".encode(),
    }
    for path, data in files.items():
        res = SecretAnalyzer().analyze(FileInput.from_bytes(path, data, layer="sha256:l"))
        assert res is not None, path
        ids = {(f.id, f.location.line) for f in res.findings}
        assert ("secret-github-pat", 2) in ids, (path, ids)
        for f in res.findings:
            assert token not in f.evidence and stripe not in f.evidence


def test_no_secret_rule_backtracks_on_repeated_keywords() -> None:
    """Every rule on 128 KiB of its own keyword repeated and of keyword + an endless value: linear rules
    take a few ms to ~70 ms here; a catastrophically backtracking one takes seconds. (The 58 keyed rules
    ``<key>[a-z0-9_.-]{0,25}+`` use a possessive quantifier: etsy-token on 1 MiB went 825 -> 89 ms.)"""
    from hullscan.analyzers.files import secrets

    size = 128 * 1024
    slow = []
    for rule in secrets.builtin_rules().rules:
        kw = (rule.keywords or ("key",))[0]
        for text in ((kw * (size // len(kw) + 1))[:size], kw + ' = "' + "a1B/" * (size // 4)):
            t0 = time.perf_counter()
            for _ in secrets._matches(rule, text, text.lower()):
                pass
            if (dt := time.perf_counter() - t0) > 0.3:
                slow.append((rule.id, round(dt, 2)))
    assert not slow



def test_no_secret_rule_backtracks_on_chained_assignments() -> None:
    """Every rule on 512 KiB of ``<keyword>=`` repeated, where each value is the next assignment: the bounded
    value runs of the generic rules are possessive, so a failed value costs one pass over it (here: 0.49 s in
    password-assignment and 0.25 s in generic-secret-assignment before, ~0.11 s and ~0.10 s now)."""
    from hullscan.analyzers.files import secrets

    size = 512 * 1024
    slow = []
    for rule in secrets.builtin_rules().rules:
        for kw in rule.keywords[:2]:
            text = ((kw + "=") * (size // (len(kw) + 1) + 1))[:size]
            t0 = time.process_time()
            for _ in secrets._matches(rule, text, text.lower()):
                pass
            if (dt := time.process_time() - t0) > 0.3:
                slow.append((rule.id, kw, round(dt, 2)))
    assert not slow

def test_findings_per_file_are_capped_with_a_warning() -> None:
    from hullscan.analyzers.base import FileInput
    from hullscan.analyzers.files.secrets import MAX_FINDINGS_PER_FILE, SecretAnalyzer

    rng = random.Random(9)
    tokens = ["ghp_" + "".join(rng.choice(AN) for _ in range(36)) for _ in range(MAX_FINDINGS_PER_FILE + 50)]
    data = "".join(f"TOKEN_{i}={t}\n" for i, t in enumerate(tokens)).encode()
    res = SecretAnalyzer().analyze(FileInput.from_bytes("/app/generated.env", data, layer="sha256:l"))
    assert res is not None
    assert len(res.findings) == MAX_FINDINGS_PER_FILE
    assert [f.location.line for f in res.findings] == list(range(1, MAX_FINDINGS_PER_FILE + 1))
    (warning,) = res.warnings
    assert warning.code == "too-many-findings" and warning.message.startswith("50 more secret matches")
    assert "github-pat x50" in warning.message


def test_keyword_windows_cost_one_step_per_window_not_per_occurrence() -> None:
    """A line-scoped rule looks at windows around its keywords: a 1 MiB line of nothing but the keyword is one
    window, found without visiting each of its ~350,000 occurrences (that visit took ~0.25 s per rule)."""
    from hullscan.analyzers.files import secrets

    size = 1024 * 1024
    for rule in secrets.builtin_rules().rules:
        if not rule.line_scope:
            continue
        kw = rule.keywords[0]
        text = (kw * (size // len(kw) + 1))[:size]
        t0 = time.process_time()
        windows = secrets._keyword_windows(rule, text)
        dt = time.process_time() - t0
        assert windows == [(0, len(text))], rule.id
        assert dt < 0.05, (rule.id, dt)
    # windows on other lines, and far apart on one line, stay apart; near ones merge
    rule = next(r for r in secrets.builtin_rules().rules if r.id == "aws-secret-access-key")
    text = "aws" + "x" * 1000 + "aws" + "x" * 100 + "aws\naws"  # keywords at 0, 1003, 1106 (line ends at 1109), 1110
    assert secrets._keyword_windows(rule, text) == [(0, 320), (1003 - 48, 1109), (1110, 1113)]
