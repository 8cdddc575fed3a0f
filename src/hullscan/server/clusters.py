"""Kubernetes clusters of the security center: credentials in and out of the store (encrypted, never returned),
verification, and the asset sync task (namespaces and applications with their containers).

The console and the API call these functions; the cluster client is :mod:`hullscan.runtime.kube`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from hullscan.runtime.cluster import list_cluster
from hullscan.runtime.kube import BAD_KUBECONFIG, ClusterAuth, ClusterError, KubeClient, parse_kubeconfig
from hullscan.server.crypto import SecretBox, SecretKeyError
from hullscan.server.db.models import Cluster, ClusterWorkload, Task
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import add_log, finish

#: the console's name of the runtime scan task kind
RUNTIME_SCAN_LABEL = "Container Runtime Image Scan"


def auth_from_input(kubeconfig: str | None, context: str | None, server: str | None, token: str | None,
                    ca_pem: str | None, insecure: bool = False) -> ClusterAuth:
    """A :class:`ClusterAuth` from a kubeconfig (with a context, default its current one) or from URL + token + CA."""
    if kubeconfig:
        return parse_kubeconfig(kubeconfig, context or None)
    if not server or not token:
        raise ClusterError(BAD_KUBECONFIG, "give a kubeconfig, or the API server URL and a bearer token")
    if not server.startswith("https://"):
        raise ClusterError(BAD_KUBECONFIG, f"API server URL {server!r}: expected https://HOST[:PORT]")
    return ClusterAuth(server=server.rstrip("/"), ca_pem=ca_pem or "", token=token, insecure_skip_tls_verify=insecure)


def store_auth(row: Cluster, auth: ClusterAuth, box: SecretBox) -> None:
    """Copy ``auth`` onto a row, the secret part encrypted."""
    row.server = auth.server
    row.context = auth.context
    row.ca_pem = auth.ca_pem
    row.insecure_skip_tls_verify = auth.insecure_skip_tls_verify
    row.auth_type = "token" if auth.token else "client-certificate"
    row.credentials_enc = box.encrypt_json(auth.secrets())


def auth_of(row: Cluster, box: SecretBox) -> ClusterAuth:
    """The decrypted connection settings of a cluster row."""
    try:
        creds = box.decrypt_json(row.credentials_enc) or {}
    except SecretKeyError as exc:
        raise ClusterError(BAD_KUBECONFIG, f"cluster {row.name!r}: {exc}") from None
    return ClusterAuth(server=row.server, ca_pem=row.ca_pem, token=str(creds.get("token", "")),
                       client_cert_pem=str(creds.get("client_cert_pem", "")),
                       client_key_pem=str(creds.get("client_key_pem", "")),
                       insecure_skip_tls_verify=row.insecure_skip_tls_verify, context=row.context)


def verify(auth: ClusterAuth, timeout: float = 15.0) -> dict[str, Any]:
    """Reachability, TLS, authentication and permissions (:meth:`KubeClient.verify`); ClusterError otherwise."""
    with KubeClient(auth, timeout=timeout) as client:
        return client.verify()


def cluster_out(row: Cluster, workloads: int = 0) -> dict[str, Any]:
    """The public view of a cluster (no token, no key)."""
    from hullscan.server.timeutil import iso

    return {"id": row.id, "name": row.name, "server": row.server, "context": row.context,
            "environment": row.environment, "auth_type": row.auth_type, "has_credentials": bool(row.credentials_enc),
            "has_ca": bool(row.ca_pem), "insecure_skip_tls_verify": row.insecure_skip_tls_verify,
            "has_registry_ca": bool(row.registry_ca_pem), "version": row.version, "workloads": workloads,
            "created_at": iso(row.created_at), "last_verified_at": iso(row.last_verified_at),
            "last_sync_at": iso(row.last_sync_at)}


def workload_out(w: ClusterWorkload) -> dict[str, Any]:
    """The public view of an application."""
    from hullscan.server.timeutil import iso

    return {"id": w.id, "cluster_id": w.cluster_id, "namespace": w.namespace, "kind": w.kind, "name": w.name,
            "containers": w.containers, "in_scope": w.in_scope, "last_seen_at": iso(w.last_seen_at)}


def _cluster_ids(rt: Runtime, params: dict[str, Any]) -> list[int]:
    with rt.session() as s:
        q = select(Cluster.id).order_by(Cluster.id)
        if params.get("cluster_ids"):
            q = q.where(Cluster.id.in_([int(x) for x in params["cluster_ids"]]))
        return list(s.scalars(q))


def sync_cluster(rt: Runtime, cluster_id: int, timeout: float = 15.0) -> tuple[int, int]:
    """List one cluster's namespaces and applications into the store (new ones in scope, vanished ones removed,
    the scope choice of the others kept). Returns (applications, namespaces)."""
    with rt.session() as s:
        row = s.get(Cluster, cluster_id)
        if row is None:
            raise ClusterError(BAD_KUBECONFIG, f"cluster {cluster_id} no longer exists")
        auth = auth_of(row, rt.secrets)
    with KubeClient(replace(auth), timeout=timeout) as client:
        inv = list_cluster(client)
    now = rt.now()
    with rt.session() as s:
        existing = {(w.namespace, w.kind, w.name): w for w in
                    s.scalars(select(ClusterWorkload).where(ClusterWorkload.cluster_id == cluster_id))}
        seen = set()
        for w in inv.workloads:
            key = (w.namespace, w.kind, w.name)
            seen.add(key)
            containers = [{"name": n, "image": i} for n, i in w.containers]
            row_w = existing.get(key)
            if row_w is None:
                s.add(ClusterWorkload(cluster_id=cluster_id, namespace=w.namespace, kind=w.kind, name=w.name,
                                      containers=containers, in_scope=True, last_seen_at=now))
            else:
                row_w.containers, row_w.last_seen_at = containers, now
        for key, row_w in existing.items():
            if key not in seen:
                s.delete(row_w)
        cluster = s.get(Cluster, cluster_id)
        assert cluster is not None
        cluster.last_sync_at = now
    return len(inv.workloads), len(inv.namespaces)


def run_cluster_sync(rt: Runtime, task_id: int) -> None:
    """The ``cluster-sync`` task: sync each cluster of ``params.cluster_ids`` (all when empty)."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params = dict(task.params or {})
    ids = _cluster_ids(rt, params)
    failed = []
    for cluster_id in ids:
        try:
            apps, namespaces = sync_cluster(rt, cluster_id)
        except ClusterError as exc:
            failed.append(cluster_id)
            add_log(rt, task_id, f"cluster {cluster_id}: {exc.code}: {exc.message}", "error")
            continue
        add_log(rt, task_id, f"cluster {cluster_id}: {apps} applications in {namespaces} namespaces")
    result = {"clusters": len(ids), "failed": len(failed)}
    if failed and len(failed) == len(ids):
        finish(rt, task_id, "failed", f"all {len(ids)} clusters failed (see log)", result)
    elif failed:
        finish(rt, task_id, "partially failed", f"{len(failed)} of {len(ids)} clusters failed (see log)", result)
    else:
        finish(rt, task_id, "succeeded", "", result)
