"""Clusters and the container runtime scan, end to end through the API: a cluster added from a kubeconfig (context
chosen, credentials verified and never returned), its applications synced, running pods' images scanned by digest
(a pod's imagePullSecret for the real basic-auth ``docker-registry``, the configured registry's own settings for
another), per-container failures, drift, and the results filterable by where they run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hullscan.server.db.models import Cluster, TaskItem
from tests.helpers.kube_server import TOKEN, KubeAPI, dockerconfigjson, kube_api, kube_values
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import URLLIB3_VULN, python_image, wait_task


@pytest.fixture
def fleet(tmp_path: Path, registry: RegistryServer, basic_registry: RegistryServer) -> Iterator[dict[str, Any]]:
    """Images in two real registries and the recorded cluster API whose pods run them."""
    web = python_image(("urllib3", "1.26.4"), extra={"/srv/web/app.py": "print('web')\n"})
    push_image(basic_registry, web, "shop/web", "1")
    db_v1 = python_image(("requests", "2.31.0"), extra={"/srv/db/v": "1\n"})
    push_image(registry, db_v1, "shop/db", "1")
    values = kube_values(registry=basic_registry.host, db_registry=registry.host, web_digest=web.digest,
                         db_digest=db_v1.digest,
                         secret=dockerconfigjson(basic_registry.host, basic_registry.username, basic_registry.password))
    for api in kube_api(tmp_path, values):
        yield {"api": api, "web": web, "db_v1": db_v1}


def _add_cluster(api: Any, kube: KubeAPI, basic_registry: RegistryServer, **extra: Any) -> Any:
    body = {"name": "prod", "environment": "production", "kubeconfig": kube.kubeconfig(), "context": "prod",
            "registry_ca_pem": Path(basic_registry.ca_bundle or "").read_text(), **extra}
    return api.post("/api/clusters", json=body)


def test_cluster_add_is_verified_and_secrets_never_returned(api: Any, rt: Any, fleet: dict[str, Any],
                                                            basic_registry: RegistryServer) -> None:
    kube: KubeAPI = fleet["api"]
    bad = _add_cluster(api, kube, basic_registry, context="nope")
    assert bad.status_code == 400 and bad.json()["code"] == "KubeconfigError"
    assert "context 'nope' is not in the kubeconfig" in bad.json()["message"]
    execd = _add_cluster(api, kube, basic_registry, context="sso")
    assert execd.status_code == 400 and "exec plugin" in execd.json()["message"]
    unauth = _add_cluster(api, kube, basic_registry, kubeconfig=None, context=None, server=kube.url, token="wrong",
                          ca_pem=kube.ca_pem)
    assert unauth.status_code == 400 and unauth.json()["code"] == "ClusterUnauthenticated"
    kube.denied = {("list", "pods")}
    denied = _add_cluster(api, kube, basic_registry)
    assert denied.status_code == 400 and denied.json() == {"code": "ClusterMissingPermission",
                                                           "message": "missing permission: list pods"}
    kube.denied = set()
    unreachable = _add_cluster(api, kube, basic_registry, kubeconfig=kube.kubeconfig(context="staging"), context=None)
    assert unreachable.status_code == 400 and unreachable.json()["code"] == "ClusterUnreachable"
    assert api.get("/api/clusters").json() == []  # nothing stored by a failed verification

    added = _add_cluster(api, kube, basic_registry)
    assert added.status_code == 201, added.text
    out = added.json()
    assert out["server"] == kube.url and out["context"] == "prod" and out["version"] == "v1.29.4"
    assert out["auth_type"] == "token" and out["has_credentials"] is True
    for listing in (api.get("/api/clusters").text, api.get(f"/api/clusters/{out['id']}").text, added.text):
        assert TOKEN not in listing and '"token":' not in listing
    with rt.session() as s:
        row = s.get(Cluster, out["id"])
        assert TOKEN not in row.credentials_enc and rt.secrets.decrypt_json(row.credentials_enc)["token"] == TOKEN
    assert _add_cluster(api, kube, basic_registry).status_code == 409
    assert api.post(f"/api/clusters/{out['id']}/verify").json()["ok"] is True
    # an uploaded kubeconfig file, choosing its context
    up = api.post("/api/clusters/upload", files={"kubeconfig": ("config", kube.kubeconfig().encode())},
                  data={"name": "prod-upload", "context": "prod"})
    assert up.status_code == 201, up.text
    assert api.post("/api/clusters/contexts", json={"kubeconfig": kube.kubeconfig()}).json() == {
        "contexts": ["prod", "staging", "sso"]}


def test_runtime_scan_by_digest_with_pull_secret_drift_and_filters(api: Any, rt: Any, fleet: dict[str, Any],
                                                                  registry: RegistryServer,
                                                                  basic_registry: RegistryServer) -> None:
    kube: KubeAPI = fleet["api"]
    host, port = registry.host.split(":")
    reg = api.post("/api/registries", json={"name": "shop-registry", "type": "registry", "protocol": "http", "ip": host,
                                            "port": int(port), "rate_limit": 100_000})
    assert reg.status_code == 201, reg.text
    reg_id = reg.json()["id"]
    assert wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg_id]}).json()["id"])["status"] == "succeeded"
    # the tag the StatefulSet runs moves to a new image after the pod started
    push_image(registry, python_image(("requests", "2.32.3"), extra={"/srv/db/v": "2\n"}), "shop/db", "1")
    assert wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg_id]}).json()["id"])["status"] == "succeeded"

    cluster = _add_cluster(api, kube, basic_registry).json()
    sync = wait_task(api, api.post("/api/clusters/sync", json={"cluster_ids": [cluster["id"]]}).json()["task_id"])
    assert sync["status"] == "succeeded", api.get(f"/api/tasks/{sync['id']}/logs").json()
    assert sync["result"] == {"clusters": 1, "failed": 0}
    apps = {(w["namespace"], w["kind"], w["name"]): w for w in api.get(f"/api/clusters/{cluster['id']}/workloads").json()}
    assert set(apps) == {("default", "Pod", "debug"), ("kube-system", "Deployment", "coredns"),
                         ("ops", "DaemonSet", "agent"), ("shop", "CronJob", "report"), ("shop", "Deployment", "web"),
                         ("shop", "StatefulSet", "db")}
    assert apps[("shop", "Deployment", "web")]["containers"] == [{"name": "web", "image": f"{basic_registry.host}/shop/web:1"}]

    task = wait_task(api, api.post("/api/runtime/scans", json={"cluster_ids": [cluster["id"]]}).json()["task_id"], 120)
    logs = [line["message"] for line in api.get(f"/api/tasks/{task['id']}/logs").json()["items"]]
    assert task["kind"] == "runtime-scan"
    # the agent's registry can't be reached: reported for its container, the task went on and scanned the others
    assert task["status"] == "partially failed", logs
    assert task["progress"] == {"done": 3, "total": 3}  # web (2 pods, 1 digest), db, agent
    assert any(m.startswith("ops/agent-x2x9k/agent (127.0.0.1:9/ops/agent:2.4) failed:") for m in logs), logs
    assert any("default/debug/shell (localhost/debug-tools:dev) not scanned: no registry digest" in m for m in logs), logs
    with rt.session() as s:
        items = {i.reference: i for i in s.scalars(select(TaskItem).where(TaskItem.task_id == task["id"]))}
        web_item = items[f"{basic_registry.host}/shop/web@{fleet['web'].digest}"]
        assert web_item.status == "succeeded" and web_item.registry_id is None
        assert web_item.credentials_enc == ""  # the pull secret was kept (encrypted) for the task's run only
        assert items[f"{registry.host}/shop/db@{fleet['db_v1'].digest}"].registry_id == reg_id

    running = api.get("/api/runtime/containers", params={"environment": "production"}).json()
    by_pod = {(r["namespace"], r["pod"]): r for r in running}
    assert set(by_pod) == {("default", "debug"), ("ops", "agent-x2x9k"), ("shop", "db-0"),
                           ("shop", "web-7c9f8d6b5d-abcde"), ("shop", "web-7c9f8d6b5d-fghij")}
    web = by_pod[("shop", "web-7c9f8d6b5d-abcde")]
    assert web["workload"] == {"kind": "Deployment", "name": "web"} and web["container"] == "web"
    assert web["digest"] == fleet["web"].digest and web["access"] == "pull-secret"
    assert web["scan_status"] == "succeeded" and web["findings"] >= 1
    assert web["drift"] == "not-in-registry"  # its registry is not a configured one
    db = by_pod[("shop", "db-0")]
    assert db["access"] == "registry" and db["drift"] == "tag-moved" and "now points to" in db["drift_detail"]
    assert by_pod[("default", "debug")]["access"] == "none" and "local image ID" in by_pod[("default", "debug")]["problem"]
    assert api.get("/api/runtime/containers", params={"environment": "staging"}).json() == []
    assert {r["pod"] for r in api.get("/api/runtime/containers", params={"drift": "true"}).json()} >= {"db-0"}
    # the findings are the image's: shown on the image, with where it runs
    findings = api.get("/api/findings", params={"category": "vulnerability", "image_id": web["image_id"]}).json()
    assert URLLIB3_VULN in {f["rule_id"] for f in findings["items"]}
    where = api.get(f"/api/runtime/images/{web['image_id']}").json()
    assert sorted(r["pod"] for r in where["running"]) == ["web-7c9f8d6b5d-abcde", "web-7c9f8d6b5d-fghij"]
    assert {r["environment"] for r in where["running"]} == {"production"}
    failures = api.get(f"/api/runtime/scans/{task['id']}/containers").json()
    assert {(f["pod"], f["status"]) for f in failures} == {("agent-x2x9k", "failed"),
                                                           ("debug", "not scanned: no registry digest")}

    # scope: the DaemonSet out, a new scan no longer covers it
    put = api.put(f"/api/clusters/{cluster['id']}/scope",
                  json={"workload_ids": [apps[("ops", "DaemonSet", "agent")]["id"]], "in_scope": False})
    assert put.json() == {"updated": 1}
    second = wait_task(api, api.post("/api/runtime/scans", json={}).json()["task_id"], 120)
    assert second["status"] == "succeeded", second
    pods = {r["pod"] for r in api.get("/api/runtime/containers", params={"cluster_id": cluster["id"]}).json()}
    assert "agent-x2x9k" not in pods and "db-0" in pods
    assert json.dumps(api.get("/api/tasks", params={"kind": "runtime-scan"}).json()).count('"runtime-scan"') == 2
