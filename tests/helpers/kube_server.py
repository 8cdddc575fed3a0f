"""A Kubernetes API server stand-in for tests: recorded responses (tests/data/runtime/kube/, exact API shapes)
served over HTTPS on 127.0.0.1 with a test CA, bearer-token authentication (401 Status otherwise), RBAC answers to
``SelfSubjectAccessReview`` and 403 Status bodies for denied lists, and pod pagination with ``limit``/``continue``.
Every request is recorded (method, path, query) so tests can check what the client asked."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers.registry_server import CertAuthority

DATA = Path(__file__).resolve().parents[1] / "data" / "runtime" / "kube"
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.scanner-token"
LISTS = {
    "/api/v1/namespaces": "namespaces.json",
    "/api/v1/pods": "pods.json",
    "/apis/apps/v1/deployments": "deployments.json",
    "/apis/apps/v1/replicasets": "replicasets.json",
    "/apis/apps/v1/statefulsets": "statefulsets.json",
    "/apis/apps/v1/daemonsets": "daemonsets.json",
    "/apis/batch/v1/jobs": "jobs.json",
    "/apis/batch/v1/cronjobs": "cronjobs.json",
}
PAGE = 2  # items per page of the pod list (the API server may return fewer than ``limit``)


@dataclass
class KubeAPI:
    """The running stand-in; change ``denied``, ``ssar_forbidden`` or ``values`` between requests."""

    url: str
    ca_pem: str
    values: dict[str, str]
    denied: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource)
    ssar_forbidden: bool = False
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def kubeconfig(self, token: str = TOKEN, context: str = "prod", extra_user: dict[str, Any] | None = None) -> str:
        """A kubeconfig (YAML is JSON) with contexts ``prod`` (this server) and ``staging`` (another one)."""
        ca = base64.b64encode(self.ca_pem.encode()).decode()
        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "prod-cluster", "cluster": {"server": self.url, "certificate-authority-data": ca}},
                         {"name": "staging-cluster", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": ca}}],
            "users": [{"name": "scanner", "user": {"token": token}},
                      {"name": "exec-user", "user": extra_user or {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                                              "command": "/bin/false", "args": []}}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod-cluster", "user": "scanner"}},
                         {"name": "staging", "context": {"cluster": "staging-cluster", "user": "scanner"}},
                         {"name": "sso", "context": {"cluster": "prod-cluster", "user": "exec-user"}}],
        }
        return json.dumps(doc, indent=1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _load(name: str, values: dict[str, str]) -> Any:
    text = (DATA / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return json.loads(text)


def _handler(api: KubeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, _load("status-401.json", {}))
                return False
            return True

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            api.requests.append(("GET", url.path, query))
            if url.path == "/version":  # served to anybody, as the real API server does
                self._send(200, _load("version.json", {}))
                return
            if not self._authorised():
                return
            if url.path == "/api":
                self._send(200, _load("api.json", {}))
                return
            if url.path in LISTS:
                resource = url.path.rsplit("/", 1)[-1]
                if ("list", resource) in api.denied:
                    status = _load("status-403-pods.json", {})
                    status["message"] = status["message"].replace("pods", resource)
                    status["details"]["kind"] = resource
                    self._send(403, status)
                    return
                doc = _load(LISTS[url.path], api.values)
                if resource == "pods" and "limit" in query:
                    start = int(base64.b64decode(query["continue"][0]).decode().split(":")[1]) if "continue" in query else 0
                    items = doc["items"]
                    doc["items"] = items[start:start + PAGE]
                    if start + PAGE < len(items):
                        token = base64.b64encode(f"rv48211:{start + PAGE}".encode()).decode()
                        doc["metadata"]["continue"] = token
                        doc["metadata"]["remainingItemCount"] = len(items) - start - PAGE
                self._send(200, doc)
                return
            parts = url.path.split("/")
            if len(parts) == 7 and parts[1:4] == ["api", "v1", "namespaces"] and parts[5] == "secrets":
                if ("get", "secrets") in api.denied:
                    self._send(403, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": f'secrets "{parts[6]}" is forbidden: User "system:serviceaccount:hullscan:scanner" cannot get resource "secrets" in API group "" in the namespace "{parts[4]}"',
                                     "reason": "Forbidden", "details": {"name": parts[6], "kind": "secrets"}, "code": 403})
                    return
                if parts[4] == "shop" and parts[6] == "regcred":
                    self._send(200, _load("secret-regcred.json", api.values))
                    return
                self._send(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                 "message": f'secrets "{parts[6]}" not found', "reason": "NotFound",
                                 "details": {"name": parts[6], "kind": "secrets"}, "code": 404})
                return
            self._send(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "the server could not find the requested resource", "reason": "NotFound",
                             "details": {}, "code": 404})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            api.requests.append(("POST", url.path, {}))
            if not self._authorised():
                return
            if url.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
                if api.ssar_forbidden:
                    self._send(403, _load("status-403-ssar.json", {}))
                    return
                attrs = body["spec"]["resourceAttributes"]
                allowed = (attrs["verb"], attrs["resource"]) not in api.denied
                status = {"allowed": allowed}
                if not allowed:
                    status["reason"] = ""
                self._send(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                                 "metadata": {"creationTimestamp": None}, "spec": body["spec"], "status": status})
                return
            self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

    return Handler


def start_kube_api(workdir: Path, values: dict[str, str]) -> KubeAPI:
    """Serve the recorded API over HTTPS on 127.0.0.1 (a free port)."""
    ca = CertAuthority(workdir / "kube-pki")
    cert, key, _, _ = ca.issue("kube-apiserver", server_ip="127.0.0.1")
    api = KubeAPI(url="", ca_pem=ca.ca_pem.read_text(), values=values)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    api.server = server
    api.url = f"https://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return api


def dockerconfigjson(host: str, username: str, password: str) -> str:
    """The base64 ``.dockerconfigjson`` value of a ``kubernetes.io/dockerconfigjson`` secret."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    doc = {"auths": {host: {"username": username, "password": password, "auth": auth}}}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def kube_values(registry: str = "127.0.0.1:5999", db_registry: str = "127.0.0.1:5998", web_digest: str = "sha256:" + "a" * 64,
                db_digest: str = "sha256:" + "b" * 64, secret: str = "") -> dict[str, str]:
    """Placeholder values for the recorded responses."""
    return {"REGISTRY": registry, "DB_REGISTRY": db_registry, "WEB_DIGEST": web_digest, "DB_DIGEST": db_digest,
            "DOCKERCONFIGJSON": secret or dockerconfigjson(registry, "user", "pw")}


def kube_api(workdir: Path, values: dict[str, str]) -> Iterator[KubeAPI]:
    """Start, yield, stop."""
    api = start_kube_api(workdir, values)
    try:
        yield api
    finally:
        api.stop()
