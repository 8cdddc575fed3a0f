"""Images where they run: containerd's content store (gRPC), a Docker-API socket (Docker Engine, Podman), and the
containers of a node. Each runtime is an :class:`~hullscan.image.source.ImageSource` the scan reads like a registry.

``containerd_api`` holds the Python gRPC stubs generated from containerd's .proto files by
``scripts/gen-containerd-api`` (committed: an install needs ``grpcio`` and ``protobuf`` only, no compiler).
"""
