"""The analysis cache: one file per (layer blob digest, analyzer set).

Key = sha256 of the layer's blob digest (content-addressed and verified when read, so a cached result
always describes the bytes that hash to it), its diff_id, every analyzer's name and version, each
analyzer's ``cache_salt()`` (rule digests) and :data:`FORMAT`. Bumping an analyzer's version or editing
a rule file makes a new key: nothing needs purging by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from hullscan import serde
from hullscan.analyzers.base import Analyzer
from hullscan.errors import InputError
from hullscan.model import LayerResult

#: bump when LayerResult's stored shape changes
FORMAT = 3  # 2: LayerResult.links; 3: the layer's size and entry count (limits hold for cached layers)


def analyzer_fingerprint(analyzers: Sequence[Analyzer]) -> str:
    """A digest of the analyzer set: names, versions and salts."""
    h = hashlib.sha256()
    for a in sorted(analyzers, key=lambda a: a.name):
        h.update(f"{a.name}:{a.version}:{a.cache_salt()}\n".encode())
    return h.hexdigest()


def layer_key(blob_digest: str, diff_id: str, fingerprint: str) -> str:
    """The cache key of one layer's analysis."""
    return hashlib.sha256(f"v{FORMAT}|{blob_digest}|{diff_id}|{fingerprint}".encode()).hexdigest()


class LayerCache:
    """LayerResults stored as compressed JSON under ``<dir>/layers/``; safe against concurrent writers."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory) / "layers"

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json.z"

    def get(self, key: str) -> LayerResult | None:
        """The cached result, or None (missing or unreadable entries count as misses)."""
        path = self._path(key)
        try:
            data = json.loads(zlib.decompress(path.read_bytes()))
            return serde.load(LayerResult, data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, zlib.error):
            return None

    def put(self, key: str, result: LayerResult) -> None:
        """Store atomically (write aside, then rename)."""
        path = self._path(key)
        blob = zlib.compress(json.dumps(serde.to_data(result), separators=(",", ":")).encode(), 3)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as exc:
            raise InputError(
                f"cache folder {self.dir.parent}: cannot write ({exc.strerror or exc}): pass --cache-dir DIR or --no-cache"
            ) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def size(self) -> tuple[int, int]:
        """(entries, bytes) currently stored."""
        n = total = 0
        if self.dir.exists():
            for p in self.dir.rglob("*.json.z"):
                n += 1
                total += p.stat().st_size
        return n, total


def clean(directory: Path) -> tuple[int, int]:
    """Remove the layer cache under ``directory``; returns what was removed (entries, bytes)."""
    cache = LayerCache(directory)
    removed = cache.size()
    if cache.dir.exists():
        shutil.rmtree(cache.dir)
    return removed
