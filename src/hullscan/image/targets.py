"""Turning a scan target (a path or a reference) into an image source: a local OCI layout, an OCI or docker-save
archive, a root-filesystem directory (returned as a Path), or a registry reference. Kept light to import: the CLI
opens a local archive before it loads the rest of the scan pipeline."""

from __future__ import annotations

from pathlib import Path

from hullscan.errors import InputError
from hullscan.image.source import ImageSource
from hullscan.options import ScanOptions

#: image names served by a container runtime's API (hullscan.runtime)
RUNTIME_SCHEMES = ("containerd://", "docker://", "podman://")


def open_source(target: str, options: ScanOptions) -> ImageSource | Path:
    """The source for ``target``: a local path (layout dir, archive, rootfs dir; explicit ``oci:``,
    ``oci-archive:``, ``docker-archive:``, ``dir:`` prefixes with an optional ``:TAG``), an image of a container
    runtime (``containerd://NAMESPACE/REF``, ``docker://REF``, ``podman://REF``) or a registry reference.
    A rootfs directory is returned as a Path."""
    from hullscan.image.local import DockerArchiveSource, OCILayoutSource, sniff_archive

    if target.startswith(RUNTIME_SCHEMES):
        from hullscan.runtime.sources import runtime_source

        return runtime_source(target, options)
    scheme, _, rest = target.partition(":")
    if scheme in ("oci", "oci-archive", "docker-archive", "dir") and rest:
        where, tag = _split_tag(rest)
        if scheme == "dir":
            return Path(where)
        if not _exists(Path(where)):
            raise InputError(f"{where}: no such file or directory")
        if scheme == "docker-archive":
            return DockerArchiveSource(where, tag)
        return OCILayoutSource(where, tag)
    path = Path(target)
    if _exists(path):
        if path.is_dir():
            if (path / "oci-layout").exists() or (path / "index.json").exists():
                return OCILayoutSource(path)
            return path
        kind = sniff_archive(path)
        return DockerArchiveSource(path) if kind == "docker-archive" else OCILayoutSource(path)
    if target.startswith(("/", "./", "../")):
        raise InputError(f"{target}: no such file or directory")
    from hullscan.image.registry_source import RegistrySource

    return RegistrySource(target, options.registry)


def _exists(path: Path) -> bool:
    """``path.exists()``, False for a name the OS refuses (too long, NUL byte) instead of an OSError."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _split_tag(rest: str) -> tuple[str, str | None]:
    if _exists(Path(rest)):
        return rest, None
    path, sep, tag = rest.rpartition(":")
    return (path, tag) if sep and path and "/" not in tag else (rest, None)
