"""End to end against a real ``docker-registry``: add it, sync, scan now, read findings, whitelist one,
rescan and see it suppressed; quota consumed once per digest; handled marks survive rescans."""

from __future__ import annotations

from typing import Any

from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import REQUESTS_VULN, URLLIB3_VULN, python_image, wait_task


def add_registry(api: Any, registry: RegistryServer, **kw: Any) -> dict[str, Any]:
    host, port = registry.host.split(":")
    body = {"name": kw.pop("name", "local"), "type": "registry", "protocol": "http", "ip": host, "port": int(port), **kw}
    resp = api.post("/api/registries", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_add_sync_scan_whitelist_rescan(api: Any, registry: RegistryServer, store: str) -> None:
    ns = f"e2e-{store}"  # the registry outlives the test: each store's run has its own repositories
    vulnerable = python_image(("urllib3", "1.26.4"), ("requests", "2.19.0"))
    clean = python_image(("urllib3", "1.26.18"))
    push_image(registry, vulnerable, f"{ns}/api", "1.0")
    push_image(registry, vulnerable, f"{ns}/api", "latest")  # same digest, second tag
    push_image(registry, vulnerable, f"{ns}/mirror", "1.0")  # same digest, other repository
    push_image(registry, clean, f"{ns}/web", "2.0")

    reg = add_registry(api, registry, rate_limit=100_000)
    assert reg["rate_limit"] == 100_000 and reg["has_password"] is False and "password" not in reg

    sync = wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
    assert sync["status"] == "succeeded", sync
    assert sync["progress"]["done"] == sync["progress"]["total"] >= 3
    repos = {r["name"]: r for r in api.get("/api/repositories", params={"registry_id": reg["id"]}).json()["items"]}
    assert {f"{ns}/api", f"{ns}/mirror", f"{ns}/web"} <= set(repos)
    assert all(repos[n]["in_scope"] for n in (f"{ns}/api", f"{ns}/mirror", f"{ns}/web"))  # auto-add is on by default
    scope = {"repository_ids": [repos[n]["id"] for n in (f"{ns}/api", f"{ns}/mirror", f"{ns}/web")]}

    pre = api.post("/api/tasks/scan/precheck", json=scope).json()
    assert pre == {"images": 2, "quota_needed": 2, "quota_remaining": 1000, "quota_sufficient": True}

    first = wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])
    assert first["status"] == "succeeded", api.get(f"/api/tasks/{first['id']}/logs").json()
    assert first["progress"] == {"done": 2, "total": 2}
    assert api.get("/api/quota").json() == {"purchased": 1000, "used": 2, "remaining": 998}

    vulns = api.get("/api/findings", params={"category": "vulnerability", "repository_id": repos[f"{ns}/api"]["id"]}).json()
    assert sorted(f["rule_id"] for f in vulns["items"]) == sorted([URLLIB3_VULN, REQUESTS_VULN])
    assert vulns["total"] == 2
    by_id = {f["rule_id"]: f for f in vulns["items"]}
    assert by_id[URLLIB3_VULN]["package"] == {"name": "urllib3", "version": "1.26.4", "ecosystem": "PyPI",
                                             "purl": by_id[URLLIB3_VULN]["package"]["purl"]}
    assert by_id[URLLIB3_VULN]["fixed_versions"] == ["1.26.5"] and by_id[URLLIB3_VULN]["fix_status"] == "fixed"
    assert api.get("/api/findings", params={"repository_id": repos[f"{ns}/web"]["id"], "category": "vulnerability"}).json()["total"] == 0
    # each filter on real findings, and pagination one finding per page
    api_repo = {"category": "vulnerability", "repository_id": repos[f"{ns}/api"]["id"]}

    def found(**params: Any) -> list[str]:
        return sorted(f["rule_id"] for f in api.get("/api/findings", params={**api_repo, **params}).json()["items"])

    assert found(package="requests") == [REQUESTS_VULN] and found(package="urllib") == []
    assert found(severity="HIGH") == sorted([URLLIB3_VULN, REQUESTS_VULN]) and found(severity="LOW") == []
    assert found(fix_status="fixed") == sorted([URLLIB3_VULN, REQUESTS_VULN]) and found(fix_status="affected") == []
    pages = [api.get("/api/findings", params={**api_repo, "page": n, "page_size": 1}).json() for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [2, 2, 2] and [len(p["items"]) for p in pages] == [1, 1, 0]
    assert sorted(p["items"][0]["rule_id"] for p in pages[:2]) == sorted([URLLIB3_VULN, REQUESTS_VULN])
    # "scan now" by registry type: this registry is a plain v2 registry
    assert api.post("/api/tasks/scan/precheck", json={**scope, "registry_types": ["harbor"]}).json()["images"] == 0
    assert api.post("/api/tasks/scan/precheck", json={**scope, "registry_types": ["registry"]}).json()["images"] == 2

    images = {i["digest"]: i for i in api.get("/api/images", params={"registry_id": reg["id"]}).json()["items"]}
    vuln_image = images[vulnerable.digest]
    assert vuln_image["risks"]["vulnerability"] == {"HIGH": 2}
    # (the registry fixture is shared: another test may push the same image elsewhere)
    assert {(t["repository"], t["tag"]) for t in vuln_image["tags"] if t["repository"].startswith(f"{ns}/")} == {
        (f"{ns}/api", "1.0"), (f"{ns}/api", "latest"), (f"{ns}/mirror", "1.0")}
    assert api.get(f"/api/images/{vuln_image['id']}/packages").json()["packages"]  # the inventory is stored

    # mark one handled with a reason: the mark must survive the rescan
    handled = api.put(f"/api/findings/{by_id[REQUESTS_VULN]['id']}/state", json={"state": "handled", "reason": "pinned upstream"})
    assert handled.status_code == 200 and handled.json()["state_by"] == "admin"
    assert api.put(f"/api/findings/{by_id[REQUESTS_VULN]['id']}/state", json={"state": "ignored"}).status_code == 422

    # whitelist the urllib3 advisory by its CVE alias, for the e2e/api repository only
    rule = api.post("/api/whitelist", json={"kind": "vulnerability", "value": "CVE-2021-33503", "scope": "repositories",
                                            "scope_ids": [repos[f"{ns}/api"]["id"]], "note": "not reachable"})
    assert rule.status_code == 201 and rule.json()["author"] == "admin" and rule.json()["active"]

    second = wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])
    assert second["status"] == "succeeded"
    assert api.get("/api/quota").json()["used"] == 2  # rescanning unchanged digests is free

    visible = api.get("/api/findings", params={"category": "vulnerability", "image_id": vuln_image["id"]}).json()
    assert [f["rule_id"] for f in visible["items"]] == [REQUESTS_VULN]
    assert visible["items"][0]["state"] == "handled" and visible["items"][0]["state_reason"] == "pinned upstream"
    everything = api.get("/api/findings", params={"category": "vulnerability", "image_id": vuln_image["id"],
                                                  "include_suppressed": True}).json()
    assert everything["total"] == 2  # nothing duplicated by the rescan
    suppressed = next(f for f in everything["items"] if f["rule_id"] == URLLIB3_VULN)
    assert suppressed["suppressed_by"] == rule.json()["id"]
    # handled + whitelisted: no open vulnerability left (other categories, e.g. baseline checks, still count)
    assert "vulnerability" not in api.get(f"/api/images/{vuln_image['id']}").json()["risks"]

    # deleting the rule lifts the suppression at once
    assert api.delete(f"/api/whitelist/{rule.json()['id']}").status_code == 204
    assert api.get("/api/findings", params={"rule_id": URLLIB3_VULN, "image_id": vuln_image["id"]}).json()["total"] == 1

    # a new digest consumes one more unit
    push_image(registry, python_image(("requests", "2.18.0")), f"{ns}/web", "2.1")
    wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
    assert api.post("/api/tasks/scan/precheck", json=scope).json()["quota_needed"] == 1
    third = wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])
    assert third["status"] == "succeeded"
    assert api.get("/api/quota").json()["used"] == 3


def test_quota_exhausted_is_refused_with_a_reason(api: Any, registry: RegistryServer) -> None:
    push_image(registry, python_image(("urllib3", "1.20")), "quota/a", "1")
    push_image(registry, python_image(("urllib3", "1.21")), "quota/b", "1")
    reg = add_registry(api, registry, name="quota-reg", rate_limit="unlimited")
    assert reg["rate_limit"] == "unlimited" and reg["warnings"]
    wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
    repo_ids = [r["id"] for r in api.get("/api/repositories", params={"registry_id": reg["id"]}).json()["items"]
                if r["name"].startswith("quota/")]
    assert api.put("/api/quota", json={"purchased": 1}).json() == {"purchased": 1, "used": 0, "remaining": 1}
    pre = api.post("/api/tasks/scan/precheck", json={"repository_ids": repo_ids}).json()
    assert pre["images"] == 2 and pre["quota_needed"] == 2 and pre["quota_sufficient"] is False
    refused = api.post("/api/tasks/scan", json={"repository_ids": repo_ids})
    assert refused.status_code == 403
    assert refused.json()["code"] == "QuotaExhausted" and "needs 2" in refused.json()["message"]
    ok = wait_task(api, api.post("/api/tasks/scan", json={"repository_ids": repo_ids[:1]}).json()["id"])
    assert ok["status"] == "succeeded" and api.get("/api/quota").json()["remaining"] == 0
    # exactly at the limit: the scanned digest is rescanned for free, a new one is refused
    again = api.post("/api/tasks/scan", json={"repository_ids": repo_ids[:1]})
    assert again.status_code == 202 and again.json()["quota_needed"] == 0
    assert wait_task(api, again.json()["id"])["status"] == "succeeded"
    assert api.get("/api/quota").json() == {"purchased": 1, "used": 1, "remaining": 0}
    other = api.post("/api/tasks/scan", json={"repository_ids": repo_ids[1:]})
    assert other.status_code == 403 and "needs 1 image scans of quota but only 0 of 1 are left" in other.json()["message"]
