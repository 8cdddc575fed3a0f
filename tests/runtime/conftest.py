from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runtime.containerd_server import Containerd, start_containerd


@pytest.fixture(scope="session")
def containerd() -> Iterator[Containerd]:
    """Debian's containerd on a private socket, root and state directory (skipped with a reason where it can't run)."""
    yield from start_containerd()
