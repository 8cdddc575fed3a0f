"""The cluster client against the recorded Kubernetes API (HTTPS on 127.0.0.1): kubeconfig contexts, distinct
verification errors, pagination, application attribution, running digests and pull secrets."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hullscan.runtime.cluster import list_cluster, parse_image_id, pull_secret_credentials
from hullscan.runtime.kube import (
    BAD_KUBECONFIG,
    MISSING_PERMISSION,
    TLS_FAILURE,
    UNAUTHENTICATED,
    UNREACHABLE,
    ClusterAuth,
    ClusterError,
    KubeClient,
    contexts_of,
    parse_kubeconfig,
)
from tests.helpers.kube_server import TOKEN, KubeAPI, dockerconfigjson, kube_api, kube_values


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeAPI]:
    yield from kube_api(tmp_path, kube_values())


def test_kubeconfig_context_choice_and_refusals(kube: KubeAPI, tmp_path: Path) -> None:
    text = kube.kubeconfig()
    assert contexts_of(text) == ["prod", "staging", "sso"]
    auth = parse_kubeconfig(text)
    assert (auth.server, auth.token, auth.context) == (kube.url, TOKEN, "prod")
    assert auth.ca_pem == kube.ca_pem
    assert parse_kubeconfig(text, "staging").server == "https://127.0.0.1:1"
    with pytest.raises(ClusterError, match=r"context 'nope' is not in the kubeconfig \(contexts: prod, sso, staging\)") as err:
        parse_kubeconfig(text, "nope")
    assert err.value.code == BAD_KUBECONFIG
    # an exec plugin is refused, never run: the command would leave a marker file
    marker = tmp_path / "ran"
    evil = kube.kubeconfig(extra_user={"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                "command": "/bin/sh", "args": ["-c", f"touch {marker}"]}})
    with pytest.raises(ClusterError, match=r"exec plugin \(/bin/sh\): hullscan never runs commands"):
        parse_kubeconfig(evil, "sso")
    assert not marker.exists()
    with pytest.raises(ClusterError, match="auth-provider"):
        parse_kubeconfig(kube.kubeconfig(extra_user={"auth-provider": {"name": "oidc"}}), "sso")
    with pytest.raises(ClusterError, match="points to a file"):
        parse_kubeconfig(text.replace('"certificate-authority-data"', '"certificate-authority"'))
    with pytest.raises(ClusterError, match="not valid YAML"):
        parse_kubeconfig("contexts: [unclosed")


def test_verify_tells_failures_apart(kube: KubeAPI) -> None:
    good = parse_kubeconfig(kube.kubeconfig())
    with KubeClient(good) as client:
        checked = client.verify()
    assert checked == {"version": "v1.29.4", "warnings": []}

    def failure(auth: ClusterAuth) -> ClusterError:
        with KubeClient(auth, timeout=5) as client, pytest.raises(ClusterError) as err:
            client.verify()
        return err.value

    assert failure(replace(good, server="https://127.0.0.1:1")).code == UNREACHABLE
    tls = failure(replace(good, ca_pem=""))  # the system CAs don't know the test CA
    assert tls.code == TLS_FAILURE and "CERTIFICATE_VERIFY_FAILED" in tls.message
    unauth = failure(replace(good, token="wrong"))
    assert unauth.code == UNAUTHENTICATED and "401 Unauthorized" in unauth.message
    kube.denied = {("list", "pods")}
    denied = failure(good)
    assert denied.code == MISSING_PERMISSION and denied.message == "missing permission: list pods"
    # no right to create SelfSubjectAccessReviews: the list's own 403 Status names the permission
    kube.ssar_forbidden = True
    denied = failure(good)
    assert denied.code == MISSING_PERMISSION and denied.message.startswith("missing permission: list pods (pods is forbidden")
    kube.ssar_forbidden, kube.denied = False, {("get", "secrets")}
    with KubeClient(good) as client:
        assert client.verify()["warnings"] == ["missing permission: get secrets: pods' imagePullSecrets can't be read"]


def test_pods_are_listed_through_every_page(kube: KubeAPI) -> None:
    with KubeClient(parse_kubeconfig(kube.kubeconfig())) as client:
        names = [p["metadata"]["name"] for p in client.list("/api/v1/pods", "pods")]
    assert len(names) == 7 and len(set(names)) == 7
    pod_requests = [q for method, path, q in kube.requests if path == "/api/v1/pods"]
    assert len(pod_requests) == 4  # 2 + 2 + 2 + 1
    assert "continue" not in pod_requests[0] and all("continue" in q for q in pod_requests[1:])
    assert all(q["limit"] == ["500"] for q in pod_requests)


def test_applications_and_running_digests(kube: KubeAPI) -> None:
    with KubeClient(parse_kubeconfig(kube.kubeconfig())) as client:
        inv = list_cluster(client)
    assert inv.namespaces == ["default", "kube-system", "ops", "shop"]
    apps = {(w.namespace, w.kind, w.name): w.containers for w in inv.workloads}
    assert set(apps) == {("default", "Pod", "debug"), ("kube-system", "Deployment", "coredns"),
                         ("ops", "DaemonSet", "agent"), ("shop", "CronJob", "report"), ("shop", "Deployment", "web"),
                         ("shop", "StatefulSet", "db")}  # the CronJob's Job is not an application of its own
    assert apps[("shop", "Deployment", "web")] == (("web", "127.0.0.1:5999/shop/web:1"),)
    running = {(r.namespace, r.pod): r for r in inv.running}
    assert set(running) == {("default", "debug"), ("ops", "agent-x2x9k"), ("shop", "db-0"),
                            ("shop", "web-7c9f8d6b5d-abcde"), ("shop", "web-7c9f8d6b5d-fghij")}  # Pending/Succeeded out
    web = running[("shop", "web-7c9f8d6b5d-abcde")]
    assert (web.workload_kind, web.workload_name) == ("Deployment", "web")  # through the ReplicaSet
    assert (web.repository, web.digest, web.pull_secrets) == ("127.0.0.1:5999/shop/web", "sha256:" + "a" * 64, ("regcred",))
    agent = running[("ops", "agent-x2x9k")]
    assert (agent.workload_kind, agent.repository) == ("DaemonSet", "127.0.0.1:9/ops/agent")  # docker-pullable:// stripped
    debug = running[("default", "debug")]
    assert debug.digest == "" and "only the local image ID" in debug.problem and debug.workload_kind == "Pod"
    scoped = list_cluster(KubeClient(parse_kubeconfig(kube.kubeconfig())), namespaces={"ops"})
    assert [w.name for w in scoped.workloads] == ["agent"] and [r.pod for r in scoped.running] == ["agent-x2x9k"]


def test_image_ids_and_pull_secrets() -> None:
    digest = "sha256:" + "c" * 64
    assert parse_image_id(f"docker-pullable://nginx@{digest}", "nginx:1") == ("docker.io/library/nginx", digest, "")
    assert parse_image_id(f"quay.io/org/app@{digest}", "quay.io/org/app:2") == ("quay.io/org/app", digest, "")
    assert parse_image_id("", "x")[2].startswith("no image digest")
    assert "invalid digest" in parse_image_id("repo@sha256:zz", "repo")[2]
    secret = {"data": {".dockerconfigjson": dockerconfigjson("reg.example:5000", "bob", "pw:with:colons")}}
    assert pull_secret_credentials(secret, "reg.example:5000") == ("bob", "pw:with:colons")
    assert pull_secret_credentials(secret, "other.example") is None
    legacy = {"data": {".dockercfg": base64.b64encode(
        b'{"https://reg.example:5000": {"auth": "' + base64.b64encode(b"al:ice") + b'"}}').decode()}}
    assert pull_secret_credentials(legacy, "reg.example:5000") == ("al", "ice")
    assert pull_secret_credentials({"data": {".dockerconfigjson": "not base64!"}}, "x") is None
