"""The planted-secret corpus shared by the end-to-end tests and ``bench/secrets_bench.py``: text files with
secrets (the truth: path and line of each) next to decoys that must not be reported. Key material comes
from the real tools (``ssh-keygen``, ``openssl``); token values are random, drawn per run."""

from __future__ import annotations

import json
import random
import string
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

AN = string.ascii_letters + string.digits


def rand(n: int, chars: str = AN, rng: random.Random | None = None) -> str:
    r = rng or random
    return "".join(r.choice(chars) for _ in range(n))


@dataclass
class Corpus:
    """Files (path -> bytes), planted secrets (path, line) and decoy files."""

    files: dict[str, bytes] = field(default_factory=dict)
    planted: set[tuple[str, int]] = field(default_factory=set)
    decoys: set[str] = field(default_factory=set)
    #: other lines a tool may name for the same planted secret (a multi-line key, a key inside a JSON file)
    also: dict[tuple[str, int], set[int]] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)  # every planted secret value (must never appear unmasked)

    def add(self, path: str, lines: list[str], secret_lines: dict[int, str] | None = None,
            also: dict[int, set[int]] | None = None) -> None:
        self.files[path] = ("\n".join(lines) + "\n").encode()
        for line, value in (secret_lines or {}).items():
            self.planted.add((path, line))
            self.values.append(value)
            self.also[(path, line)] = {line} | (also or {}).get(line, set())

    def planted_for(self, path: str, line: int) -> tuple[str, int] | None:
        """The planted secret a finding at ``path:line`` names, if any."""
        for key, lines in self.also.items():
            if key[0] == path and line in lines:
                return key
        return None

    def decoy(self, path: str, text: str | bytes) -> None:
        self.files[path] = text if isinstance(text, bytes) else text.encode()
        self.decoys.add(path)


def ssh_key() -> str:
    """A real OpenSSH ed25519 private key made by ssh-keygen."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", f"{tmp}/k"], check=True)
        return Path(f"{tmp}/k").read_text()


def rsa_pem() -> str:
    """A real PKCS#8 RSA private key made by openssl."""
    out = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], capture_output=True,
                         text=True, check=True)
    return out.stdout


def build(seed: int = 7) -> Corpus:
    """The corpus: 20 planted secrets in 14 files and 10 decoy files."""
    rng = random.Random(seed)
    c = Corpus()
    up = string.ascii_uppercase + "234567"
    aws_id = "AKIA" + rand(16, up, rng)
    aws_secret = rand(40, AN + "/+", rng)
    c.add("/app/config/settings.py", ["import os", "", f'AWS_ACCESS_KEY_ID = "{aws_id}"', f'AWS_SECRET_ACCESS_KEY = "{aws_secret}"',
                                      'DEBUG = os.environ.get("DEBUG") == "1"'], {3: aws_id, 4: aws_secret})
    ghp = "ghp_" + rand(36, AN, rng)
    stripe = "sk_live_" + rand(24, AN, rng)
    dbpw = rand(14, AN, rng)
    c.add("/app/.env", ["APP_ENV=production", f"GITHUB_TOKEN={ghp}", f"STRIPE_SECRET_KEY={stripe}",
                        f"DATABASE_URL=postgres://app:{dbpw}@db.internal:5432/app"], {2: ghp, 3: stripe, 4: dbpw})
    key = ssh_key()
    key_lines = key.rstrip("\n").split("\n")
    c.add("/root/.ssh/id_ed25519", key_lines, {1: key}, also={1: set(range(1, len(key_lines) + 1))})
    slack = f"xoxb-{rand(12, string.digits, rng)}-{rand(13, string.digits, rng)}-{rand(24, AN, rng)}"
    hook = f"https://hooks.slack.com/services/T{rand(8, up, rng)}/B{rand(10, up, rng)}/{rand(24, AN, rng)}"
    c.add("/srv/app/slack.json", ["{", f'  "bot_token": "{slack}",', f'  "webhook": "{hook}"', "}"], {2: slack, 3: hook})
    ltai = "LTAI5t" + rand(18, AN, rng)  # AccessKey IDs are 24 characters
    alisecret = rand(30, AN, rng)
    sprpw = rand(10, AN, rng) + "#9"
    c.add("/opt/app/application.properties", ["server.port=8080", f"spring.datasource.password={sprpw}",
                                              f"aliyun.oss.access-key-id={ltai}", f"aliyun.oss.access-key-secret={alisecret}"],
          {2: sprpw, 3: ltai, 4: alisecret})
    npm = "npm_" + rand(36, AN, rng)
    c.add("/home/app/.npmrc", ["registry=https://registry.npmjs.org/", f"//registry.npmjs.org/:_authToken={npm}"], {2: npm})
    glpat = "glpat-" + rand(20, AN + "-_", rng)
    c.add("/etc/app/gitlab.yml", ["gitlab:", "  url: https://gitlab.internal", f"  token: {glpat}"], {3: glpat})
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI" + rand(30, AN, rng) + "." + rand(43, AN + "-_", rng)
    c.add("/app/auth/service-token.txt", [f"Bearer {jwt}"], {1: jwt})
    sg = f"SG.{rand(22, AN + '-_', rng)}.{rand(43, AN + '-_', rng)}"
    c.add("/app/mail/sendgrid.js", ["const sgMail = require('@sendgrid/mail');", f"sgMail.setApiKey('{sg}');"], {2: sg})
    hf = "hf_" + rand(34, AN, rng)
    c.add("/app/ml/download.sh", ["#!/bin/sh", f"export HF_TOKEN={hf}", "python3 fetch.py"], {2: hf})
    pem = rsa_pem()
    sa = {"type": "service_account", "project_id": "bench-" + rand(6, string.ascii_lowercase, rng), "private_key_id": rand(40, "0123456789abcdef", rng),
          "private_key": pem, "client_email": "svc@bench.iam.gserviceaccount.com"}
    sa_text = json.dumps(sa, indent=2)
    line = next(i for i, row in enumerate(sa_text.split("\n"), 1) if '"type":' in row)  # both tools report the match start
    key_line = next(i for i, row in enumerate(sa_text.split("\n"), 1) if '"private_key":' in row)
    c.add("/app/gcp/credentials.json", sa_text.split("\n"), {line: pem}, also={line: {key_line}})
    pypi = "pypi-AgEIcHlwaS5vcmc" + rand(70, AN + "-_", rng)
    c.add("/root/.pypirc", ["[pypi]", "username = __token__", f"password = {pypi}"], {3: pypi})
    # application code under /usr (web roots, pip-installed apps): still the image author's files
    pk = "sk_live_" + rand(24, AN, rng)
    c.add("/usr/share/nginx/html/env.js", ["window.ENV = {", f'  stripeKey: "{pk}",', '  apiBase: "/api"', "};"], {2: pk})
    sg2 = f"SG.{rand(22, AN + '-_', rng)}.{rand(43, AN + '-_', rng)}"
    c.add("/usr/local/lib/python3.11/site-packages/billing/settings.py", ["import os", f'SENDGRID_API_KEY = "{sg2}"'], {2: sg2})
    # decoys: placeholders, documentation, vendored tests, code, hashes, binaries
    c.decoy("/usr/share/doc/awscli/README", "Set AWS_ACCESS_KEY_ID=" + "AKIA" + rand(16, up, rng) + " in your shell.\n")
    c.decoy("/app/docs/sample.env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    c.decoy("/app/config.yaml", "db:\n  password: ${DB_PASSWORD}\napi:\n  token: <your-token-here>\n  api_key: xxxxxxxxxxxxxxxxxxxxxxxx\n")
    c.decoy("/usr/lib/python3/dist-packages/ghlib/tests/test_auth.py", f'TOKEN = "ghp_{rand(36, AN, rng)}"\n')
    c.decoy("/app/node_modules/stripe-mock/test/fixture.js", f"module.exports = {{ key: 'sk_live_{rand(24, AN, rng)}' }};\n")
    c.decoy("/app/src/main.py", "def login(request):\n    password = get_password(request.user)\n    token = request.headers['X-Token']\n"
            "    secret_key = settings.SECRET_KEY\n    return check(password, token)\n")
    c.decoy("/app/SHA256SUMS", "".join(f"{rand(64, '0123456789abcdef', rng)}  pkg-{i}.tar.gz\n" for i in range(5)))
    c.decoy("/app/bin/tool", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + b"ghp_" + rand(36, AN, rng).encode() + b"\x00")
    c.decoy("/app/locks/package-lock.json", '{\n  "integrity": "sha512-' + rand(86, AN + "+/", rng) + '==",\n  "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"\n}\n')
    c.decoy("/app/ids.yaml", "request_id: 123e4567-e89b-12d3-a456-426614174000\ncommit: " + rand(40, "0123456789abcdef", rng) + "\n")
    return c
