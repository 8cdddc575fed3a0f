"""hullscan.oci: beneath both the image sources and the registry client; the one background digest check."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hullscan.errors import BlobError, DigestMismatchError
from hullscan.oci import BACKGROUND_HASH_MIN, BackgroundDigest, VerifyingReader, digest_bytes


def test_registry_and_image_import_no_cycle() -> None:
    code = ("import sys\n"
            "import hullscan.registry.client\n"
            "print(sorted(m for m in sys.modules if m.startswith('hullscan.image')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the registry client needs hullscan.oci, never the image package
    code = "import hullscan.image.source, sys; print('hullscan.registry' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_file_region_digest(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40_000  # ~10 MB
    path = tmp_path / "blob"
    path.write_bytes(b"HEAD" + data + b"TAIL")
    BackgroundDigest.of_file(path, 4, len(data), digest_bytes(data), "layer a").verify()
    with pytest.raises(DigestMismatchError, match="layer b: digest mismatch"):
        BackgroundDigest.of_file(path, 3, len(data), digest_bytes(data), "layer b").verify()
    with pytest.raises(BlobError, match=f"layer c: truncated: got {len(data) + 4} of {len(data) + 10} bytes"):
        BackgroundDigest.of_file(path, 4, len(data) + 10, digest_bytes(data), "layer c").verify()
    with pytest.raises(BlobError, match="layer d: cannot read"):
        BackgroundDigest.of_file(tmp_path / "gone", 0, 10, digest_bytes(b""), "layer d").verify()


def test_stream_digest_and_verifying_reader() -> None:
    data = b"x" * (BACKGROUND_HASH_MIN + 12345)  # above the threshold: hashed on the helper thread
    before = threading.active_count()
    reader = VerifyingReader(io.BytesIO(data), digest_bytes(data), len(data), "blob a")
    assert threading.active_count() == before + 1
    reader.drain()
    assert threading.active_count() == before
    bad = data[:-1] + b"y"
    with pytest.raises(DigestMismatchError, match="blob b: digest mismatch"):
        VerifyingReader(io.BytesIO(bad), digest_bytes(data), len(data), "blob b").drain()
    with pytest.raises(BlobError, match="blob c: truncated"):
        VerifyingReader(io.BytesIO(data[:-5]), digest_bytes(data), len(data), "blob c").drain()
    small = b"small"
    VerifyingReader(io.BytesIO(small), digest_bytes(small), 5, "blob d").drain()  # hashed inline
    stopped = VerifyingReader(io.BytesIO(data), digest_bytes(data), len(data), "blob e")
    stopped.read(1000)
    stopped.close()  # a reader closed early stops its helper thread
    stopped._background._thread.join(5)  # type: ignore[union-attr]
    assert not stopped._background._thread.is_alive()  # type: ignore[union-attr]


def test_no_private_thread_api_in_the_sources() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "hullscan"
    offenders = [str(p) for p in src.rglob("*.py") if "import _thread" in p.read_text() or "re._parser" in p.read_text()
                 or "from re import _" in p.read_text()]
    assert offenders == []
