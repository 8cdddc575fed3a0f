"""Issue 16.5: the hardening items of the baseline scanner (NOPASSWD ALL sudo rules, default credentials in
application configuration, permissive UMASK, the CIS sshd items, shadow files readable by others), on an image
built here and scanned by the real CLI; each is listed by ``hullscan checks`` and turned off by its id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hullscan.analyzers.base import FileInput
from hullscan.analyzers.files.hardening import HardeningAnalyzer, _seconds
from hullscan.model import FileInfo
from tests.helpers.imagebuild import F, ImageBuilder

SSHD = """# hardened? no
Port 22
X11Forwarding yes
MaxAuthTries 10
IgnoreRhosts no
HostbasedAuthentication yes
PermitUserEnvironment yes
Protocol 2,1
LoginGraceTime 2m
Match User backup
    X11Forwarding no
"""

FILES: dict[str, str | F] = {
    "etc/sudoers": "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n"
                   "%wheel ALL=(ALL) NOPASSWD: /usr/bin/apt-get\n#includedir /etc/sudoers.d\n",
    "etc/sudoers.d/ci": F(b"# CI convenience\nALL ALL=(ALL) NOPASSWD: ALL\n", mode=0o440),
    "etc/login.defs": "MAIL_DIR /var/mail\nUMASK 002\n",
    "etc/profile.d/umask.sh": "# set by the app team\numask 000\n",
    "etc/profile": "umask 022\n",
    "etc/shadow": F(b"root:*:19000:0:99999:7:::\n", mode=0o644),
    "etc/gshadow": F(b"root:*::\n", mode=0o640),
    "etc/ssh/sshd_config": SSHD,
    "opt/app/config.yml": "db:\n  host: db\n  username: admin\n  port: 5432\n  password: admin\n",
    "opt/app/prod.yml": "db:\n  username: admin\n  password: ${DB_PASSWORD}\n",  # decoy: not a default pair
    "etc/tomcat/tomcat-users.xml": '<tomcat-users>\n  <user username="tomcat" password="tomcat" roles="manager-gui"/>\n</tomcat-users>\n',
    "srv/app/application.properties": "spring.datasource.url=jdbc:postgresql://postgres:postgres@db:5432/app\n",
}

EXPECTED = [
    ("baseline-default-credentials", "/etc/tomcat/tomcat-users.xml", 2),
    ("baseline-default-credentials", "/opt/app/config.yml", 5),
    ("baseline-default-credentials", "/srv/app/application.properties", 1),
    ("baseline-permissive-umask", "/etc/login.defs", 2),
    ("baseline-permissive-umask", "/etc/profile.d/umask.sh", 2),
    ("baseline-shadow-readable", "/etc/shadow", 0),
    ("baseline-sshd-hostbased-authentication", "/etc/ssh/sshd_config", 6),
    ("baseline-sshd-ignore-rhosts", "/etc/ssh/sshd_config", 5),
    ("baseline-sshd-login-grace-time", "/etc/ssh/sshd_config", 9),
    ("baseline-sshd-max-auth-tries", "/etc/ssh/sshd_config", 4),
    ("baseline-sshd-permit-user-environment", "/etc/ssh/sshd_config", 7),
    ("baseline-sshd-protocol-1", "/etc/ssh/sshd_config", 8),
    ("baseline-sshd-x11-forwarding", "/etc/ssh/sshd_config", 3),
    ("baseline-sudo-nopasswd-all", "/etc/sudoers.d/ci", 2),
]
NEW_IDS = sorted({i for i, _, _ in EXPECTED})


def _hullscan(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullscan", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "img"
    b = ImageBuilder()
    b.config_extra = {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}
    b.add_layer(FILES)
    b.write_oci_layout(path)
    return path


def test_each_item_found_once_and_no_decoy(image: Path, tmp_path: Path) -> None:
    out = _hullscan("image", str(image), "--scanners", "baseline", "--no-cache", "-f", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    got = sorted((f["id"], f["location"]["path"], f["location"].get("line", 0)) for f in data["findings"] if f["id"] in NEW_IDS)
    assert got == EXPECTED
    # the URL's password is also a plain-text credential (the older check), reported under its own id
    assert {f["id"] for f in data["findings"]} == {*NEW_IDS, "baseline-plaintext-credential"}
    cred = [f for f in data["findings"] if f["id"] == "baseline-default-credentials"]
    assert all("admin / a" not in f["evidence"] or "*" in f["evidence"] for f in cred)
    assert {f["evidence"] for f in cred} == {"admin / a****", "tomcat / t*****", "postgres / p*******"}
    sudo = next(f for f in data["findings"] if f["id"] == "baseline-sudo-nopasswd-all")
    assert "everyone" in sudo["description"]


def test_items_listed_and_switched_off_by_id(image: Path, tmp_path: Path) -> None:
    listed = _hullscan("checks", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert all(i in listed.stdout for i in NEW_IDS)
    skip = "baseline-sudo-nopasswd-all,baseline-sshd-x11-forwarding,baseline-default-credentials"
    out = _hullscan("image", str(image), "--scanners", "baseline", "--no-cache", "-f", "json", "--skip-checks", skip,
                    cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ids = {f["id"] for f in json.loads(out.stdout)["findings"]}
    assert ids == ({*NEW_IDS, "baseline-plaintext-credential"} - set(skip.split(",")))
    only = _hullscan("image", str(image), "--scanners", "baseline", "--no-cache", "-f", "json", "--checks",
                     "baseline-shadow-readable", cwd=tmp_path)
    assert {f["id"] for f in json.loads(only.stdout)["findings"]} == {"baseline-shadow-readable"}


@pytest.mark.parametrize(("path", "text"), [
    ("/etc/sudoers", "%sudo ALL=(ALL:ALL) ALL\n# ALL ALL=(ALL) NOPASSWD: ALL\nDefaults !authenticate\n"),
    ("/etc/sudoers.d/app", "app ALL=(root) NOPASSWD: /usr/sbin/service nginx reload\n"),
    ("/etc/login.defs", "UMASK 022\n"), ("/etc/login.defs", "UMASK 077\n"), ("/etc/profile", "# umask 000\numask 027\n"),
    ("/etc/ssh/sshd_config", "X11Forwarding no\nMaxAuthTries 4\nIgnoreRhosts yes\nProtocol 2\nLoginGraceTime 60\n"),
    ("/etc/ssh/sshd_config", "Match User x\n  X11Forwarding yes\n"),
    ("/opt/app/settings.yml", "username: admin\npassword: ${ADMIN_PASSWORD}\n"),
    ("/opt/app/settings.yml", "username: admin\nfoo: 1\nbar: 2\nbaz: 3\nqux: 4\nquux: 5\npassword: admin\n"),  # too far apart
])
def test_clean_settings_give_nothing(path: str, text: str) -> None:
    a = HardeningAnalyzer()
    assert a.wants(path, FileInfo(path=path, size=len(text)))
    assert a.analyze(FileInput.from_bytes(path, text.encode(), layer="sha256:l")) is None


def test_sshd_time_format() -> None:
    assert (_seconds("90"), _seconds("2m"), _seconds("1m30s"), _seconds("1h"), _seconds("x")) == (90, 120, 90, 3600, None)
