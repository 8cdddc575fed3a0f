from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runtime.containerd_server import Containerd, start_containerd
from tests.runtime.podman_server import Podman, start_podman


@pytest.fixture(scope="session")
def containerd() -> Iterator[Containerd]:
    """Debian's containerd on a private socket, root and state directory (skipped with a reason where it can't run)."""
    yield from start_containerd()


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    """Debian's podman serving the Docker API on a private socket with private storage (skipped with a printed
    reason where it can't run)."""
    yield from start_podman()
