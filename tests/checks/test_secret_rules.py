"""Secret rules: every rule's own examples, masking, placeholders, allow lists and the analyzer's file handling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files.secrets import (
    MAX_SECRET_FILE,
    SecretAnalyzer,
    builtin_rules,
    compile_rules,
    entropy,
    mask,
    scan_text,
)
from hullscan.model import Category, FileInfo

RULES = builtin_rules().rules


def test_rule_set_is_broad_and_ids_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 180
    for needed in ("aws-access-key-id", "aws-secret-access-key", "alibaba-access-key-id", "alibaba-access-key-secret",
                   "gcp-api-key", "gcp-service-account", "azure-storage-connection-string", "github-pat", "github-oauth",
                   "github-app-token", "github-fine-grained-pat", "gitlab-pat", "slack-token", "slack-webhook",
                   "stripe-secret-key", "twilio-api-key", "sendgrid-api-token", "npm-access-token", "pypi-upload-token",
                   "jwt", "private-key", "url-credentials", "password-assignment", "generic-secret-assignment"):
        assert needed in ids


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.examples_match, f"{rule.id} has no match example"
    assert rule.examples_no_match, f"{rule.id} has no no_match example"
    assert rule.keywords, f"{rule.id} has no keyword prefilter"
    for text in rule.examples_match:
        ids = [m.rule.id for m in scan_text(text)]
        assert rule.id in ids, f"{rule.id} missed {text!r} (got {ids})"
    for text in rule.examples_no_match:
        assert scan_text(text) == [], f"{text!r} matched {[m.rule.id for m in scan_text(text)]}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_examples_never_leak_unmasked(rule) -> None:  # type: ignore[no-untyped-def]
    for text in rule.examples_match:
        for m in scan_text(text):
            secret = text[m.start : m.end]
            assert secret not in m.masked
            assert "*" in m.masked


def test_keyword_prefilter_skips_rules() -> None:
    # a GitHub token without its keyword in the text cannot match: the prefilter decides which rules run
    rules = compile_rules({"rules": [{"id": "t", "title": "t", "keywords": ["zzz"], "regex": "(?P<secret>ab+c)"}]})
    assert scan_text("abbbc", rules) == []
    assert [m.rule.id for m in scan_text("zzz abbbc", rules)] == ["t"]


def test_mask_shapes() -> None:
    assert mask("AKIAQYLPMN7CVWZBT3RS") == "AKI" + "*" * 14 + "3RS"
    assert mask("abcdef").count("*") >= 3
    long = "x" * 500
    assert len(mask(long)) < 40


def test_entropy() -> None:
    assert entropy("aaaaaaaa") == 0.0
    assert entropy("abcd") == 2.0


@pytest.mark.parametrize(
    "text",
    [
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "token: ${GITHUB_TOKEN}",
        "api_key = '<your-api-key>'",
        "password = changeme",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "postgres://user:password@localhost/db",
        "https://me:secret@db.example.com/x",
        "secret_key = '{{ vault_secret }}'",
    ],
)
def test_placeholders_not_reported(text: str) -> None:
    assert scan_text(text) == []


def test_inline_allow_marker() -> None:
    token = "ghp_" + "Ab1" * 12
    assert scan_text(f"t = '{token}'")
    assert scan_text(f"t = '{token}'  # hullscan:allow") == []


def test_code_needs_quoted_values_for_generic_rules() -> None:
    line = "password = compute_the_password_hash1"
    assert [m.rule.id for m in scan_text("db_password = Zq8vX2mK9pLr")] == ["password-assignment"]
    assert scan_text("password = Zq8vX2mK9pLr", code=True) == []
    assert [m.rule.id for m in scan_text('password = "Zq8vX2mK9pLr"', code=True)] == ["password-assignment"]
    assert scan_text(line) == []


def test_line_numbers_and_overlaps() -> None:
    key = "AKIA" + "QYLPMN7CVWZBT3RS"
    text = f"a\nb\nexport AWS_ACCESS_KEY_ID={key}\n"
    matches = scan_text(text)
    assert [(m.rule.id, m.line) for m in matches] == [("aws-access-key-id", 3)]


def _input(path: str, data: bytes, size: int | None = None) -> tuple[FileInput, FileInfo]:
    f = FileInput.from_bytes(path, data, layer="sha256:l1")
    return f, FileInfo(path=path, size=len(data) if size is None else size)


def test_analyzer_reports_masked_findings_with_layer() -> None:
    token = "glpat-" + "aB3dE6gH9jK2mN5pQ8sT"
    f, info = _input("/etc/app/gitlab.yml", f"gitlab:\n  token: {token}\n".encode())
    a = SecretAnalyzer()
    assert a.wants(f.path, info)
    res = a.analyze(f)
    assert res is not None
    [finding] = res.findings
    assert finding.id == "secret-gitlab-pat"
    assert finding.category is Category.SENSITIVE
    assert (finding.location.path, finding.location.line, finding.location.layer) == ("/etc/app/gitlab.yml", 2, "sha256:l1")
    assert token not in finding.evidence and token not in finding.description and token not in finding.title
    assert finding.remediation


def test_analyzer_skips_binaries_docs_big_and_vendored_tests() -> None:
    a = SecretAnalyzer()
    token = b"ghp_" + b"Ab1" * 12
    binary, _ = _input("/app/tool", b"\x7fELF\0\0" + token)
    assert a.analyze(binary) is None
    for path in ("/usr/share/doc/x/README", "/usr/lib/python3/dist-packages/pkg/tests/test_x.py",
                 "/app/node_modules/lib/test/fixture.js", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/app/x.png"):
        assert not a.wants(path, FileInfo(path=path, size=100)), path
    assert not a.wants("/app/big.txt", FileInfo(path="/app/big.txt", size=MAX_SECRET_FILE + 1))
    assert not a.wants("/app/dir", FileInfo(path="/app/dir", size=0, kind="dir"))
    assert a.wants("/app/settings.py", FileInfo(path="/app/settings.py", size=100))


def test_analyzer_survives_garbage() -> None:
    a = SecretAnalyzer()
    f, _ = _input("/app/weird.txt", bytes(range(1, 256)) * 50 + "\udcff".encode("utf-8", "surrogatepass"))
    res = a.analyze(f)
    assert res is None or not res.findings


def test_cache_salt_is_rule_digest() -> None:
    salt = SecretAnalyzer().cache_salt()
    assert re.fullmatch(r"[0-9a-f]{16}", salt)


USER_CONFIG = """
rules:
  - id: acme-deploy-token
    title: ACME deploy token
    severity: HIGH
    keywords: [acme_]
    regex: '(?P<secret>acme_[0-9a-f]{32})'
disable: [jwt]
allow:
  paths: ['^/srv/fixtures/']
  patterns: ['^acme_0{32}$']
"""


def test_user_secret_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hullscan.options import ScanOptions

    cfg = tmp_path / "secrets.yaml"
    cfg.write_text(USER_CONFIG)
    a = SecretAnalyzer()
    plain_salt = a.cache_salt()
    a.configure(ScanOptions(plugin_settings={"secret": {"config": str(cfg)}}))
    assert a.cache_salt() != plain_salt
    token = "acme_" + "0123456789abcdef" * 2
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ik.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    res = a.analyze(FileInput.from_bytes("/app/deploy.env", f"T={token}\nJ={jwt}\nZ=acme_{'0' * 32}\n".encode()))
    assert res is not None and [f.id for f in res.findings] == ["secret-acme-deploy-token"]
    assert not a.wants("/srv/fixtures/keys.txt", FileInfo(path="/srv/fixtures/keys.txt", size=10))
    assert [m.rule.id for m in scan_text(f"J={jwt}")] == ["jwt"]  # the shipped rules are unchanged
    from hullscan.analyzers.files.sensitive import SensitiveFileAnalyzer

    s = SensitiveFileAnalyzer()
    assert s.wants("/srv/fixtures/.env", FileInfo(path="/srv/fixtures/.env", size=10))
    s.configure(ScanOptions(plugin_settings={"secret": {"config": str(cfg)}}))
    assert not s.wants("/srv/fixtures/.env", FileInfo(path="/srv/fixtures/.env", size=10))
    assert s.wants("/app/.env", FileInfo(path="/app/.env", size=10)) and "+" in s.cache_salt()


def test_a_user_secret_config_is_read_once_for_both_analyzers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The secret and sensitive-file analyzers of a scan share the config's rules (and the allow list's last answer);
    an edited file is read anew, a missing one is an InputError naming it."""
    from hullscan.analyzers.files.sensitive import SensitiveFileAnalyzer
    from hullscan.errors import InputError
    from hullscan.options import ScanOptions

    cfg = tmp_path / "secrets.yaml"
    cfg.write_text(USER_CONFIG)
    options = ScanOptions(plugin_settings={"secret": {"config": str(cfg)}})
    a, s = SecretAnalyzer(), SensitiveFileAnalyzer()
    a.configure(options)
    s.configure(options)
    assert a.rules is not None and a.rules is s.allow and a.cache_salt().split("+")[1] == s.cache_salt().split("+")[1]
    cfg.write_text(USER_CONFIG.replace("['^/srv/fixtures/']", "['^/srv/fixtures/', '^/srv/more/']"))
    b = SecretAnalyzer()
    b.configure(options)
    assert b.rules is not a.rules and b.config_digest != a.config_digest
    assert not b.wants("/srv/more/x.txt", FileInfo(path="/srv/more/x.txt", size=10))
    assert a.wants("/srv/more/x.txt", FileInfo(path="/srv/more/x.txt", size=10))
    with pytest.raises(InputError) as err:
        SecretAnalyzer().configure(ScanOptions(plugin_settings={"secret": {"config": str(tmp_path / "missing.yaml")}}))
    assert "missing.yaml" in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["rules: [{id: x}]\n", "rules: [{id: jwt, title: t, regex: 'a'}]\n", "rules: [{id: x, title: t, regex: '(' }]\n",
     "allow: {paths: ['(']}\n", "allow: {paths: ['(?i)^/srv/']}\n", "other: 1\n", "- a\n"],
)
def test_bad_user_secret_config(tmp_path, text: str) -> None:  # type: ignore[no-untyped-def]
    from hullscan.errors import InputError
    from hullscan.options import ScanOptions

    cfg = tmp_path / "secrets.yaml"
    cfg.write_text(text)
    with pytest.raises(InputError) as err:
        SecretAnalyzer().configure(ScanOptions(plugin_settings={"secret": {"config": str(cfg)}}))
    assert str(cfg) in str(err.value)



@settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=200), after=st.text(max_size=200),
       body=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=36, max_size=36))
def test_any_text_never_raises_and_never_leaks(before: str, after: str, body: str) -> None:
    token = "ghp_" + body
    text = f"{before}\ntoken: {token}\n{after}"
    for m in scan_text(text):
        assert token not in m.masked
    res = SecretAnalyzer().analyze(FileInput.from_bytes("/app/x.txt", text.encode("utf-8", "surrogatepass")))
    for f in res.findings if res else []:
        assert token not in f.evidence + f.description
