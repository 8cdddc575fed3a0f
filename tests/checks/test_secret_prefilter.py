"""The keyword prefilter of the secret scanner: the yara-x automaton, the substring fallback and the byte-level
lower-casing must pick the same rules as lower-casing the decoded text would, so no secret is missed."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files import rule_yaml
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


def test_allow_listed_paths_answer_as_one_joined_regex() -> None:
    """The allow list is tried in parts (``^``-anchored regexes with ``match``, directory-only ones once per
    directory, the rest with ``search``): the answer must be that of all of them joined, on this machine's Debian
    file lists (in order and shuffled) and odd variants."""
    import re
    from pathlib import Path

    from hullscan.analyzers.files import PathPatterns, _anchored_at_start, _directory_only

    for pattern, anchored in [("^/usr/", True), ("^(?:a|b)/", True), ("^[|]x", True), ("^[]|]x", True), ("^/a|/b", False),
                              ("^\\|x|y", False), ("^a(b|c)|d", False), ("/x", False)]:
        assert _anchored_at_start(pattern) == anchored, pattern
    for pattern, by_directory in [("^/usr/share/doc/", True), ("/testdata/", True), ("/x/|\\.md$", False), ("\\.md$", False),
                                  ("/a(?=b)/", False), ("^/usr/lib/(?:udev|systemd)", False)]:
        assert _directory_only(pattern) == by_directory, pattern
    sources = builtin_rules().allow_path_sources
    joined = re.compile("|".join(f"(?:{p})" for p in sources))
    paths = [line for f in sorted(Path("/var/lib/dpkg/info").glob("*.list"))[:200]
             for line in f.read_text(errors="replace").splitlines() if line.startswith("/")]
    paths += ["/x" + p for p in paths[:500]] + [p.upper() for p in paths[:500]] + ["", "/", "/app/README.md", "/app/.env"]
    assert len(paths) > 2000
    for order in (paths, random.Random(1).sample(paths, len(paths))):
        allow = PathPatterns(sources)
        for path in order:
            assert allow.search(path) == bool(joined.search(path)), path


def test_where_matches_lie_is_read_from_the_parsed_regex() -> None:
    from hullscan.analyzers.files import _in_last_component

    cases = {
        "/\\.npmrc$": "name", "/id_(?:rsa|dsa)(?:_sk)?$": "name", "/\\.?htpasswd[^/]*$": "name", "/x\\Z": "name",
        "/(?:a|b\\.c)$": "name", "(?<=/)/x$": "name", "/[^/]{1,3}$": "name",
        "\\.(?:key|pem)$": "part", "_test\\.go$": "part", "[a-z]+$": "part", "\\D$": None, "\\d+$": "part",
        "(?:a$|b$)": "part", "a(?=/x)$": "part",
        "/\\.ssh/[^/]+$": None, "\\.json": None, "/a/\\.x$": None, "/[^x]$": None, "/.$": None, "/x/?$": None,
        "(?:a$|b)": None, "(a)\\1$": None, "[!-0]x$": None, "\\W$": None, "a$(?=x)": None, "/a$|/b/c$": None,
        "\\$": None, "x/(?:a|b)*$": None, "/x(?:/y)?$": None,
    }
    for pattern, where in cases.items():
        assert _in_last_component(pattern) == where, pattern


def test_path_regexes_in_the_last_component_answer_as_one_joined_regex() -> None:
    """The sensitive-file paths are mostly tried in the last component of a path (with ``match`` at the last ``/``
    or ``search`` after it): the answer must be that of all of them joined, on real paths, paths made to match each
    item, and odd ones (newlines, no ``/``, upper case)."""
    import re
    from pathlib import Path

    from hullscan.analyzers.files import PathPatterns
    from hullscan.analyzers.files.sensitive import builtin_items

    sources = [p for item in builtin_items() for p in item.path_sources]
    joined = re.compile("|".join(f"(?:{p})" for p in sources))
    paths = [line for f in sorted(Path("/var/lib/dpkg/info").glob("*.list"))[:200]
             for line in f.read_text(errors="replace").splitlines() if line.startswith("/")]
    made = ["/root/.ssh/id_rsa", "/root/.ssh/id_ed25519_sk", "/home/u/.ssh/config", "/.ssh/x", ".ssh/x", "/etc/ssh/ssh_host_rsa_key",
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
            "/a\n/.ssh/k", "/a/b.key\n", "", "/", "//", "/a/.npmrc/", "/.kube/config", "/.KUBE/config", "/a/B.PEM"]
    paths += made + [p.upper() for p in made] + ["/x" + p for p in made] + [p + "x" for p in made] + [p + "/" for p in made]
    arranged = PathPatterns(sources)
    assert sum(bool(joined.search(p)) for p in made) > 50
    for path in paths:
        assert arranged.search(path) == bool(joined.search(path)), path



def test_regexes_read_as_plain_strings_answer_as_the_regex() -> None:
    """Random regexes of plain characters, escapes, groups, ``?``, classes and repeats: where they are read as
    plain strings (tested with startswith / endswith / equality, never compiled), the answer on random texts
    (newlines included) must be that of ``re.search``."""
    import re

    from hullscan.analyzers.files import PathPatterns, _literal_language

    rng = random.Random(5)
    atoms = ["a", "b", "/", "-", "_", "\\.", "\\/", "\\-", ".", "[ab]", "\\d", "\\$", "\\\\", "é", "#", " "]

    def sequence(depth: int) -> str:
        out = ""
        for _ in range(rng.randint(0, 4)):
            if depth < 2 and rng.random() < 0.25:
                out += "(?:" + "|".join(sequence(depth + 1) for _ in range(rng.randint(1, 3))) + ")"
            else:
                out += rng.choice(atoms)
            out += rng.choice(["", "", "", "?", "*", "+", "{1,2}", "??"])
        return out

    texts = ["", "\n", "a", "a\n", "/a/b", "ab/", "a.b", "x\na", "a\nb\n", "é", "$", "\\"]
    texts += ["".join(rng.choice("ab/-_.\n$é\\# ") for _ in range(rng.randint(0, 8))) for _ in range(300)]
    read = 0
    for _ in range(3000):
        pattern = rng.choice(["", "^"]) + sequence(0) + rng.choice(["", "$", "\\$", "|a"])
        try:
            regex = re.compile(pattern)
        except re.error:
            continue
        language = _literal_language(pattern)
        if language is None:
            continue
        read += 1
        start, end, strings = language
        arranged = PathPatterns([pattern])
        for text in texts:
            ends = (text, text[:-1]) if text.endswith("\n") else (text,)  # $ matches before a final newline too
            by_strings = any((t == s if start else t.endswith(s)) if end else (t.startswith(s) if start else s in t)
                             for s in strings for t in ends)
            assert arranged.search(text) == by_strings == bool(regex.search(text)), (pattern, text)
    assert read > 500
