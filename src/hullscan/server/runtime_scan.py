"""The container runtime scan task (``runtime-scan``, "Container Runtime Image Scan" in the console).

Plan (first run): for each cluster in scope (``params.cluster_ids``, default all) list the running pods; keep the
containers of the applications in scope (``params.workload_ids``, default the synced applications marked in scope;
every application when the cluster was never synced); take each container's image digest from
``status.containerStatuses[].imageID``; deduplicate by digest across the fleet; for each digest choose how to
pull it: the configured registry of its host (stored credentials, its rate limit), else the ``imagePullSecrets`` of
a pod running it (read from the cluster, kept encrypted on the task item), else anonymously. A container whose
runtime reports no registry digest is recorded with the reason and the task goes on.

Drift: a running digest that no synced repository of a configured registry holds is ``not-in-registry``; a
container whose spec tag now points (per the last registry sync) to another digest is ``tag-moved``.

Then the items are scanned exactly as a registry scan's (:func:`hullscan.server.scanning.run_items`): stop,
time limit, per-registry rate limit, claims, quota, one stored result per digest; each running container row links
cluster / namespace / workload / container to the image and its findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update

from hullscan.errors import InputError
from hullscan.registry.reference import parse_reference
from hullscan.runtime.cluster import RunningContainer as Running
from hullscan.runtime.cluster import list_cluster, pull_secret_credentials
from hullscan.runtime.kube import ClusterError, KubeClient
from hullscan.server.clusters import auth_of
from hullscan.server.db.models import (
    Cluster,
    ClusterWorkload,
    Image,
    ImageTag,
    Registry,
    Repository,
    RunningContainer,
    Task,
    TaskItem,
)
from hullscan.server.runtime import Runtime
from hullscan.server.scanning import plan_once, run_items
from hullscan.server.tasks import add_log, add_logs, finish

NO_DIGEST = "not scanned: no registry digest"


@dataclass
class _Digest:
    """One digest of the fleet and how to pull it."""

    repository: str
    registry_id: int | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    access: str = "anonymous"
    containers: list[tuple[int, Running]] = field(default_factory=list)


def _registry_hosts(s: Any) -> dict[str, Registry]:
    out = {}
    for reg in s.scalars(select(Registry).where(Registry.builtin.is_(False))):
        host = f"{reg.domain or reg.ip}{':' + str(reg.port) if reg.port else ''}"
        out[host] = reg
    return out


def _scope(s: Any, cluster_id: int, workload_ids: set[int]) -> set[tuple[str, str, str]] | None:
    """The (namespace, kind, name) applications in scope for a cluster; None: every application."""
    rows = list(s.scalars(select(ClusterWorkload).where(ClusterWorkload.cluster_id == cluster_id)))
    if workload_ids:
        return {(w.namespace, w.kind, w.name) for w in rows if w.id in workload_ids}
    if not rows:
        return None
    return {(w.namespace, w.kind, w.name) for w in rows if w.in_scope}


def _list_running(rt: Runtime, task_id: int, params: dict[str, Any]) -> tuple[list[tuple[int, Running, dict[str, Any]]], list[str]]:
    """Running containers in scope: (cluster_id, container, the cluster's context for pull secrets)."""
    workload_ids = {int(x) for x in params.get("workload_ids") or []}
    with rt.session() as s:
        q = select(Cluster).order_by(Cluster.id)
        if params.get("cluster_ids"):
            q = q.where(Cluster.id.in_([int(x) for x in params["cluster_ids"]]))
        clusters = [(c.id, c.name, auth_of(c, rt.secrets), c.registry_ca_pem, _scope(s, c.id, workload_ids))
                    for c in s.scalars(q)]
    out, failures = [], []
    for cluster_id, name, auth, registry_ca, scope in clusters:
        try:
            with KubeClient(auth) as client:
                inv = list_cluster(client)
        except ClusterError as exc:
            failures.append(f"cluster {name}: {exc.code}: {exc.message}")
            continue
        kept = [r for r in inv.running if scope is None or (r.namespace, r.workload_kind, r.workload_name) in scope]
        add_log(rt, task_id, f"cluster {name}: {len(inv.running)} running containers, {len(kept)} in scope")
        for r in kept:
            out.append((cluster_id, r, {"auth": auth, "registry_ca": registry_ca, "name": name}))
    return out, failures


def _pull_credentials(rt: Runtime, task_id: int, ctx: dict[str, Any], r: Running, host: str,
                      cache: dict[tuple[int, str, str], dict[str, Any] | None], cluster_id: int) -> tuple[str, str] | None:
    for secret_name in r.pull_secrets:
        key = (cluster_id, r.namespace, secret_name)
        if key not in cache:
            try:
                with KubeClient(ctx["auth"]) as client:
                    cache[key] = client.secret(r.namespace, secret_name)
            except ClusterError as exc:
                cache[key] = None
                add_log(rt, task_id, f"cluster {ctx['name']}: imagePullSecret {r.namespace}/{secret_name}: {exc.message}",
                        "warning")
        secret = cache[key]
        creds = pull_secret_credentials(secret, host) if secret else None
        if creds:
            return creds
    return None


def _drift(s: Any, digest: str, image: str, reg: Registry | None) -> tuple[str, str]:
    held = s.scalar(select(ImageTag.id).join(Image, ImageTag.image_id == Image.id).where(Image.digest == digest).limit(1))
    if reg is not None:
        try:
            ref = parse_reference(image)
        except InputError:
            ref = None
        if ref is not None and ref.tag and not ref.digest:
            row = s.execute(
                select(Image.digest).join(ImageTag, ImageTag.image_id == Image.id)
                .join(Repository, ImageTag.repository_id == Repository.id)
                .where(Repository.registry_id == reg.id, Repository.name == ref.repository, ImageTag.tag == ref.tag)
            ).first()
            if row is not None and row[0] != digest:
                return "tag-moved", f"{image} now points to {row[0]}; the container runs {digest}"
    if held is None:
        return "not-in-registry", f"{digest} is in no repository of a configured registry (as of the last sync)"
    return "", ""


def _plan(rt: Runtime, task_id: int, params: dict[str, Any]) -> None:
    running, failures = _list_running(rt, task_id, params)
    for failure in failures:
        add_log(rt, task_id, failure, "error")
    digests: dict[str, _Digest] = {}
    no_digest: list[tuple[int, Running]] = []
    secrets_cache: dict[tuple[int, str, str], dict[str, Any] | None] = {}
    with rt.session() as s:
        hosts = _registry_hosts(s)
    for cluster_id, r, ctx in running:
        if not r.digest:
            no_digest.append((cluster_id, r))
            continue
        entry = digests.get(r.digest)
        if entry is None:
            entry = digests[r.digest] = _Digest(r.repository)
            host = r.repository.split("/", 1)[0]
            reg = hosts.get(host)
            if reg is not None:
                entry.registry_id, entry.access = reg.id, "registry"
        if entry.registry_id is None and entry.access == "anonymous":
            host = r.repository.split("/", 1)[0]
            creds = _pull_credentials(rt, task_id, ctx, r, host, secrets_cache, cluster_id)
            if creds:
                entry.credentials = {"username": creds[0], "password": creds[1], "ca_pem": ctx["registry_ca"]}
                entry.access = "pull-secret"
            elif ctx["registry_ca"]:
                entry.credentials = {"ca_pem": ctx["registry_ca"]}
        entry.containers.append((cluster_id, r))
    now = rt.now()
    logs = []
    with rt.session() as s:
        cluster_ids = sorted({c for c, _, _ in running})
        if cluster_ids:
            s.execute(delete(RunningContainer).where(RunningContainer.cluster_id.in_(cluster_ids)))
        regs = {r.id: r for r in s.scalars(select(Registry))}
        for digest, entry in digests.items():
            image = s.scalar(select(Image).where(Image.digest == digest))
            if image is None:
                image = Image(digest=digest, created_at=now)
                s.add(image)
                s.flush()
            s.add(TaskItem(task_id=task_id, image_id=image.id, registry_id=entry.registry_id,
                           reference=f"{entry.repository}@{digest}",
                           credentials_enc=rt.secrets.encrypt_json(entry.credentials) if entry.credentials else ""))
            reg = regs.get(entry.registry_id) if entry.registry_id else None
            for cluster_id, r in entry.containers:
                drift, detail = _drift(s, digest, r.image, reg)
                s.add(RunningContainer(cluster_id=cluster_id, namespace=r.namespace, workload_kind=r.workload_kind,
                                       workload_name=r.workload_name, pod=r.pod, container=r.container, image=r.image,
                                       image_digest=digest, image_id=image.id, registry_id=entry.registry_id,
                                       access=entry.access, drift=drift, drift_detail=detail, task_id=task_id,
                                       seen_at=now))
                if drift:
                    logs.append(f"drift: {r.namespace}/{r.pod}/{r.container}: {drift}: {detail}")
        for cluster_id, r in no_digest:
            s.add(RunningContainer(cluster_id=cluster_id, namespace=r.namespace, workload_kind=r.workload_kind,
                                   workload_name=r.workload_name, pod=r.pod, container=r.container, image=r.image,
                                   access="none", problem=r.problem, task_id=task_id, seen_at=now))
            logs.append(f"{r.namespace}/{r.pod}/{r.container} ({r.image}) {NO_DIGEST}: {r.problem}")
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = len(digests)
        task.result = {**(task.result or {}), "deadline": rt.clock() + task.time_limit_seconds, "planned": True,
                       "containers": len(running), "digests": len(digests), "no_digest": len(no_digest),
                       "cluster_failures": len(failures)}
    if logs:
        add_logs(rt, task_id, logs, "warning")
    add_log(rt, task_id, f"runtime scan covers {len(running)} running containers: {len(digests)} distinct digests")


def run_runtime_scan(rt: Runtime, task_id: int) -> None:
    """The ``runtime-scan`` task function."""
    settings = plan_once(rt, task_id, _plan)
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        result = dict(task.result or {})
    if result.get("cluster_failures") and not result.get("containers"):
        finish(rt, task_id, "failed", "no cluster could be listed (see log)")
        return
    run_items(rt, task_id, settings)
    with rt.session() as s:  # the pull secrets were needed to pull; the task is over: forget them
        s.execute(update(TaskItem).where(TaskItem.task_id == task_id).values(credentials_enc="")
                  .execution_options(synchronize_session=False))
    with rt.session() as s:
        failures = [f for f in access_failures(s, task_id) if f["status"] != NO_DIGEST]
    if failures:
        add_logs(rt, task_id, [f"{f['namespace']}/{f['pod']}/{f['container']} ({f['image']}) {f['status']}: {f['error']}"
                               for f in failures], "error")


def access_failures(s: Any, task_id: int) -> list[dict[str, Any]]:
    """Per container, the images of a task that could not be scanned (and why)."""
    rows = s.execute(
        select(RunningContainer, TaskItem).join(TaskItem, (TaskItem.image_id == RunningContainer.image_id)
                                                & (TaskItem.task_id == task_id), isouter=True)
        .where(RunningContainer.task_id == task_id)
    ).all()
    out = []
    for rc, item in rows:
        status = item.status if item is not None else NO_DIGEST
        if status != "succeeded":
            out.append({"namespace": rc.namespace, "pod": rc.pod, "container": rc.container, "image": rc.image,
                        "status": status, "error": item.error if item is not None else rc.problem})
    return out
