"""Small helpers for server tests that drive task functions directly (no HTTP)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hullscan.server.db.models import Registry, Repository, Task
from hullscan.server.registries import apply_fields
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import create_task, run_task
from tests.helpers.registry_server import RegistryServer


def add_registry_row(rt: Runtime, registry: RegistryServer, name: str, rate_limit: int = 10) -> int:
    """Insert a plain-v2 registry entry for ``registry`` (already verified elsewhere)."""
    host, port = registry.host.split(":")
    with rt.session() as s:
        row = Registry()
        apply_fields(row, {"name": name, "type": "registry", "version": "v2", "protocol": "http", "ip": host,
                           "port": int(port), "rate_limit": rate_limit}, rt.secrets)
        s.add(row)
        s.flush()
        return row.id


def run(rt: Runtime, kind: str, params: dict[str, Any]) -> Task:
    """Create a task and run it to completion in this thread."""
    task_id = create_task(rt, kind, params, user="tests", enqueue=False)
    run_task(rt, task_id)
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task


def repo_ids(rt: Runtime, registry_id: int, prefix: str) -> list[int]:
    """Ids of a registry's repositories whose name starts with ``prefix``."""
    with rt.session() as s:
        return list(s.scalars(select(Repository.id).where(Repository.registry_id == registry_id,
                                                          Repository.name.startswith(prefix)).order_by(Repository.name)))
