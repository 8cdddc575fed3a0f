"""A small Kubernetes API client: kubeconfig parsing, verification, and the reads the runtime scan needs.

Plain httpx against the documented REST API, not the official ``kubernetes`` package: we need a handful of
GETs (namespaces, pods, workloads, secrets) and one POST (``SelfSubjectAccessReview``), and the official client's
kubeconfig loader runs ``exec`` credential plugins and writes certificate data to temporary files on its own,
which a server holding other people's kubeconfigs must not do. One HTTP stack (httpx) serves registries and
clusters alike.

* :func:`parse_kubeconfig` picks a context (the current one by default) and refuses what it can't honour safely:
  ``exec`` and ``auth-provider`` users (never executed), file paths (a server reading its own disk for a
  pasted kubeconfig), unknown contexts.
* :meth:`KubeClient.verify` tells the failures apart: :data:`UNREACHABLE`, :data:`TLS_FAILURE`,
  :data:`UNAUTHENTICATED`, :data:`MISSING_PERMISSION` (naming verb and resource, e.g. ``list pods``, from a
  ``SelfSubjectAccessReview`` or a 403 Status body).
* :meth:`KubeClient.list` follows ``metadata.continue`` through every page (``limit`` per page).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

from hullscan.errors import ContainerRuntimeError

UNREACHABLE = "ClusterUnreachable"
TLS_FAILURE = "ClusterTLSError"
UNAUTHENTICATED = "ClusterUnauthenticated"
MISSING_PERMISSION = "ClusterMissingPermission"
BAD_KUBECONFIG = "KubeconfigError"
API_ERROR = "ClusterAPIError"

#: (verb, group, resource) the asset sync and runtime scan need; secrets only for pods' imagePullSecrets
REQUIRED = [
    ("list", "", "namespaces"),
    ("list", "", "pods"),
    ("list", "apps", "deployments"),
    ("list", "apps", "replicasets"),
    ("list", "apps", "statefulsets"),
    ("list", "apps", "daemonsets"),
    ("list", "batch", "jobs"),
    ("list", "batch", "cronjobs"),
]
OPTIONAL = [("get", "", "secrets")]
#: list paths of the workload kinds
WORKLOAD_PATHS = {
    "Deployment": "/apis/apps/v1/deployments",
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "StatefulSet": "/apis/apps/v1/statefulsets",
    "DaemonSet": "/apis/apps/v1/daemonsets",
    "Job": "/apis/batch/v1/jobs",
    "CronJob": "/apis/batch/v1/cronjobs",
}


class ClusterError(ContainerRuntimeError):
    """A cluster could not be used; ``code`` says which way (one of the module's constants)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ClusterAuth:
    """How to reach and authenticate to one API server. ``token`` or client certificate + key (PEM)."""

    server: str
    ca_pem: str = ""
    token: str = ""
    client_cert_pem: str = ""
    client_key_pem: str = ""
    insecure_skip_tls_verify: bool = False
    context: str = ""
    namespace: str = ""

    def secrets(self) -> dict[str, str]:
        """The secret part (to encrypt at rest)."""
        return {"token": self.token, "client_key_pem": self.client_key_pem, "client_cert_pem": self.client_cert_pem}


def _data(entry: dict[str, Any], key: str, what: str) -> str:
    """``<key>-data`` (base64 PEM) of a kubeconfig entry; a ``<key>`` file path is refused."""
    if entry.get(key):
        raise ClusterError(BAD_KUBECONFIG, f"{what}: {key} points to a file ({entry[key]}): paste the kubeconfig "
                           f"with {key}-data (kubectl config view --flatten --minify) instead")
    raw = entry.get(f"{key}-data")
    if not raw:
        return ""
    try:
        return base64.b64decode(str(raw), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ClusterError(BAD_KUBECONFIG, f"{what}: {key}-data is not base64 of a PEM text") from None


def parse_kubeconfig(text: str, context: str | None = None) -> ClusterAuth:
    """The cluster and credentials of ``context`` (default: ``current-context``) in a kubeconfig YAML."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClusterError(BAD_KUBECONFIG, f"the kubeconfig is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts"), list):
        raise ClusterError(BAD_KUBECONFIG, "the kubeconfig has no 'contexts' list")

    def named(section: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for item in doc.get(section) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                body = item.get(section[:-1])
                out[item["name"]] = body if isinstance(body, dict) else {}
        return out

    contexts, clusters, users = named("contexts"), named("clusters"), named("users")
    name = context or doc.get("current-context")
    if not name:
        raise ClusterError(BAD_KUBECONFIG, f"the kubeconfig has no current-context: choose one of {sorted(contexts)}")
    if name not in contexts:
        raise ClusterError(BAD_KUBECONFIG, f"context {name!r} is not in the kubeconfig (contexts: {', '.join(sorted(contexts)) or 'none'})")
    ctx = contexts[name]
    cluster = clusters.get(str(ctx.get("cluster", "")))
    if cluster is None:
        raise ClusterError(BAD_KUBECONFIG, f"context {name!r} names cluster {ctx.get('cluster')!r}, which is not in the kubeconfig")
    user: dict[str, Any] = users.get(str(ctx.get("user", ""))) or {}
    if ctx.get("user") and str(ctx.get("user")) not in users:
        raise ClusterError(BAD_KUBECONFIG, f"context {name!r} names user {ctx.get('user')!r}, which is not in the kubeconfig")
    if user.get("exec"):
        command = user["exec"].get("command", "?") if isinstance(user["exec"], dict) else "?"
        raise ClusterError(BAD_KUBECONFIG, f"user {ctx.get('user')!r} authenticates with an exec plugin ({command}): "
                           "hullscan never runs commands from a kubeconfig; give a service-account token instead")
    if user.get("auth-provider"):
        raise ClusterError(BAD_KUBECONFIG, f"user {ctx.get('user')!r} uses an auth-provider plugin, which hullscan "
                           "does not run; give a service-account token instead")
    if user.get("tokenFile") or user.get("username"):
        raise ClusterError(BAD_KUBECONFIG, f"user {ctx.get('user')!r}: token files and basic auth are not supported; "
                           "give the token itself or a client certificate")
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise ClusterError(BAD_KUBECONFIG, f"cluster {ctx.get('cluster')!r} has no https:// server URL")
    auth = ClusterAuth(
        server=server.rstrip("/"),
        ca_pem=_data(cluster, "certificate-authority", f"cluster {ctx.get('cluster')!r}"),
        token=str(user.get("token") or ""),
        client_cert_pem=_data(user, "client-certificate", f"user {ctx.get('user')!r}"),
        client_key_pem=_data(user, "client-key", f"user {ctx.get('user')!r}"),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        context=name,
        namespace=str(ctx.get("namespace") or ""),
    )
    if not auth.token and not (auth.client_cert_pem and auth.client_key_pem):
        raise ClusterError(BAD_KUBECONFIG, f"user {ctx.get('user')!r} has neither a token nor a client certificate and key")
    return auth


def contexts_of(text: str) -> list[str]:
    """The context names of a kubeconfig (for the console's context chooser)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    items = doc.get("contexts") if isinstance(doc, dict) else None
    return [str(c["name"]) for c in items or [] if isinstance(c, dict) and c.get("name")]


@dataclass
class KubeClient:
    """GETs and SelfSubjectAccessReviews against one API server."""

    auth: ClusterAuth
    timeout: float = 15.0
    page_size: int = 500
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    def _client(self) -> httpx.Client:
        if self._http is None:
            headers = {"Accept": "application/json", "User-Agent": "hullscan"}
            if self.auth.token:
                headers["Authorization"] = f"Bearer {self.auth.token}"
            self._http = httpx.Client(base_url=self.auth.server, headers=headers, verify=self._ssl(),
                                      timeout=self.timeout, trust_env=False)
        return self._http

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.auth.insecure_skip_tls_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:
                ctx = ssl.create_default_context(cadata=self.auth.ca_pem) if self.auth.ca_pem else ssl.create_default_context()
            except ssl.SSLError as exc:
                raise ClusterError(BAD_KUBECONFIG, f"the cluster's CA bundle is not a PEM certificate ({exc.reason})") from None
        if self.auth.client_cert_pem and self.auth.client_key_pem:
            # ssl loads a certificate chain from files only: written 0600 for the call, removed at once
            fd, path = tempfile.mkstemp(prefix="hullscan-kube-", suffix=".pem")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(self.auth.client_cert_pem.strip() + "\n" + self.auth.client_key_pem.strip() + "\n")
                ctx.load_cert_chain(path)
            except ssl.SSLError as exc:
                raise ClusterError(BAD_KUBECONFIG, f"the client certificate or key is not valid PEM ({exc.reason})") from None
            finally:
                os.unlink(path)
        return ctx

    def close(self) -> None:
        """Close the connections."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client().request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            text = str(exc)
            if isinstance(cause, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
                raise ClusterError(TLS_FAILURE, f"TLS with {self.auth.server} failed: {text} (wrong or missing CA bundle?)") from None
            raise ClusterError(UNREACHABLE, f"cannot reach the cluster API at {self.auth.server}: {text}") from None
        except httpx.TimeoutException:
            raise ClusterError(UNREACHABLE, f"the cluster API at {self.auth.server} did not answer within {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise ClusterError(UNREACHABLE, f"cannot reach the cluster API at {self.auth.server}: {exc}") from None

    def _checked(self, resp: httpx.Response, verb: str, resource: str) -> dict[str, Any]:
        if resp.status_code == 401:
            raise ClusterError(UNAUTHENTICATED, f"the cluster at {self.auth.server} did not accept the credentials "
                               f"(401 {_status_message(resp)})")
        if resp.status_code == 403:
            raise ClusterError(MISSING_PERMISSION, f"missing permission: {verb} {resource} ({_status_message(resp)})")
        if resp.status_code >= 400:
            raise ClusterError(API_ERROR, f"{verb} {resource}: HTTP {resp.status_code} {_status_message(resp)}")
        try:
            data = resp.json()
        except ValueError:
            raise ClusterError(API_ERROR, f"{verb} {resource}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise ClusterError(API_ERROR, f"{verb} {resource}: the answer is not a JSON object")
        return data

    def get(self, path: str, verb: str = "get", resource: str = "") -> dict[str, Any]:
        """GET ``path`` (JSON object), errors named by ``verb resource``."""
        return self._checked(self._request("GET", path), verb, resource or path)

    def list(self, path: str, resource: str = "") -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page by page (``limit`` + ``continue``)."""
        token = ""
        resource = resource or path.rsplit("/", 1)[-1]
        for _ in range(100_000):
            params = {"limit": str(self.page_size)}
            if token:
                params["continue"] = token
            data = self._checked(self._request("GET", path, params=params), "list", resource)
            items = data.get("items")
            if not isinstance(items, list):
                raise ClusterError(API_ERROR, f"list {resource}: the answer has no 'items' list")
            yield from (i for i in items if isinstance(i, dict))
            token = str((data.get("metadata") or {}).get("continue") or "")
            if not token:
                return
        raise ClusterError(API_ERROR, f"list {resource}: more than 100000 pages")

    def can(self, verb: str, group: str, resource: str) -> tuple[bool, str]:
        """A ``SelfSubjectAccessReview``: may these credentials do ``verb`` on ``resource`` (all namespaces)?"""
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}}}
        data = self._checked(self._request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=body),
                             "create", "selfsubjectaccessreviews")
        status = data.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    def verify(self) -> dict[str, Any]:
        """Reachability, TLS, authentication (``GET /version`` then an authenticated ``GET /api``), then every
        permission the sync and the runtime scan need. Returns the server version and the optional permissions
        missing (``get secrets``: pull secrets can't be read)."""
        version = self._checked(self._request("GET", "/version"), "get", "version")
        self.get("/api", "get", "api")
        warnings = []
        for verb, group, resource in REQUIRED + OPTIONAL:
            try:
                allowed, reason = self.can(verb, group, resource)
            except ClusterError as exc:
                if exc.code != MISSING_PERMISSION:
                    raise
                # no right to ask: try the list itself, its 403 Status names what is missing
                path = WORKLOAD_PATHS.get(_kind(resource), f"/api/v1/{resource}")
                self._checked(self._request("GET", path, params={"limit": "1"}), verb, resource)
                continue
            if not allowed:
                what = f"{verb} {resource}" + (f" ({group})" if group else "")
                if (verb, group, resource) in OPTIONAL:
                    warnings.append(f"missing permission: {what}: pods' imagePullSecrets can't be read")
                    continue
                raise ClusterError(MISSING_PERMISSION, f"missing permission: {what}" + (f" ({reason})" if reason else ""))
        return {"version": str(version.get("gitVersion", "")), "warnings": warnings}

    def secret(self, namespace: str, name: str) -> dict[str, Any]:
        """One secret."""
        return self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}", "get", f"secrets {namespace}/{name}")


def _kind(resource: str) -> str:
    return {"deployments": "Deployment", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
            "daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob"}.get(resource, "")


def _status_message(resp: httpx.Response) -> str:
    """The ``message`` of a Kubernetes ``Status`` body (or the start of the text)."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(data, dict) and data.get("kind") == "Status":
        return str(data.get("message") or data.get("reason") or "")
    return resp.text[:200]
