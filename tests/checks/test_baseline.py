"""Baseline checks on files: shadow hashes made by real tools (openssl passwd, htpasswd, libxcrypt through
Python's crypt module), passwd, sshd configs, configuration files and file modes."""

from __future__ import annotations

import subprocess
import warnings

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files.baseline import BaselineFileAnalyzer, PermissionAnalyzer, checks, verify, weak_words
from hullscan.model import Category, FileInfo

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt
    except ImportError:  # Python >= 3.13
        crypt = None  # type: ignore[assignment]


def openssl_passwd(flag: str, word: str) -> str:
    return subprocess.run(["openssl", "passwd", flag, word], capture_output=True, text=True, check=True).stdout.strip()


def htpasswd_bcrypt(word: str) -> str:
    out = subprocess.run(["htpasswd", "-nbB", "u", word], capture_output=True, text=True, check=True).stdout.strip()
    return out.split(":", 1)[1]


def analyze(path: str, text: str) -> list[tuple[str, int, str]]:
    a = BaselineFileAnalyzer()
    assert a.wants(path, FileInfo(path=path, size=len(text)))
    res = a.analyze(FileInput.from_bytes(path, text.encode(), layer="sha256:l"))
    return sorted((f.id, f.location.line, f.evidence) for f in res.findings) if res else []


def test_check_data() -> None:
    assert all(c.remediation and c.title for c in checks().values())
    assert "password" in weak_words() and len(weak_words()) >= 40


@pytest.mark.parametrize(
    "make",
    [
        lambda w: openssl_passwd("-6", w),
        lambda w: openssl_passwd("-5", w),
        lambda w: openssl_passwd("-1", w),
        htpasswd_bcrypt,
    ],
    ids=["sha512-openssl", "sha256-openssl", "md5-openssl", "bcrypt-htpasswd"],
)
def test_verify_real_hashes(make) -> None:  # type: ignore[no-untyped-def]
    hashed = make("letmein")
    assert verify("letmein", hashed) is True
    assert verify("other", hashed) is False


@pytest.mark.skipif(crypt is None, reason="no crypt module (Python >= 3.13)")
def test_verify_yescrypt_libxcrypt() -> None:
    hashed = crypt.crypt("toor", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$")
    assert hashed.startswith("$y$")
    assert verify("toor", hashed) is True and verify("nope", hashed) is False


def test_shadow_weak_empty_locked_strong() -> None:
    strong = openssl_passwd("-6", "Vq8#zT1!mW4r-long-and-random")
    lines = [
        "root:" + openssl_passwd("-6", "toor") + ":19000:0:99999:7:::",
        "admin::19000:0:99999:7:::",
        "daemon:*:19000:0:99999:7:::",
        "app:!" + strong + ":19000:0:99999:7:::",
        "svc:" + strong + ":19000:0:99999:7:::",
        "legacy:" + openssl_passwd("-1", "legacy") + ":19000:0:99999:7:::",
        "web:" + htpasswd_bcrypt("password") + ":19000:0:99999:7:::",
    ]
    got = analyze("/etc/shadow", "\n".join(lines) + "\n")
    assert ("baseline-weak-password", 1, "root: password is a dictionary word (t***)") in got
    assert ("baseline-empty-password", 2, "admin: empty password field") in got
    assert ("baseline-weak-hash-algorithm", 6, "legacy: MD5 crypt hash") in got
    assert ("baseline-weak-password", 6, "legacy: password is a dictionary word (l*****)") in got  # the user name
    assert ("baseline-weak-password", 7, "web: password is a dictionary word (p*******)") in got
    assert not [g for g in got if g[1] in (3, 4, 5)]  # locked and strong accounts
    assert len(got) == 5


def test_shadow_unsupported_scheme_is_a_warning() -> None:
    a = BaselineFileAnalyzer()
    res = a.analyze(FileInput.from_bytes("/etc/shadow", b"u:$9$abc$def:1:0:99999:7:::\n"))
    assert res is not None and not res.findings and res.warnings[0].code == "unsupported-hash"


def test_passwd_extra_uid0() -> None:
    text = "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\n"
    assert analyze("/etc/passwd", text) == [("baseline-extra-uid0", 2, "toor:x:0:0")]


def test_sshd_config_and_dropins() -> None:
    text = ("Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\n"
            "PermitRootLogin no\nPermitEmptyPasswords no\nMatch User x\n  PermitEmptyPasswords yes\n")
    got = analyze("/etc/ssh/sshd_config", text)
    assert [g[:2] for g in got] == [("baseline-sshd-installed", 0), ("baseline-sshd-password-authentication", 3),
                                    ("baseline-sshd-permit-root-login", 2)]
    assert analyze("/etc/ssh/sshd_config.d/50-cloud.conf", "permitemptypasswords=yes\n")[0][0] == "baseline-sshd-permit-empty-passwords"
    assert [g[0] for g in analyze("/etc/ssh/sshd_config", "#PermitRootLogin yes\nPermitRootLogin prohibit-password\n")] == [
        "baseline-sshd-installed"]


def test_plaintext_credentials_in_config_files() -> None:
    key = "AKIA" + "QYLPMN7CVWZBT3RS"
    got = analyze("/etc/app/app.conf", f"[s3]\naccess_key = {key}\nregion = eu\n")
    assert [(g[0], g[1]) for g in got] == [("baseline-plaintext-credential", 2)]
    assert key not in got[0][2]
    assert analyze("/etc/app/app.conf", "[s3]\npassword = ${S3_PASSWORD}\n") == []


def perms(path: str, mode: int, kind: str = "file") -> tuple[list[str], dict[str, list[str]]]:
    a = PermissionAnalyzer()
    info = FileInfo(path=path, mode=mode, kind=kind)
    if not a.wants(path, info):
        return [], {}
    res = a.analyze(FileInput(path=path, info=info, layer="sha256:l", _reader=lambda: b""))
    assert res is not None
    return [f.id for f in res.findings], res.facts


def test_permissions() -> None:
    assert perms("/usr/bin/passwd", 0o4755) == ([], {"setuid": ["/usr/bin/passwd"]})
    assert perms("/usr/bin/wall", 0o2755) == ([], {"setuid": ["/usr/bin/wall"]})
    assert perms("/srv/data", 0o777, "dir") == (["baseline-world-writable"], {})
    assert perms("/tmp", 0o1777, "dir") == ([], {})
    assert perms("/app/run.sh", 0o666) == (["baseline-world-writable"], {})
    assert perms("/app/run.sh", 0o755) == ([], {})
    assert PermissionAnalyzer.metadata_only


def test_finding_category() -> None:
    res = BaselineFileAnalyzer().analyze(FileInput.from_bytes("/etc/passwd", b"x:x:0:0::/:/bin/sh\n", layer="sha256:l"))
    assert res is not None and res.findings[0].category is Category.BASELINE and res.findings[0].remediation
