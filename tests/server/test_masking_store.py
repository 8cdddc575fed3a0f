"""Issue 16.2 through the server: the image of tests/checks/planted.py is synced and scanned by a task with
every check on; no API answer (findings, images, packages, tasks and their logs), no row of any table of the
store and no log record repeats a planted secret in clear."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from hullscan.server.runtime import Runtime
from tests.checks.planted import CLEAR, planted_image
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import wait_task
from tests.server.test_e2e_registry import add_registry


def test_store_api_and_logs_keep_secrets_masked(api: Any, rt: Runtime, registry: RegistryServer,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    push_image(registry, planted_image(), "mask/app", "1")
    cur = api.get("/api/settings").json()
    assert api.put("/api/settings", json={"version": cur["version"], "settings": {
        "checks": {"sensitive": True, "baseline": True, "malware": True, "history": True}}}).status_code == 200
    reg = add_registry(api, registry, name="mask", rate_limit="unlimited")
    wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
    task = wait_task(api, api.post("/api/tasks/scan", json={"registry_ids": [reg["id"]]}).json()["id"])
    assert task["status"] == "succeeded", task

    findings = api.get("/api/findings", params={"page_size": 500, "include_suppressed": True}).json()["items"]
    assert {"history-password-chpasswd", "history-secret-in-arg", "secret-github-pat"} <= {f["rule_id"] for f in findings}
    texts = [api.get("/api/findings", params={"page_size": 500, "include_suppressed": True}).text,
             api.get(f"/api/tasks/{task['id']}/logs").text, api.get(f"/api/tasks/{task['id']}/items").text]
    texts += [api.get(f"/api/findings/{f['id']}").text for f in findings]
    for image in api.get("/api/images").json()["items"]:
        texts += [api.get(f"/api/images/{image['id']}").text, api.get(f"/api/images/{image['id']}/packages").text]
    meta = MetaData()
    meta.reflect(rt.engine)
    with rt.engine.connect() as conn:
        for table in meta.sorted_tables:
            texts += [repr(tuple(row)) for row in conn.execute(select(table))]
    texts += [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    for value in CLEAR:
        assert not [t for t in texts if value in t], f"{value} in clear in the server's store, API or logs"
