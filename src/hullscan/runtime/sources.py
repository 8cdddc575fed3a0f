"""``containerd://``, ``docker://`` and ``podman://`` scan targets -> image sources."""

from __future__ import annotations

from hullscan.image.source import ImageSource
from hullscan.options import ScanOptions


def runtime_source(target: str, options: ScanOptions) -> ImageSource:
    """The source for a runtime target: ``containerd://NAMESPACE/REF`` (socket: ``$CONTAINERD_ADDRESS``, else
    containerd's default), ``docker://REF`` (``$DOCKER_HOST``, else ``/var/run/docker.sock``) or ``podman://REF``
    (``$CONTAINER_HOST``, else podman's rootful then rootless service socket)."""
    if target.startswith("containerd://"):
        from hullscan.runtime.containerd import ContainerdSource, parse_target

        namespace, name = parse_target(target)
        return ContainerdSource(name, namespace)
    from hullscan.runtime.dockerapi import DockerAPISource, default_socket

    engine, _, ref = target.partition("://")
    source: ImageSource = DockerAPISource(ref, default_socket(engine), engine=engine)
    return source
