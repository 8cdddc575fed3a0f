"""Issue 16.4: suspicious files beyond signatures (rules/suspicious.yaml): every indicator's examples, a planted
image where each indicator fires where planted (with the indicator named, severity MEDIUM, distinct from the
signature hits), and clean official-style bases built here (Debian, Alpine-like with apk-tools' real database,
distroless-like, a Python and a Node application on Debian) that give no malware, baseline or history finding."""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from hullscan.analyzers.files.suspicious import first_match, indicators
from hullscan.checks.selection import apply
from hullscan.model import Category, ScanReport, Severity
from hullscan.options import ScanOptions
from hullscan.scan import scan
from tests.checks.debian_base import build_layer_tar
from tests.helpers.imagebuild import F, ImageBuilder

SCANNERS = frozenset({"malware", "baseline", "history"})
CLEAN_CONFIG = {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}, "Cmd": ["app"]}
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
DPKG_STATUS = Path("/var/lib/dpkg/status")
needs_dpkg = pytest.mark.skipif(not DPKG_STATUS.is_file(), reason="needs a dpkg system (real package database)")


@pytest.mark.parametrize("indicator", [*indicators("miner"), *indicators("persistence")], ids=lambda i: i.name)
def test_indicator_examples(indicator) -> None:  # type: ignore[no-untyped-def]
    assert indicator.examples_match and indicator.examples_no_match
    for text in indicator.examples_match:
        assert first_match(indicator, text), f"{indicator.name} missed {text!r}"
    for text in indicator.examples_no_match:
        assert not first_match(indicator, text), f"{indicator.name} matched {text!r}"


def _scan(tmp: Path, *layers: dict[str, str | bytes | F] | bytes, config: dict[str, object] | None = None) -> ScanReport:
    b = ImageBuilder()
    for layer in layers:
        b.add_layer(layer, compression="none" if isinstance(layer, bytes) else "gzip")
    b.config_extra = dict(config or CLEAN_CONFIG)
    b.write_oci_layout(tmp)
    opts = ScanOptions(scanners=SCANNERS, use_cache=False)
    return apply(scan(str(tmp), opts), opts)


def _libssl_package() -> tuple[str, str, str]:
    """(status stanza, .list content, one shared object it lists) of this machine's libssl3."""
    stanza = next(s for s in DPKG_STATUS.read_text().split("\n\n") if s.startswith("Package: libssl3\n"))
    listing = next(Path(p).read_text() for p in ("/var/lib/dpkg/info/libssl3:amd64.list", "/var/lib/dpkg/info/libssl3.list",
                                                 "/var/lib/dpkg/info/libssl3:arm64.list") if os.path.exists(p))
    lib = next(line for line in listing.splitlines() if re.search(r"/libssl\.so\.3$", line))
    return stanza.strip() + "\n", listing, lib


@needs_dpkg
def test_planted_indicators(tmp_path: Path) -> None:
    stanza, listing, owned_lib = _libssl_package()
    libdir = owned_lib.rsplit("/", 1)[0]
    files: dict[str, str | bytes | F] = {
        "etc/os-release": "ID=debian\nVERSION_ID=\"12\"\n",
        "var/lib/dpkg/status": stanza,
        "var/lib/dpkg/info/libssl3:amd64.list": listing,
        owned_lib.lstrip("/"): F(ELF, mode=0o644),
        f"{libdir.lstrip('/')}/libsystemd-helper.so.0": F(ELF + b"hook", mode=0o644),  # no package lists it
        "opt/svc/start.sh": F(b"#!/bin/sh\nnohup ./xmrig -o pool.example.net:3333 -u w1 --cpu-priority 5 &\n", mode=0o755),
        "opt/svc/pool.txt": "backup pool: stratum+tcp://203.0.113.5:3333\n",
        "etc/cron.d/sync": "*/10 * * * * root /tmp/.sysupdate/kworker >/dev/null 2>&1\n",
        "etc/systemd/system/netd.service": "[Service]\nExecStart=/usr/lib/.sys/netd -d\n",
        "etc/rc.local": "#!/bin/sh\necho Y3VybCB4 | base64 -d | bash\nexit 0\n",
        "etc/ld.so.preload": "/usr/local/lib/libhide.so\n",
        "usr/local/lib/libhide.so": F(ELF + b"process_to_filter\x00readdir\x00dlsym\x00", mode=0o644),
        "root/.ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnGV7b0zqq4wR2n0D3k attacker@box\n",
        "tmp/x": F(ELF, mode=0o755),
        "dev/shm/.k": F(b"#!/bin/sh\nsleep 1\n", mode=0o755),
        "var/www/.hidden/bd": F(ELF, mode=0o755),
        "app/node_modules/.bin/tool": F(b"#!/usr/bin/env node\n", mode=0o755),  # allowed dot-folder
        "tmp/notes.txt": "temporary notes\n",  # not executable
    }
    report = _scan(tmp_path / "img", files)
    sus = sorted((f.id, f.location.path, f.evidence.split(":", 1)[0]) for f in report.findings if f.id.startswith("suspicious-"))
    assert sus == [
        ("suspicious-hidden-executable", "/dev/shm/.k", "indicator temp-folder"),
        ("suspicious-hidden-executable", "/tmp/x", "indicator temp-folder"),
        ("suspicious-hidden-executable", "/var/www/.hidden/bd", "indicator dot-folder"),
        ("suspicious-ld-preload", "/etc/ld.so.preload", "indicator ld-so-preload"),
        ("suspicious-miner-indicator", "/opt/svc/pool.txt", "indicator stratum-pool-url"),
        ("suspicious-miner-indicator", "/opt/svc/start.sh", "indicator miner-launch"),
        ("suspicious-persistence", "/etc/cron.d/sync", "indicator runs-from-temp"),
        ("suspicious-persistence", "/etc/rc.local", "indicator decode-and-run"),
        ("suspicious-persistence", "/etc/systemd/system/netd.service", "indicator runs-from-dot-folder"),
        ("suspicious-process-hider", "/usr/local/lib/libhide.so", "indicator process-hider-strings"),
        ("suspicious-root-authorized-keys", "/root/.ssh/authorized_keys", "indicator root-authorized-keys"),
        ("suspicious-unowned-library", f"{libdir}/libsystemd-helper.so.0", "indicator unowned-library"),
    ]
    for f in report.findings:
        if f.id.startswith("suspicious-"):
            assert f.category is Category.MALICIOUS and f.severity is Severity.MEDIUM and f.title.startswith("Suspicious")
            assert "heuristic indicator" in f.description and f.remediation
    # signature hits keep their own ids and higher severities
    assert all(f.severity in (Severity.HIGH, Severity.CRITICAL) for f in report.findings if f.id.startswith("malware-"))


# --------------------------------------------------------------------------- clean bases


@pytest.fixture(scope="module")
def debian_base() -> bytes:
    if not DPKG_STATUS.is_file():
        pytest.skip("not a Debian machine")
    return build_layer_tar(merged_usr=True)[0]


def _clean(report: ScanReport) -> list[tuple[str, str]]:
    return sorted((f.id, f.location.path) for f in report.findings)


def test_clean_debian(debian_base: bytes, tmp_path: Path) -> None:
    report = _scan(tmp_path / "img", debian_base)
    assert report.os is not None and report.os.id == "debian" and len(report.packages) > 30
    assert _clean(report) == []


def test_clean_ubuntu_like(debian_base: bytes, tmp_path: Path) -> None:
    ubuntu = {"etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n',
              "etc/profile.d/01-locale-fix.sh": '# Make sure the locale variables are set to valid values.\neval $(/usr/bin/locale-check C.UTF-8)\n'}
    assert _clean(_scan(tmp_path / "img", debian_base, ubuntu)) == []


def _tar_tree(root: str, prefix: str, keep: int = 4000) -> bytes:
    """A tar of ``root``'s regular files and folders under ``prefix`` (at most ``keep`` files)."""
    buf = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if not os.path.isfile(full) or os.path.islink(full) or count >= keep:
                    continue
                tar.add(full, arcname=prefix + os.path.relpath(full, root), recursive=False)
                count += 1
    return buf.getvalue()


def test_clean_python_app(debian_base: bytes, tmp_path: Path) -> None:
    site = "/usr/lib/python3/dist-packages"
    if not os.path.isdir(site):
        pytest.skip("no system Python packages here")
    app = _tar_tree(site, "usr/local/lib/python3.11/site-packages/")
    main = {"app/main.py": "import yaml\nprint(yaml.safe_dump({'ok': True}))\n",
            "app/requirements.txt": "PyYAML==6.0\n"}
    assert _clean(_scan(tmp_path / "img", debian_base, app, main)) == []


def test_clean_node_app(debian_base: bytes, tmp_path: Path) -> None:
    npm = "/usr/lib/node_modules/npm"
    if not os.path.isdir(npm) or not os.path.isfile("/usr/bin/node"):
        pytest.skip("no node/npm here")
    node = {"usr/local/bin/node": F(Path("/usr/bin/node").read_bytes(), mode=0o755)}
    modules = _tar_tree(npm, "usr/local/lib/node_modules/npm/")
    app = {"app/package.json": '{"name": "app", "version": "1.0.0", "scripts": {"start": "node index.js"}}\n',
           "app/index.js": "require('http').createServer((q, r) => r.end('ok')).listen(8080)\n"}
    assert _clean(_scan(tmp_path / "img", debian_base, node, modules, app)) == []


APK_DB = Path(__file__).resolve().parents[1] / "data" / "os" / "apk" / "installed"


def test_clean_alpine_like(tmp_path: Path) -> None:
    files: dict[str, str | bytes | F] = {
        "etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
        "etc/alpine-release": "3.19.1\n",
        "lib/apk/db/installed": APK_DB.read_bytes(),
        "etc/profile": "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\numask 022\n"
                       "for script in /etc/profile.d/*.sh ; do\n  if [ -r \"$script\" ] ; then . \"$script\" ; fi\ndone\n",
        "etc/profile.d/locale.sh": "export CHARSET=${CHARSET:-UTF-8}\nexport LANG=${LANG:-C.UTF-8}\n",
        "etc/crontabs/root": "*/15\t*\t*\t*\t*\trun-parts /etc/periodic/15min\n0\t*\t*\t*\t*\trun-parts /etc/periodic/hourly\n",
        "etc/shadow": F(b"root:*::0:::::\n", mode=0o640),
    }
    folder = ""
    for line in APK_DB.read_text().splitlines():  # every file the database lists, as a real install lays them out
        if line.startswith("F:"):
            folder = line[2:]
        elif line.startswith("R:"):
            path = f"{folder}/{line[2:]}"
            files[path] = F(ELF if ".so" in path or folder.endswith("bin") else b"data\n",
                            mode=0o755 if folder.endswith("bin") or ".so" in path else 0o644)
    report = _scan(tmp_path / "img", files)
    assert report.os is not None and report.os.id == "alpine" and len(report.packages) == 8
    assert _clean(report) == []


def test_clean_distroless_like(debian_base: bytes, tmp_path: Path) -> None:
    """Distroless: no shell, no dpkg file lists (status.d entries only); libraries cannot be judged: a note."""
    with tarfile.open(fileobj=io.BytesIO(debian_base)) as t:
        libs = {m.name: F(t.extractfile(m).read(), mode=m.mode)  # type: ignore[union-attr]
                for m in t.getmembers() if m.isfile() and re.match(r"usr/lib/x86_64-linux-gnu/lib(?:c|m|pthread)\.so\.\d+$", m.name)}
    stanza = next(s for s in DPKG_STATUS.read_text().split("\n\n") if s.startswith("Package: libc6\n"))
    files: dict[str, str | bytes | F] = {
        "etc/os-release": 'PRETTY_NAME="Distroless"\nID=debian\nVERSION_ID="12"\n',
        "var/lib/dpkg/status.d/libc6": stanza.strip() + "\n",
        "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
        **libs,
    }
    report = _scan(tmp_path / "img", files)
    assert _clean(report) == []
