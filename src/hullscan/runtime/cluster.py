"""What runs in a Kubernetes cluster: applications (workloads) with their containers, and the running containers
with the image digest each one runs. Pure functions over the API's JSON plus the listing calls of
:class:`~hullscan.runtime.kube.KubeClient`.

A pod is attributed to its application by ``metadata.ownerReferences``: ReplicaSet -> its Deployment, Job -> its
CronJob, StatefulSet and DaemonSet directly; a pod without a controller is a bare pod (kind ``Pod``). The image a
container runs is ``status.containerStatuses[].imageID`` (``docker-pullable://repo@sha256:...`` under dockershim,
``repo@sha256:...`` under containerd/CRI-O): the digest, never only the tag of ``spec``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from hullscan.runtime.kube import WORKLOAD_PATHS, KubeClient

#: the application kinds of the asset sync (ReplicaSets are only followed to their Deployment)
APP_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class Workload:
    """An application of a cluster: a controller (or a bare pod) and its containers ``(name, image)``."""

    namespace: str
    kind: str
    name: str
    containers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunningContainer:
    """One running container: where it runs, the image it was given and the digest it actually runs."""

    namespace: str
    pod: str
    workload_kind: str
    workload_name: str
    container: str
    image: str  # spec image (tag or digest reference)
    image_id: str  # status imageID as reported
    repository: str = ""  # host/repo of the digest ("" when imageID names no repository)
    digest: str = ""  # sha256:... ("" when the runtime reported none)
    pull_secrets: tuple[str, ...] = ()
    problem: str = ""  # why no registry digest is known


@dataclass
class ClusterInventory:
    """The result of listing a cluster."""

    namespaces: list[str] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    running: list[RunningContainer] = field(default_factory=list)


def _containers(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                out.append((str(c.get("name", "")), str(c.get("image", ""))))
    return tuple(out)


def _pod_spec(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    return (spec.get("template") or {}).get("spec") or {}


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _controller(obj: dict[str, Any]) -> tuple[str, str] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller", True):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None


def list_cluster(client: KubeClient, namespaces: set[str] | None = None) -> ClusterInventory:
    """Namespaces, applications and running containers of the cluster (``namespaces``: only these)."""
    inv = ClusterInventory()
    inv.namespaces = sorted(_meta(n)[1] for n in client.list("/api/v1/namespaces", "namespaces"))
    objects: dict[str, list[dict[str, Any]]] = {kind: list(client.list(path, path.rsplit("/", 1)[-1]))
                                                for kind, path in WORKLOAD_PATHS.items()}
    pods = list(client.list("/api/v1/pods", "pods"))

    def wanted(obj: dict[str, Any]) -> bool:
        return namespaces is None or _meta(obj)[0] in namespaces

    owners: dict[tuple[str, str, str], tuple[str, str] | None] = {}
    for kind in ("ReplicaSet", "Job"):
        for obj in objects[kind]:
            ns, name = _meta(obj)
            owners[(ns, kind, name)] = _controller(obj)
    for kind in APP_KINDS[:-1]:
        for obj in objects[kind]:
            if not wanted(obj):
                continue
            if kind == "Job" and _controller(obj) is not None:
                continue  # a CronJob's job: the CronJob is the application
            ns, name = _meta(obj)
            inv.workloads.append(Workload(ns, kind, name, _containers(_pod_spec(kind, obj))))
    for pod in pods:
        if not wanted(pod):
            continue
        ns, name = _meta(pod)
        kind, wname = _workload_of(pod, ns, owners)
        if kind == "Pod":
            inv.workloads.append(Workload(ns, "Pod", name, _containers(_pod_spec("Pod", pod))))
        inv.running.extend(running_containers(pod, kind, wname))
    inv.workloads.sort(key=lambda w: (w.namespace, w.kind, w.name))
    inv.running.sort(key=lambda r: (r.namespace, r.pod, r.container))
    return inv


def _workload_of(pod: dict[str, Any], ns: str, owners: dict[tuple[str, str, str], tuple[str, str] | None]) -> tuple[str, str]:
    ctrl = _controller(pod)
    if ctrl is None:
        return "Pod", _meta(pod)[1]
    kind, name = ctrl
    if kind in ("ReplicaSet", "Job"):
        parent = owners.get((ns, kind, name))
        if parent is not None:
            return parent
    return kind, name


def running_containers(pod: dict[str, Any], workload_kind: str, workload_name: str) -> list[RunningContainer]:
    """The running containers of a pod, each with the digest from its ``imageID``."""
    ns, name = _meta(pod)
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return []
    spec = pod.get("spec") or {}
    secrets = tuple(str(s.get("name")) for s in spec.get("imagePullSecrets") or [] if isinstance(s, dict) and s.get("name"))
    out = []
    for cs in status.get("containerStatuses") or []:
        if not isinstance(cs, dict) or "running" not in (cs.get("state") or {}):
            continue
        image, image_id = str(cs.get("image", "")), str(cs.get("imageID", ""))
        repository, digest, problem = parse_image_id(image_id, image)
        spec_image = next((str(c.get("image", "")) for c in spec.get("containers") or []
                           if isinstance(c, dict) and c.get("name") == cs.get("name")), image)
        out.append(RunningContainer(ns, name, workload_kind, workload_name, str(cs.get("name", "")), spec_image,
                                    image_id, repository, digest, secrets, problem))
    return out


def parse_image_id(image_id: str, image: str) -> tuple[str, str, str]:
    """``(repository, digest, problem)`` of a containerStatus ``imageID``."""
    from hullscan.errors import InputError
    from hullscan.image.source import valid_digest
    from hullscan.registry.reference import parse_reference

    raw = image_id
    for prefix in ("docker-pullable://", "docker://"):
        raw = raw.removeprefix(prefix)
    repo, sep, digest = raw.rpartition("@")
    if not sep:
        if valid_digest(raw):
            return "", "", (f"the runtime reports only the local image ID {raw} (no registry digest) for {image}")
        return "", "", f"no image digest reported (imageID {image_id!r})"
    if not valid_digest(digest):
        return "", "", f"invalid digest in imageID {image_id!r}"
    try:
        ref = parse_reference(repo)
    except InputError as exc:
        return "", "", f"imageID {image_id!r}: {exc}"
    return ref.name, digest, ""


def pull_secret_credentials(secret: dict[str, Any], host: str) -> tuple[str, str] | None:
    """``(username, password)`` for registry ``host`` in a ``kubernetes.io/dockerconfigjson`` (or legacy
    ``dockercfg``) secret; None when it holds none for that host."""
    data = secret.get("data") or {}
    raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
    if not raw:
        return None
    try:
        doc = json.loads(base64.b64decode(str(raw)))
    except ValueError:
        return None
    auths = doc.get("auths", doc) if isinstance(doc, dict) else {}
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        name = str(key).split("://", 1)[-1].split("/", 1)[0]
        if name not in (host, "index.docker.io" if host == "docker.io" else host) or not isinstance(entry, dict):
            continue
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return user, password
    return None
