"""Sensitive file types: real files made by real tools where there is one (ssh-keygen, openssl, htpasswd)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files.sensitive import SensitiveFileAnalyzer, builtin_items
from hullscan.model import Category, FileInfo
from tests.checks.corpus import rsa_pem, ssh_key


def _ids(path: str, data: bytes) -> list[str]:
    a = SensitiveFileAnalyzer()
    if not a.wants(path, FileInfo(path=path, size=len(data))):
        return []
    res = a.analyze(FileInput.from_bytes(path, data, layer="sha256:l"))
    return [f.id for f in res.findings] if res else []


@pytest.fixture(scope="module")
def pem() -> str:
    return rsa_pem()


@pytest.fixture(scope="module")
def cert_and_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "k.pem", "-out", d / "c.pem",
                    "-days", "1", "-subj", "/CN=test"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", d / "k.pem", "-in", d / "c.pem", "-out", d / "b.p12",
                    "-passout", "pass:x"], check=True, capture_output=True)
    return (d / "c.pem").read_bytes() + (d / "k.pem").read_bytes(), (d / "b.p12").read_bytes()


def test_items_have_remediation_and_unique_ids() -> None:
    ids = [i.id for i in builtin_items()]
    assert len(ids) == len(set(ids)) and len(ids) >= 20
    assert all(i.remediation for i in builtin_items())


def test_ssh_keys(pem: str) -> None:
    key = ssh_key().encode()
    assert _ids("/root/.ssh/id_ed25519", key) == ["sensitive-ssh-private-key"]
    assert _ids("/etc/ssh/ssh_host_ed25519_key", key) == ["sensitive-ssh-private-key"]
    assert _ids("/root/.ssh/id_ed25519.pub", b"ssh-ed25519 AAAAC3Nza test") == []
    assert _ids("/app/tls/server.key", pem.encode()) == ["sensitive-pem-private-key"]
    assert _ids("/app/tls/server.key", b"not a key") == []


def test_certificate_bundles_and_pkcs12(cert_and_key: tuple[bytes, bytes]) -> None:
    bundle, p12 = cert_and_key
    assert _ids("/etc/nginx/bundle.pem", bundle) == ["sensitive-certificate-with-key"]
    cert_only = bundle[: bundle.index(b"-----END CERTIFICATE-----") + 26]
    assert _ids("/etc/nginx/cert.pem", cert_only) == []
    assert _ids("/app/keys/client.p12", p12) == ["sensitive-pkcs12-keystore"]
    assert _ids("/app/keys/client.p12", b"PK\x03\x04 zip, not pkcs12") == []


def test_htpasswd_made_by_htpasswd(tmp_path: Path) -> None:
    f = tmp_path / ".htpasswd"
    subprocess.run(["htpasswd", "-cbB", str(f), "admin", "s3cret-pw"], check=True, capture_output=True)
    assert _ids("/var/www/.htpasswd", f.read_bytes()) == ["sensitive-htpasswd"]
    assert _ids("/var/www/.htpasswd", b"# empty\n") == []


@pytest.mark.parametrize(
    ("path", "content", "want"),
    [
        ("/root/.netrc", "machine api.corp login bot password Zq8vX2\n", "sensitive-netrc"),
        ("/root/.pgpass", "db.internal:5432:app:app:Zq8vX2mK\n", "sensitive-pgpass"),
        ("/root/.git-credentials", "https://bot:Zq8vX2mK@git.corp\n", "sensitive-git-credentials"),
        ("/root/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: eyJhbGciOi\n", "sensitive-kubeconfig"),
        ("/root/.docker/config.json", json.dumps({"auths": {"r.corp": {"auth": base64.b64encode(b"u:p").decode()}}}), "sensitive-docker-config-auth"),
        ("/root/.aws/credentials", "[default]\naws_access_key_id = AKIAQYLPMN7CVWZBT3RS\naws_secret_access_key = abc/def\n", "sensitive-aws-credentials"),
        ("/root/.aliyun/config.json", '{"profiles":[{"access_key_id":"LTAI5tQ1w2e3r4t5y6u7","access_key_secret":"x1y2z3w4v5u6"}]}', "sensitive-aliyun-config"),
        ("/root/.azure/msal_token_cache.json", '{"AccessToken": {}}', "sensitive-azure-credentials"),
        ("/root/.config/gcloud/application_default_credentials.json", '{"refresh_token": "1//x"}', "sensitive-gcloud-credentials"),
        ("/app/.env", "SECRET=abc\n", "sensitive-env-file"),
        ("/app/.env.production", "export API=abc\n", "sensitive-env-file"),
        ("/root/.bash_history", "ls\nmysql -p\n", "sensitive-shell-history"),
        ("/root/.psql_history", "select 1;\n", "sensitive-shell-history"),
        ("/backup/app.sql", "-- MySQL dump 10.13  Distrib 8.0\nCREATE TABLE t (id int);\n", "sensitive-database-dump"),
        ("/backup/app.sql", "-- PostgreSQL database dump\n", "sensitive-database-dump"),
        ("/root/.vault-token", "hvs.CAESIJxyz\n", "sensitive-vault-token"),
        ("/root/.pypirc", "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcXYZ\n", "sensitive-cloud-tool-credentials"),
    ],
)
def test_credential_files(path: str, content: str, want: str) -> None:
    assert want in _ids(path, content.encode())


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/app/.env.example", "SECRET=abc\n"),
        ("/app/.env", "# only comments\n"),
        ("/root/.docker/config.json", '{"auths": {}}'),
        ("/root/.aws/credentials", "[default]\nregion = eu-west-1\n"),
        ("/root/.kube/config", "apiVersion: v1\nkind: Config\nclusters: []\n"),
        ("/usr/share/postgresql/15/information_schema.sql", "CREATE VIEW x AS SELECT 1;\n"),
        ("/usr/lib/python3/dist-packages/pkg/tests/data/service_account.json", '{"type": "service_account", "private_key": "-----BEGIN"}'),
    ],
)
def test_decoys(path: str, content: str) -> None:
    assert _ids(path, content.encode()) == []


def test_gzip_dump_by_magic(tmp_path: Path) -> None:
    import gzip

    assert _ids("/backup/db.sql.gz", gzip.compress(b"-- PostgreSQL database dump\n")) == ["sensitive-database-dump-binary"]


def test_finding_shape() -> None:
    a = SensitiveFileAnalyzer()
    res = a.analyze(FileInput.from_bytes("/root/.bash_history", b"export TOKEN=abc\n", layer="sha256:l"))
    assert res is not None
    [f] = res.findings
    assert f.category is Category.SENSITIVE and f.location.layer == "sha256:l" and f.remediation
    assert "TOKEN=abc" not in f.evidence + f.description


def test_every_shipped_regex_compiles() -> None:
    """Items compile their regexes on first use: a bad one must fail here, not in the middle of a scan."""
    import re

    for item in builtin_items():
        for rule in item.path_rules + item.exclude_rules:
            re.compile(f"(?:{rule.source})")
        assert item.paths.search("/") in (True, False) and item.content is not None and item.content_not is not None
        assert item.exclude is None or item.exclude.search("/") in (True, False)


def test_wants_answers_as_the_joined_path_regexes_and_the_allow_list() -> None:
    """``wants`` asks the allow list first and tries the item paths arranged (see PathPatterns): the answer must be
    that of every item's path regex joined, minus the allow-listed paths, on real paths and paths of every item."""
    import re

    from hullscan.analyzers.files.secrets import builtin_rules

    joined = re.compile("|".join(f"(?:{r.source})" for item in builtin_items() for r in item.path_rules))
    paths = [line for f in sorted(Path("/var/lib/dpkg/info").glob("*.list"))[:200]
             for line in f.read_text(errors="replace").splitlines() if line.startswith("/")]
    made = ["/root/.ssh/id_rsa", "/home/u/.ssh/authorized_keys", "/etc/ssh/ssh_host_ed25519_key", "/app/tls/server.key",
            "/app/private/blob", "/app/.env", "/app/.env.local", "/root/.kube/config", "/app/kubeconfig.yaml", "/app/sa.json",
            "/root/.config/gcloud/legacy_credentials/a@b/adc.json", "/root/.local/share/fish/fish_history", "/srv/db.sql.gz",
            "/usr/share/doc/x/id_rsa", "/usr/lib/python3/dist-packages/x/tests/server.key", "/app/docs/example.env"]
    paths += made + [p.upper() for p in made] + ["/x" + p for p in made]
    analyzer = SensitiveFileAnalyzer()
    allow = builtin_rules()
    wanted = 0
    for path in paths:
        expected = bool(joined.search(path)) and not allow.path_allowed(path)
        assert analyzer.wants(path, FileInfo(path=path, size=100)) == expected, path
        assert not analyzer.wants(path, FileInfo(path=path, size=0))
        assert not analyzer.wants(path, FileInfo(path=path, size=100, kind="hardlink"))
        wanted += expected
    assert wanted >= 12
