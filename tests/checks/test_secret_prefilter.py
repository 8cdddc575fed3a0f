"""The keyword prefilter of the secret scanner: the yara-x automaton, the substring fallback and the byte-level
lower-casing must pick the same rules as lower-casing the decoded text would, so no secret is missed."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files.rulefiles import rule_yaml
from hullscan.analyzers.files.secrets import (
    _SUBSTRING_CALL,
    _SUBSTRING_WORK,
    SecretAnalyzer,
    _KeywordIndex,
    ascii_lower,
    builtin_rules,
    compile_rules,
    scan_bytes,
    scan_text,
)

INDEX = builtin_rules().index
TOKEN = "ghp_" + "Ab1" * 12


def _by_decoding(data: bytes, index: _KeywordIndex = INDEX) -> set[str]:
    """The keywords in the decoded, str-lower-cased text: what the prefilter must find."""
    lower = data.decode("utf-8", errors="replace").lower()
    return {kw for kw in index.keywords if kw in lower}


def _found(index: _KeywordIndex, lower: bytes) -> set[str]:
    """The keywords the automaton finds in ``lower`` (built first: the first texts are searched keyword by keyword)."""
    assert index._build() is not None  # yara-x is installed and compiles the keywords
    return {index.keywords[i] for i in index.present(lower)}


def _found_by_substring(index: _KeywordIndex, lower: bytes) -> set[str]:
    return {index.keywords[i] for i in index.present_by_substring(lower)}


def _random_text(rng: random.Random, words: list[str]) -> bytes:
    pieces = [*words, " ", "\n", "=", "x", "Ab", "K", "\u212a", "\u0130", "\u00e9", "\ufffd"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
    if rng.random() < 0.5:
        text = text.upper()
    return text.encode("utf-8")


def test_automaton_and_substring_search_agree_on_every_keyword() -> None:
    rng = random.Random(11)
    words = list(INDEX.keywords)
    for _ in range(400):
        data = _random_text(rng, words) + b" " * rng.choice((0, 300))
        lower = ascii_lower(data)
        assert _found(INDEX, lower) == _found_by_substring(INDEX, lower) == _by_decoding(data)
    assert _found(INDEX, ascii_lower(b"nothing to see here " * 20)) == set()


def test_keywords_with_quotes_backslashes_and_non_ascii_reach_the_automaton() -> None:
    odd = ['"auth"', "a\\b", "caf\u00e9_key", "x\ty"]
    rules = compile_rules({"rules": [{"id": f"r{i}", "title": "t", "keywords": [kw], "regex": "(?P<secret>zz+)"}
                                     for i, kw in enumerate(odd)]})
    index = rules.index
    for kw in odd:
        data = ("." * 300 + kw + "." * 10).encode("utf-8")
        assert _found(index, ascii_lower(data)) == _by_decoding(data, index) == {kw.lower()}, kw
    # an upper-case non-ASCII letter is lower-cased only in the decoded text: such rule sets scan decoded text
    assert not index.ascii and INDEX.ascii
    data = ("." * 300 + "CAF\u00c9_KEY = zzzz\n").encode("utf-8")
    assert [m.rule.id for m in scan_bytes(data, rules)] == ["r2"]


def test_the_first_texts_are_searched_keyword_by_keyword_then_the_automaton_is_built() -> None:
    """An image whose few scanned texts are small never pays for yara-x (import and compile); past
    ``_SUBSTRING_WORK`` the automaton is built, and finds what the substring tests found."""
    index = compile_rules(rule_yaml("secrets.yaml")).index
    text = ascii_lower(b"password = x\n" * 20)
    expected = _found_by_substring(index, text)
    assert expected and index.keywords.index("pass") in index.present(text)
    budget = _SUBSTRING_WORK // ((len(text) + _SUBSTRING_CALL) * len(index.keywords))
    for _ in range(budget - 1):
        assert {index.keywords[i] for i in index.present(text)} == expected
    assert not index._built
    big = text * 1000  # more than the rest of the budget at once
    assert {index.keywords[i] for i in index.present(big)} == expected
    assert index._built and index._automaton is not None


def test_byte_lower_casing_folds_like_str_lower() -> None:
    # KELVIN SIGN lower-cases to "k" and I WITH DOT ABOVE to "i" + U+0307: both reach ASCII keywords
    assert ascii_lower("\u212aEY".encode()) == b"key"
    assert ascii_lower("\u0130".encode()) == "\u0130".lower().encode()
    assert ascii_lower(b"\xff\xfeAKIA") == b"\xff\xfeakia"  # invalid UTF-8 untouched, ASCII lower-cased


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(sorted(INDEX.keywords)), st.text(max_size=8), st.binary(max_size=6)),
                max_size=30))
def test_prefilter_never_misses_a_keyword_of_the_decoded_text(parts: list[object]) -> None:
    data = b"".join(p if isinstance(p, bytes) else p.upper().encode("utf-8", "surrogatepass") for p in parts)
    assert _by_decoding(data) <= _found(INDEX, ascii_lower(data))
    assert _by_decoding(data) <= _found_by_substring(INDEX, ascii_lower(data))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["", f"token: {TOKEN}\n", "AWS_ACCESS_KEY_ID=AKIAQYLPMN7CVWZBT3RS\n"]))
def test_scan_bytes_finds_what_scan_text_finds(text: str, secret: str) -> None:
    data = (text + "\n" + secret + text).encode("utf-8", "surrogatepass")
    expected = scan_text(data.decode("utf-8", errors="replace"))
    assert scan_bytes(data) == expected
    if secret:
        assert expected


def test_files_without_keywords_are_skipped_and_secrets_still_found() -> None:
    a = SecretAnalyzer()
    assert a.analyze(FileInput.from_bytes("/app/plain.txt", b"just some words\n" * 1000)) is None
    res = a.analyze(FileInput.from_bytes("/app/one.conf", b"just some words\n" * 1000 + f"TOKEN={TOKEN}\n".encode()))
    assert res is not None and [(f.id, f.location.line) for f in res.findings] == [("secret-github-pat", 1001)]


def test_keyword_anchored_rules_match_as_finditer_does() -> None:
    """Rules opening with a key group of literal keywords are tried only where a keyword occurs (on ASCII text):
    the matches must be those of ``finditer`` over the whole text, with sparse and with dense keywords."""
    from hullscan.analyzers.files.secrets import _matches

    rules = [r for r in builtin_rules().rules if r.anchors]
    assert len(rules) >= 50
    rng = random.Random(5)
    with_matches = 0
    for _ in range(6000):
        rule = rng.choice(rules)
        pieces = [*rule.anchors, *(a.upper() for a in rule.anchors), *rule.examples_match, *rule.examples_no_match,
                  "_", "-", ".", " ", "=", ":", '"', "'", "\n", "x", "Ab3", "key", "token", "secret"]
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.1:  # more occurrences than are worth one match each: the finditer pass
            text = (rng.choice(rule.anchors) + "_") * rng.randint(10, 300) + text
        if not text.isascii():
            continue
        lower = text.lower()
        present = frozenset(kw for kw in rule.keywords if kw in lower)
        expected = [(m.span(), m.groupdict()) for m in rule.regex.finditer(text)]
        assert [(m.span(), m.groupdict()) for m in _matches(rule, text, lower, None, present, True)] == expected, (rule.id, text)
        with_matches += bool(expected)
    assert with_matches > 1000


def test_keyword_anchors_are_read_only_from_plain_key_groups() -> None:
    rules = {r.id: r for r in builtin_rules().rules}
    assert rules["lob-api-key"].anchors == ("lob",)
    assert rules["atlassian-api-token-keyed"].anchors == ("atlassian", "confluence", "jira")
    for rule_id in ("azure-devops-pat", "tencent-cloud-secret-key", "password-assignment", "github-pat", "jwt"):
        assert rules[rule_id].anchors == (), rule_id  # optional characters, a tail inside the key, or no key group
    # non-ASCII text takes the plain finditer path ("\u017f" is an "s" to a case-insensitive regex, not to lower())
    rule = rules["sumologic-access-key"]
    text = rule.examples_match[0].replace("sumo", "\u017fumo", 1) + "\nsumo"
    assert [m.span("secret") for m in rule.regex.finditer(text)] == [(19, 83)]
    assert [(m.rule.id, m.start, m.end) for m in scan_text(text)] == [("sumologic-access-key", 19, 83)]


def _real_paths() -> list[str]:
    from pathlib import Path

    return [line for f in sorted(Path("/var/lib/dpkg/info").glob("*.list"))
            for line in f.read_text(errors="replace").splitlines() if line.startswith("/")]


#: paths made to match the sensitive items and the allow list, and odd ones (newlines, no "/")
MADE = ["/root/.ssh/id_rsa", "/root/.ssh/id_ed25519_sk", "/home/u/.ssh/config", "/.ssh/x", ".ssh/x", "/etc/ssh/ssh_host_rsa_key",
        "/x/etc/ssh/ssh_host_rsa_key", "/app/tls/server.key", "/app/private/x", "/a/b.p12", "/a/.gnupg/secring.gpg",
        "/a/.gnupg/private-keys-v1.d/AB.key", "/root/.netrc", "/root/_netrc", "/root/.pgpass", "/root/.git-credentials",
        "/root/.config/git/credentials", "/etc/nginx/.htpasswd", "/etc/htpasswd.users", "/root/.kube/config", "/kubeconfig",
        "/a/kubeconfig-prod", "/a/x.kubeconfig", "/etc/kubernetes/admin.conf", "/root/.docker/config.json", "/root/.dockercfg",
        "/root/.aws/credentials", "/root/.aliyun/config.json", "/root/.alibabacloud/credentials.ini", "/app/sa.json",
        "/root/.config/gcloud/legacy_credentials/a@b/adc.json", "/root/.config/gcloud/credentials.db", "/root/.azure/accessTokens.json",
        "/root/.terraform.d/credentials.tfrc.json", "/root/.config/gh/hosts.yml", "/root/.m2/settings-security.xml",
        "/root/.cargo/credentials.toml", "/root/.config/hub", "/root/.vault-token", "/app/.env", "/app/.env.production",
        "/root/.bash_history", "/root/.python_history", "/root/.local/share/fish/fish_history", "/root/.zhistory",
        "/srv/db.sql", "/srv/db.sql.gz", "/srv/db.pgdump", "/x.pem", "x.pem", ".env", "/.env", "/a/.env\n", "/a/.env\nb",
        "/a\n/.ssh/k", "/a/b.key\n", "", "/", "//", "/a/.npmrc/", "/.kube/config", "/.KUBE/config", "/a/B.PEM",
        "/usr/share/perl5/x.pod", "/usr/share/perl/5.36/y.pod\n", "/usr/lib/python3/dist-packages/a/tests/k.pem",
        "/opt/app/node_modules/x/README.md", "/app/node_modules/a/docs/k.pem", "/go/pkg/mod/x/testdata/k", "/usr/local/lib/go1.22/src/crypto/k.pem",
        "/usr/lib/python3.11/test/keycert.pem", "/app/CHANGELOG.md", "/app/Examples/k.pem", "/usr/local/go-1.2/misc/x",
        "/opt/x/fixtures/k.pem", "/opt/gitleaks-8/k", "/usr/lib/x86_64-linux-gnu/k.pem", "/lib64/aarch64-linux-gnu/k"]


def _corpus() -> list[str]:
    paths = _real_paths()[:60000] + MADE
    return paths + [p.upper() for p in MADE] + ["/x" + p for p in MADE] + [p + "x" for p in MADE] + [p + "/" for p in MADE]


def _sensitive_rules() -> list:  # type: ignore[type-arg]
    from hullscan.analyzers.files.sensitive import builtin_items

    return [r for item in builtin_items() for r in (*item.path_rules, *item.exclude_rules)]


def test_shipped_path_entries_answer_as_their_regexes_joined() -> None:
    """The allow list and the sensitive-file paths are tried arranged (literals by startswith / endswith, regexes
    behind their declared literals): the answer must be that of every entry's regex joined, on this machine's Debian
    file lists (in order and shuffled), paths made for each entry and odd variants."""

    from hullscan.analyzers.files.paths import PathPatterns

    paths = _corpus()
    assert len(paths) > 2000
    for rules in (builtin_rules().allow_path_rules, _sensitive_rules()):
        joined = re.compile("|".join(f"(?:{r.source})" for r in rules))
        arranged = PathPatterns(rules)
        hits = 0
        for path in (*paths, *random.Random(1).sample(paths, 3000)):
            expected = bool(joined.search(path))
            assert arranged.search(path) == expected, path
            hits += expected
        assert hits > 100


def test_declared_literals_hold_for_every_match_of_their_regex() -> None:
    """A regex with literals beside it is tried only on paths holding one of them: on real and made paths, every
    path its regex matches holds one (else the rule file declares too little and a match would be lost)."""

    rules = [r for r in (*builtin_rules().allow_path_rules, *_sensitive_rules()) if r.regex is not None]
    assert len(rules) >= 20 and all(r.literals for r in rules), "every shipped regex declares its literals"
    paths = [p for p in _corpus() if "\n" not in p]  # (a path holding a newline is always tried with the regex)
    for rule in rules:
        regex = re.compile(rule.regex)
        matched = [p for p in paths if regex.search(p)]
        assert matched, f"{rule.regex}: no path in the corpus matches it (the test would prove nothing)"
        for path in matched:
            assert (path.startswith(rule.prefixes) or path.endswith(rule.suffixes)
                    or any(c in path for c in rule.contains)), (rule, path)


def test_path_entries_parse_and_refuse_what_is_wrong() -> None:
    import pytest

    from hullscan.analyzers.files.paths import PathPatterns, PathRule

    assert PathRule.parse("^/a/") == PathRule(regex="^/a/")
    assert PathRule.parse({"name": [".npmrc", "_netrc"], "prefix": "/etc/"}) == PathRule(prefixes=("/etc/",), suffixes=("/.npmrc", "/_netrc"))
    rule = PathRule.parse({"suffix": ".a$b", "contains": "x.y"})
    assert rule.regex is None and PathPatterns([rule]).search("/q.a$b") and not PathPatterns([rule]).search("/q.aXb")
    for bad, message in [({"prefx": "/a"}, "unknown key"), ({}, "neither a regex nor literal"), ({"suffix": ""}, "non-empty"),
                         ({"regex": 3}, "must be a string"), (["/a"], "a regex string or a mapping"), ({"prefix": [1]}, "non-empty")]:
        with pytest.raises(ValueError, match=message):
            PathRule.parse(bad)
    with pytest.raises(re.error):
        PathRule.parse({"regex": "(", "prefix": "/"})


def test_literal_entries_answer_as_the_regex_they_spell() -> None:
    """Random literal entries (prefixes, suffixes, names, contains; punctuation and regex metacharacters included):
    on random texts (newlines included) the answer is that of ``re.search`` of :attr:`PathRule.source`."""

    from hullscan.analyzers.files.paths import PathPatterns, PathRule

    rng = random.Random(5)
    alphabet = "ab/-_.$\\é#*(["

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))

    texts = ["", "\n", "a", "a\n", "/a/b", "ab/", "a.b", "x\na", "a\nb\n", "é", "$", "\\"]
    texts += ["".join(rng.choice(alphabet + "\n") for _ in range(rng.randint(0, 8))) for _ in range(300)]
    for _ in range(1500):
        raw = {k: [word() for _ in range(rng.randint(1, 3))] for k in rng.sample(["prefix", "suffix", "name", "contains"], rng.randint(1, 3))}
        rule = PathRule.parse(raw)
        regex = re.compile(rule.source)
        arranged = PathPatterns([rule])
        for text in texts:
            assert arranged.search(text) == bool(regex.search(text)), (raw, text)
