"""Harbor pluggable scanner API and push webhooks (Harbor, Distribution/GitLab) against a real registry."""

from __future__ import annotations

import time
from typing import Any

from hullscan.server.runtime import Runtime
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import REQUESTS_VULN, URLLIB3_VULN, python_image, wait_task
from tests.server.test_e2e_registry import add_registry

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
HARBOR_MIME = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
ERROR_MIME = "application/vnd.scanner.adapter.error+json"


def test_harbor_scanner_adapter_flow(api: Any, rt: Runtime, registry: RegistryServer) -> None:
    rt.config.harbor_registries = (registry.host,)  # the Harbor's registry, allowed by the administrator
    image = python_image(("urllib3", "1.26.4"), ("requests", "2.19.0"))
    push_image(registry, image, "library/app", "v1")
    meta = api.get("/api/v1/metadata")
    assert meta.status_code == 200 and meta.headers["content-type"].startswith("application/vnd.scanner.adapter.metadata+json")
    caps = meta.json()["capabilities"][0]
    assert REPORT_MIME in caps["produces_mime_types"] and HARBOR_MIME in caps["produces_mime_types"]
    assert meta.json()["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"].startswith("20")
    assert "application/vnd.docker.distribution.manifest.v2+json" in caps["consumes_mime_types"]

    req = {"registry": {"url": registry.url, "authorization": "Basic cm9ib3Q6c2VjcmV0"},
           "artifact": {"repository": "library/app", "digest": image.digest, "tag": "v1",
                        "mime_type": "application/vnd.oci.image.manifest.v1+json"}}
    accepted = api.post("/api/v1/scan", json=req)
    assert accepted.status_code == 202, accepted.text
    rid = accepted.json()["id"]
    end = time.monotonic() + 60
    while True:
        rep = api.get(f"/api/v1/scan/{rid}/report", headers={"Accept": REPORT_MIME}, follow_redirects=False)
        if rep.status_code != 302 or time.monotonic() > end:
            break
        assert rep.headers["Refresh-After"].isdigit()
        time.sleep(0.1)
    assert rep.status_code == 200, rep.text
    assert rep.headers["content-type"].startswith("application/vnd.security.vulnerability.report")
    body = rep.json()
    assert body["artifact"]["digest"] == image.digest and body["scanner"]["name"] == "hullscan"
    assert body["severity"] == "High"
    assert sorted((v["id"], v["package"], v["version"], v["fix_version"]) for v in body["vulnerabilities"]) == sorted([
        (URLLIB3_VULN, "urllib3", "1.26.4", "1.26.5"), (REQUESTS_VULN, "requests", "2.19.0", "2.20.0")])
    assert api.get("/api/v1/scan/nope/report").status_code == 404
    assert api.get(f"/api/v1/scan/{rid}/report", headers={"Accept": "text/html"}).status_code == 400
    bad = api.post("/api/v1/scan", json={**req, "artifact": {**req["artifact"], "digest": "md5:x"}})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(ERROR_MIME) and bad.json()["error"]["message"]
    # the same report in Harbor's own report type; layers named by blob digest and by diff_id, which differ
    harbor = api.get(f"/api/v1/scan/{rid}/report", headers={"Accept": HARBOR_MIME})
    assert harbor.status_code == 200 and harbor.headers["content-type"].startswith(HARBOR_MIME.split(";")[0])
    layers = [v["layer"] for v in harbor.json()["vulnerabilities"]]
    assert layers and all(lay["digest"].startswith("sha256:") and lay["digest"] != lay["diff_id"] for lay in layers)
    # an artifact type this scanner can't read is refused when it is requested, not after a failed scan
    helm = api.post("/api/v1/scan", json={**req, "artifact": {**req["artifact"],
                                                              "mime_type": "application/vnd.cncf.helm.config.v1+json"}})
    assert helm.status_code == 400 and helm.headers["content-type"].startswith(ERROR_MIME)
    assert "unsupported artifact type" in helm.json()["error"]["message"]


def test_harbor_adapter_reports_a_failed_scan(api: Any, rt: Runtime, registry: RegistryServer) -> None:
    rt.config.harbor_registries = (registry.host,)
    req = {"registry": {"url": registry.url}, "artifact": {"repository": "library/missing", "digest": "sha256:" + "0" * 64}}
    rid = api.post("/api/v1/scan", json=req).json()["id"]
    end = time.monotonic() + 60
    while (rep := api.get(f"/api/v1/scan/{rid}/report", follow_redirects=False)).status_code == 302 and time.monotonic() < end:
        time.sleep(0.1)
    assert rep.status_code == 500 and rep.json()["error"]["message"]


def test_push_webhooks_trigger_a_scan_of_the_pushed_digest(api: Any, registry: RegistryServer) -> None:
    add_registry(api, registry, name="hooks", rate_limit="unlimited")  # the registry the notifications come from
    image = python_image(("urllib3", "1.26.3"))
    push_image(registry, image, "hooks/app", "2.0")
    harbor = {"type": "PUSH_ARTIFACT", "occur_at": 1732420000, "operator": "admin", "event_data": {
        "resources": [{"digest": image.digest, "tag": "2.0", "resource_url": f"{registry.host}/hooks/app:2.0"}],
        "repository": {"date_created": 1732420000, "name": "app", "namespace": "hooks", "repo_full_name": "hooks/app",
                       "repo_type": "private"}}}
    token = api.headers["Authorization"].split(" ", 1)[1]
    resp = api.post(f"/api/webhooks/harbor?token={token}", json=harbor, headers={"Authorization": ""})
    assert resp.status_code == 202, resp.text
    task = wait_task(api, resp.json()["task_id"])
    assert task["status"] == "succeeded" and task["trigger"] == "webhook"
    img = api.get("/api/images", params={"digest": image.digest}).json()["items"][0]
    assert img["scan_status"] == "succeeded" and img["risks"]["vulnerability"] == {"HIGH": 1}
    assert [(t["repository"], t["tag"]) for t in img["tags"]] == [("hooks/app", "2.0")]

    # the Distribution notification envelope (GitLab container registry, plain registries)
    other = python_image(("requests", "2.1.0"))
    push_image(registry, other, "hooks/api", "main")
    envelope = {"events": [
        {"id": "1", "timestamp": "2026-11-24T03:00:00Z", "action": "push",
         "target": {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64,
                    "repository": "hooks/api"}, "request": {"host": registry.host}},
        {"id": "2", "timestamp": "2026-11-24T03:00:01Z", "action": "push",
         "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": other.digest,
                    "repository": "hooks/api", "tag": "main"}, "request": {"host": registry.host}}]}
    resp = api.post("/api/webhooks/gitlab", json=envelope)
    assert resp.status_code == 202 and resp.json()["images"] == 1
    assert wait_task(api, resp.json()["task_id"])["status"] == "succeeded"
    found = api.get("/api/findings", params={"rule_id": REQUESTS_VULN}).json()
    assert found["total"] == 1
    assert api.post("/api/webhooks/harbor", json={"type": "PUSH_ARTIFACT", "event_data": {}}).status_code == 422
    assert api.post("/api/webhooks/registry", content=b"{not json").status_code == 400
    assert api.post("/api/webhooks/quay", json={"docker_url": "quay.example.test/a/b", "repository": "a/b",
                                                "updated_tags": ["x"]}).json()["code"] == "InvalidNotification"


def test_harbor_scan_requests_with_a_malformed_registry_are_400(api: Any, rt: Runtime) -> None:
    rt.config.harbor_registries = ("127.0.0.1:5000",)
    artifact = {"repository": "library/app", "digest": "sha256:" + "1" * 64}
    for registry in ({"url": "http://127.0.0.1:5000", "authorization": "Basic abc"},  # binascii.Error failed the whole task
                     {"url": "http://127.0.0.1:5000", "authorization": "Basic !!!"},  # was pulled anonymously
                     {"url": "http://127.0.0.1:5000", "authorization": "Basic " + "bm9jb2xvbg=="},  # no user:password
                     {"url": "http://127.0.0.1:5000", "authorization": "Negotiate abc"},
                     {"url": "http://127.0.0.1:5000", "authorization": "Bearer "},
                     {"url": "http://a\x00b:5000"}):
        resp = api.post("/api/v1/scan", json={"registry": registry, "artifact": artifact})
        assert resp.status_code == 400 and resp.headers["content-type"].startswith(ERROR_MIME), (registry, resp.text)
        assert resp.json()["error"]["message"]
    assert api.get("/api/tasks").json()["total"] == 0
    ok = api.post("/api/v1/scan", json={"registry": {"url": "http://127.0.0.1:5000", "authorization": "Bearer tok"},
                                        "artifact": artifact})
    assert ok.status_code == 202


def test_hostile_push_notifications_are_4xx(api: Any) -> None:
    deep = api.post("/api/webhooks/harbor", content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"})
    assert deep.status_code == 400 and deep.json()["message"] == "the notification body nests too deeply"  # was a 500

    def event(host: str, repo: str, digest: str) -> dict[str, Any]:
        return {"events": [{"action": "push", "request": {"host": host}, "target": {
            "digest": digest, "repository": repo, "mediaType": "application/vnd.oci.image.manifest.v1+json"}}]}

    good = "sha256:" + "b" * 64
    for body, message in ((event("reg\x01host", "x", good), "invalid registry host 'reg\\x01host'"),
                          (event("reg.example:5000", "UPPER/../x", good), "invalid repository name 'UPPER/../x'"),
                          (event("reg.example:5000", "x", "sha256:zz"), "sha256:<64 hex> expected")):
        resp = api.post("/api/webhooks/registry", json=body)
        assert resp.status_code == 422 and message in resp.json()["message"], resp.text
    assert api.get("/api/tasks").json()["total"] == 0  # nothing was scheduled (a control character in the host used to become a scan task)


def test_push_notifications_from_a_registry_not_added_are_refused(api: Any, registry: RegistryServer) -> None:
    """A well-formed notification naming a host that is no configured registry (an internal address, anything) is a
    422: the server never pulls from a host just because a notification names it, nor anonymously."""
    event = {"events": [{"action": "push", "request": {"host": "169.254.169.254:80"}, "target": {
        "digest": "sha256:" + "c" * 64, "repository": "latest/meta-data", "tag": "x",
        "mediaType": "application/vnd.oci.image.manifest.v1+json"}}]}
    resp = api.post("/api/webhooks/registry", json=event)
    assert resp.status_code == 422 and "no registry is configured for '169.254.169.254:80'" in resp.json()["message"], resp.text
    event["events"][0]["request"]["host"] = registry.host  # the real registry, before it is added: refused too
    assert api.post("/api/webhooks/registry", json=event).status_code == 422
    assert api.get("/api/tasks").json()["total"] == 0
    assert api.get("/api/repositories").json()["total"] == 0  # nor any repository recorded
