"""``/api/clusters`` and ``/api/runtime``: Kubernetes clusters (added verified; credentials never returned), their
applications and scan scope, the container runtime scan task, and where each image runs.

Thin: the work is in :mod:`hullscan.server.clusters` and :mod:`hullscan.server.runtime_scan`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from hullscan.runtime.kube import ClusterError, contexts_of
from hullscan.server.api.deps import RT, Admin, BodyId, Operator, PathId, Store, Viewer, api_error, get_or_404
from hullscan.server.clusters import (
    RUNTIME_SCAN_LABEL,
    auth_from_input,
    cluster_out,
    store_auth,
    verify,
    workload_out,
)
from hullscan.server.db.models import Cluster, ClusterWorkload, FindingRow, Image, RunningContainer
from hullscan.server.tasks import create_task
from hullscan.server.timeutil import iso

router = APIRouter(tags=["clusters"])
MAX_KUBECONFIG = 256 * 1024


class ClusterIn(BaseModel):
    """A cluster: a kubeconfig (pasted; ``context`` chooses one, default its current one) or server + token + CA."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    environment: str = Field(default="", max_length=50, description="e.g. production, staging (filters results)")
    kubeconfig: str | None = Field(default=None, max_length=MAX_KUBECONFIG)
    context: str | None = Field(default=None, max_length=200)
    server: str | None = Field(default=None, max_length=500)
    token: str | None = Field(default=None, max_length=16384)
    ca_pem: str | None = Field(default=None, max_length=65536)
    insecure_skip_tls_verify: bool = False
    registry_ca_pem: str = Field(default="", max_length=65536, description="CA (PEM) of registries reached with pull secrets")


class ClusterUpdate(BaseModel):
    """Partial update: new credentials are verified first; absent ones stay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    environment: str | None = Field(default=None, max_length=50)
    kubeconfig: str | None = Field(default=None, max_length=MAX_KUBECONFIG)
    context: str | None = Field(default=None, max_length=200)
    server: str | None = Field(default=None, max_length=500)
    token: str | None = Field(default=None, max_length=16384)
    ca_pem: str | None = Field(default=None, max_length=65536)
    registry_ca_pem: str | None = Field(default=None, max_length=65536)


class KubeconfigIn(BaseModel):
    """A pasted kubeconfig."""

    model_config = ConfigDict(extra="forbid")
    kubeconfig: str = Field(min_length=1, max_length=MAX_KUBECONFIG)


class ScopeIn(BaseModel):
    """Applications to put in or out of the runtime scan scope."""

    model_config = ConfigDict(extra="forbid")
    workload_ids: list[BodyId] = Field(min_length=1, max_length=100_000)
    in_scope: bool


class RuntimeScanIn(BaseModel):
    """What a runtime scan covers: clusters (default all) and applications (default those in scope)."""

    model_config = ConfigDict(extra="forbid")
    cluster_ids: list[BodyId] = Field(default_factory=list, max_length=1000)
    workload_ids: list[BodyId] = Field(default_factory=list, max_length=100_000)
    time_limit_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


def _error(exc: ClusterError) -> Exception:
    return api_error(400, exc.code, exc.message)


def _add(s: Any, rt: Any, name: str, environment: str, registry_ca_pem: str, **auth_input: Any) -> dict[str, Any]:
    if s.scalar(select(Cluster).where(Cluster.name == name)) is not None:
        raise api_error(409, "Conflict", f"a cluster named {name!r} already exists")
    try:
        auth = auth_from_input(**auth_input)
        checked = verify(auth, rt.config.registry_timeout)
    except ClusterError as exc:
        raise _error(exc) from None
    row = Cluster(name=name, environment=environment, registry_ca_pem=registry_ca_pem, version=checked["version"],
                  last_verified_at=rt.now())
    store_auth(row, auth, rt.secrets)
    s.add(row)
    s.flush()
    return {**cluster_out(row), "warnings": checked["warnings"]}


@router.post("/api/clusters", status_code=201, summary="Add a cluster (verified first: reachability, TLS, credentials, permissions)")
def add_cluster(body: ClusterIn, s: Store, rt: RT, _: Admin) -> dict[str, Any]:
    return _add(s, rt, body.name, body.environment, body.registry_ca_pem, kubeconfig=body.kubeconfig,
                context=body.context, server=body.server, token=body.token, ca_pem=body.ca_pem,
                insecure=body.insecure_skip_tls_verify)


@router.post("/api/clusters/upload", status_code=201, summary="Add a cluster from an uploaded kubeconfig file")
async def upload_cluster(s: Store, rt: RT, _: Admin, kubeconfig: Annotated[UploadFile, File()],
                         name: Annotated[str, Form(min_length=1, max_length=200)],
                         context: Annotated[str | None, Form(max_length=200)] = None,
                         environment: Annotated[str, Form(max_length=50)] = "") -> dict[str, Any]:
    data = await kubeconfig.read(MAX_KUBECONFIG + 1)
    if len(data) > MAX_KUBECONFIG:
        raise api_error(413, "TooLarge", f"the kubeconfig is larger than {MAX_KUBECONFIG} bytes")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise api_error(400, "KubeconfigError", "the kubeconfig is not UTF-8 text") from None
    return _add(s, rt, name, environment, "", kubeconfig=text, context=context, server=None, token=None, ca_pem=None)


@router.post("/api/clusters/contexts", summary="The contexts of a kubeconfig (to choose one)")
def kubeconfig_contexts(body: KubeconfigIn, _: Admin) -> dict[str, Any]:
    return {"contexts": contexts_of(body.kubeconfig)}


@router.get("/api/clusters", summary="List clusters")
def list_clusters(s: Store, _: Viewer) -> list[dict[str, Any]]:
    counts = dict(s.execute(select(ClusterWorkload.cluster_id, func.count()).group_by(ClusterWorkload.cluster_id)).all())
    return [cluster_out(c, counts.get(c.id, 0)) for c in s.scalars(select(Cluster).order_by(Cluster.id))]


@router.get("/api/clusters/{cluster_id}", summary="Show a cluster")
def get_cluster(cluster_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    return cluster_out(get_or_404(s, Cluster, cluster_id, "cluster"))


@router.put("/api/clusters/{cluster_id}", summary="Update a cluster (new credentials are verified)")
def update_cluster(cluster_id: PathId, body: ClusterUpdate, s: Store, rt: RT, _: Admin) -> dict[str, Any]:
    row = get_or_404(s, Cluster, cluster_id, "cluster")
    if body.name and s.scalar(select(Cluster).where(Cluster.name == body.name, Cluster.id != cluster_id)):
        raise api_error(409, "Conflict", f"a cluster named {body.name!r} already exists")
    if body.kubeconfig or body.token:
        try:
            auth = auth_from_input(body.kubeconfig, body.context, body.server or row.server, body.token,
                                   body.ca_pem if body.ca_pem is not None else row.ca_pem, row.insecure_skip_tls_verify)
            checked = verify(auth, rt.config.registry_timeout)
        except ClusterError as exc:
            raise _error(exc) from None
        store_auth(row, auth, rt.secrets)
        row.version, row.last_verified_at = checked["version"], rt.now()
    for key in ("name", "environment", "registry_ca_pem"):
        value = getattr(body, key)
        if value is not None:
            setattr(row, key, value)
    return cluster_out(row)


@router.delete("/api/clusters/{cluster_id}", status_code=204, summary="Delete a cluster, its applications and running-container records")
def delete_cluster(cluster_id: PathId, s: Store, _: Admin) -> None:
    s.delete(get_or_404(s, Cluster, cluster_id, "cluster"))


@router.post("/api/clusters/{cluster_id}/verify", summary="Check a cluster's reachability, credentials and permissions again")
def verify_cluster(cluster_id: PathId, s: Store, rt: RT, _: Admin) -> dict[str, Any]:
    from hullscan.server.clusters import auth_of

    row = get_or_404(s, Cluster, cluster_id, "cluster")
    try:
        checked = verify(auth_of(row, rt.secrets), rt.config.registry_timeout)
    except ClusterError as exc:
        raise _error(exc) from None
    row.version, row.last_verified_at = checked["version"], rt.now()
    return {"ok": True, "version": checked["version"], "warnings": checked["warnings"]}


@router.post("/api/clusters/sync", status_code=202, summary="Sync the applications of clusters (all when none named)")
def sync_clusters(body: RuntimeScanIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    _check_ids(s, body.cluster_ids)
    task_id = create_task(rt, "cluster-sync", {"cluster_ids": sorted(set(body.cluster_ids))}, user.username)
    return {"task_id": task_id}


@router.get("/api/clusters/{cluster_id}/workloads", summary="The applications of a cluster (from the last sync)")
def list_workloads(cluster_id: PathId, s: Store, _: Viewer, namespace: Annotated[str | None, Query(max_length=253)] = None,
                   kind: Literal["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"] | None = None) -> list[dict[str, Any]]:
    get_or_404(s, Cluster, cluster_id, "cluster")
    q = select(ClusterWorkload).where(ClusterWorkload.cluster_id == cluster_id)
    if namespace:
        q = q.where(ClusterWorkload.namespace == namespace)
    if kind:
        q = q.where(ClusterWorkload.kind == kind)
    return [workload_out(w) for w in s.scalars(q.order_by(ClusterWorkload.namespace, ClusterWorkload.kind, ClusterWorkload.name))]


@router.put("/api/clusters/{cluster_id}/scope", summary="Put applications in or out of the runtime scan scope")
def set_scope(cluster_id: PathId, body: ScopeIn, s: Store, _: Operator) -> dict[str, Any]:
    get_or_404(s, Cluster, cluster_id, "cluster")
    rows = list(s.scalars(select(ClusterWorkload).where(ClusterWorkload.cluster_id == cluster_id,
                                                        ClusterWorkload.id.in_(body.workload_ids))))
    missing = set(body.workload_ids) - {w.id for w in rows}
    if missing:
        raise api_error(404, "NotFound", f"no application {sorted(missing)[:10]} in cluster {cluster_id}")
    for w in rows:
        w.in_scope = body.in_scope
    return {"updated": len(rows)}


def _check_ids(s: Any, cluster_ids: list[int]) -> None:
    if cluster_ids:
        known = set(s.scalars(select(Cluster.id).where(Cluster.id.in_(cluster_ids))))
        missing = sorted(set(cluster_ids) - known)
        if missing:
            raise api_error(404, "NotFound", f"no cluster {missing[:10]}")


@router.post("/api/runtime/scans", status_code=202, summary=f"Start a container runtime scan now ({RUNTIME_SCAN_LABEL})")
def start_runtime_scan(body: RuntimeScanIn, s: Store, rt: RT, user: Operator) -> dict[str, Any]:
    _check_ids(s, body.cluster_ids)
    params: dict[str, Any] = {"cluster_ids": sorted(set(body.cluster_ids)), "workload_ids": sorted(set(body.workload_ids))}
    if body.time_limit_seconds:
        params["time_limit_seconds"] = body.time_limit_seconds
    return {"task_id": create_task(rt, "runtime-scan", params, user.username)}


@router.get("/api/runtime/scans/{task_id}/containers", summary="Per container: what a runtime scan could not scan and why")
def runtime_scan_failures(task_id: PathId, s: Store, _: Viewer) -> list[dict[str, Any]]:
    from hullscan.server.runtime_scan import access_failures

    return access_failures(s, task_id)


def _running_query(cluster_id: int | None, environment: str | None, namespace: str | None, drift: bool | None,
                   image_id: int | None) -> Any:
    q = select(RunningContainer, Cluster, Image).join(Cluster, RunningContainer.cluster_id == Cluster.id).join(
        Image, RunningContainer.image_id == Image.id, isouter=True)
    if cluster_id:
        q = q.where(RunningContainer.cluster_id == cluster_id)
    if environment:
        q = q.where(Cluster.environment == environment)
    if namespace:
        q = q.where(RunningContainer.namespace == namespace)
    if drift is not None:
        q = q.where(RunningContainer.drift != "") if drift else q.where(RunningContainer.drift == "")
    if image_id:
        q = q.where(RunningContainer.image_id == image_id)
    return q.order_by(Cluster.name, RunningContainer.namespace, RunningContainer.pod, RunningContainer.container)


@router.get("/api/runtime/containers", summary="Running containers and the image each runs (filter: cluster, environment, namespace, drift, image)")
def running_containers(s: Store, _: Viewer, cluster_id: Annotated[int | None, Query(ge=1)] = None,
                       environment: Annotated[str | None, Query(max_length=50, description="e.g. production")] = None,
                       namespace: Annotated[str | None, Query(max_length=253)] = None, drift: bool | None = None,
                       image_id: Annotated[int | None, Query(ge=1)] = None) -> list[dict[str, Any]]:
    rows = s.execute(_running_query(cluster_id, environment, namespace, drift, image_id).limit(10_000)).all()
    counts = _finding_counts(s, {img.id for _, _, img in rows if img is not None})
    return [{"cluster": {"id": c.id, "name": c.name, "environment": c.environment}, "namespace": rc.namespace,
             "workload": {"kind": rc.workload_kind, "name": rc.workload_name}, "pod": rc.pod,
             "container": rc.container, "image": rc.image, "digest": rc.image_digest, "image_id": rc.image_id,
             "access": rc.access, "drift": rc.drift, "drift_detail": rc.drift_detail, "problem": rc.problem,
             "scan_status": img.scan_status if img is not None else "not scanned",
             "findings": counts.get(img.id, 0) if img is not None else 0, "seen_at": iso(rc.seen_at)}
            for rc, c, img in rows]


@router.get("/api/runtime/images/{image_id}", summary="Where an image runs (clusters, namespaces, workloads, containers)")
def where_image_runs(image_id: PathId, s: Store, _: Viewer) -> dict[str, Any]:
    image = get_or_404(s, Image, image_id, "image")
    rows = s.execute(_running_query(None, None, None, None, image_id)).all()
    return {"image_id": image.id, "digest": image.digest, "scan_status": image.scan_status,
            "running": [{"cluster": c.name, "environment": c.environment, "namespace": rc.namespace,
                         "workload": f"{rc.workload_kind}/{rc.workload_name}", "pod": rc.pod, "container": rc.container,
                         "drift": rc.drift} for rc, c, _img in rows]}


def _finding_counts(s: Any, image_ids: set[int]) -> dict[int, int]:
    if not image_ids:
        return {}
    return dict(s.execute(select(FindingRow.image_id, func.count()).where(FindingRow.image_id.in_(image_ids))
                          .group_by(FindingRow.image_id)).all())
