"""The plain Distribution v2 provider against real ``docker-registry`` instances (anonymous and token auth),
the stop request of a scan task, and Quay push notifications resolved through the Quay API."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hullscan.server.db.models import Registry, TaskItem
from hullscan.server.providers import provider_for
from hullscan.server.providers.base import Connection, Namespace, ProviderError
from hullscan.server.pushhooks import PushError, resolve_quay
from hullscan.server.registries import apply_fields
from hullscan.server.tasks import create_task, run_task
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import make_runtime, python_image
from tests.server.helpers import add_registry_row, repo_ids, run
from tests.server.recorded import serve_recording


def v2(server: RegistryServer, username: str = "", password: str = "") -> Connection:
    host, port = server.host.split(":")
    return Connection(type="registry", version="v2", protocol="http", host=host, port=int(port),
                      username=username, password=password)


def test_v2_lists_catalog_tags_digests_and_created_time(registry: RegistryServer) -> None:
    image = python_image(("six", "1.16.0"))
    push_image(registry, image, "v2test/one", "a")
    push_image(registry, image, "v2test/one", "b")
    p = provider_for(v2(registry))
    p.verify()
    repo = next(r for r in p.repositories() if r.name == "v2test/one")
    assert repo.pull_prefix == f"{registry.host}/v2test/one"
    tags = p.tags(repo)
    assert [(t.tag, t.digest) for t in tags] == [("a", image.digest), ("b", image.digest)]


def test_v2_token_auth_error_codes(token_registry: RegistryServer) -> None:
    push_image(token_registry, python_image(("six", "1.15.0")), "v2test/tok", "1")
    good = provider_for(v2(token_registry, token_registry.username, token_registry.password))
    good.verify()
    assert "v2test/tok" in [r.name for r in good.repositories()]
    with pytest.raises(ProviderError) as err:
        provider_for(v2(token_registry, token_registry.username, "wrong")).verify()
    assert err.value.code == "FailedToVerifyUsernameOrPwd"
    with pytest.raises(ProviderError) as err:
        provider_for(v2(token_registry)).verify()  # anonymous: a token without catalog access
    assert err.value.code in ("UserDoesNotHaveAdminRole", "FailedToVerifyUsernameOrPwd")


def test_stop_request_marks_the_rest(tmp_path: Path, registry: RegistryServer, vulndb: Path) -> None:
    for n in range(3):
        push_image(registry, python_image(("idna", f"3.{n}")), f"stop/app{n}", "1")
    rt = make_runtime(tmp_path, vulndb)
    rid = add_registry_row(rt, registry, "stop", rate_limit=0)
    run(rt, "sync", {"registry_ids": [rid]})
    task_id = create_task(rt, "scan", {"repository_ids": repo_ids(rt, rid, "stop/")}, enqueue=False)
    calls = []
    real = rt.scan_fn

    def scan_then_stop(ref, options):  # type: ignore[no-untyped-def]
        calls.append(ref)
        from hullscan.server.db.models import Task

        with rt.session() as s:
            s.get(Task, task_id).stop_requested = True  # type: ignore[union-attr]
        return real(ref, options)

    rt.scan_fn = scan_then_stop
    run_task(rt, task_id)
    with rt.session() as s:
        from hullscan.server.db.models import Task

        task = s.get(Task, task_id)
        statuses = [i.status for i in s.scalars(select(TaskItem).where(TaskItem.task_id == task_id).order_by(TaskItem.id))]
        assert task is not None and task.status == "stopped" and "stopped by a user" in task.error
    assert len(calls) == 1 and statuses == ["succeeded", "not scanned: stopped", "not scanned: stopped"]


def test_quay_notification_resolves_digests_through_the_api(tmp_path: Path) -> None:
    rt = make_runtime(tmp_path)
    with serve_recording("quay") as (base, _):
        host, port = base.removeprefix("http://").split(":")
        with rt.session() as s:
            row = Registry()
            apply_fields(row, {"name": "quay", "type": "quay", "version": "v1", "protocol": "http", "ip": host,
                               "port": int(port), "namespaces": [{"name": "acme", "token": "quay-org-token-acme"}]}, rt.secrets)
            s.add(row)
        pushes = resolve_quay(rt, {"repository": "acme/web", "namespace": "acme", "name": "web",
                                   "docker_url": f"{host}:{port}/acme/web", "homepage": "", "updated_tags": ["v1"]})
        assert [(p.repository, p.tag, p.digest) for p in pushes] == [("acme/web", "v1", "sha256:" + "b2" * 32)]
        with pytest.raises(PushError):
            resolve_quay(rt, {"repository": "x/y", "docker_url": "elsewhere.test/x/y", "updated_tags": []})
    assert Namespace("acme", "t").name == "acme"
