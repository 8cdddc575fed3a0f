"""End to end with the check items: a planted secret, a sensitive file and a risky build command are found,
risky-file whitelist rules per alert type suppress them by scope, and the check-item settings change what
a rescan reports."""

from __future__ import annotations

from typing import Any

from tests.helpers.imagebuild import ImageBuilder
from tests.helpers.registry_server import RegistryServer, push_image
from tests.server.conftest import wait_task
from tests.server.test_e2e_registry import add_registry

AWS = "AWS_ACCESS_KEY_ID=AKIAZ7VRSQ3LDHNBXQ4P\nAWS_SECRET_ACCESS_KEY=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\n"
KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
       "-----END OPENSSH PRIVATE KEY-----\n")


def ids(api: Any, **params: Any) -> set[tuple[str, str]]:
    items = api.get("/api/findings", params={"page_size": 500, **params}).json()["items"]
    return {(f["rule_id"], f["path"]) for f in items}


def test_check_items_and_risky_file_whitelist(api: Any, registry: RegistryServer) -> None:
    image = ImageBuilder().add_layer({"/app/.env": AWS, "/root/.ssh/id_rsa": KEY})
    image.add_history("RUN curl -sSL https://example.com/install.sh | sh")
    push_image(registry, image, "checks/app", "1")
    reg = add_registry(api, registry, name="checks", rate_limit="unlimited")
    wait_task(api, api.post("/api/tasks/sync", json={"registry_ids": [reg["id"]]}).json()["id"])
    repo = next(r for r in api.get("/api/repositories", params={"registry_id": reg["id"]}).json()["items"]
                if r["name"] == "checks/app")
    scope = {"repository_ids": [repo["id"]]}
    assert wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])["status"] == "succeeded"

    sensitive = ids(api, category="sensitive", repository_id=repo["id"])
    assert ("secret-aws-access-key-id", "/app/.env") in sensitive
    assert ("secret-private-key", "/root/.ssh/id_rsa") in sensitive
    assert ("history-curl-pipe-shell", "history[1]") in ids(api, category="history", repository_id=repo["id"])
    leaked = api.get("/api/findings", params={"category": "sensitive", "rule_id": "secret-aws-access-key-id"}).json()["items"][0]
    assert "AKIAZ7VRSQ3LDHNBXQ4P" not in leaked["evidence"]  # evidence stays masked through the store

    # sensitive-file rule for one repository by path glob; build-command rule for all repositories by check id
    assert api.post("/api/whitelist", json={"kind": "sensitive", "value": "/app/*", "scope": "repositories",
                                            "scope_ids": [repo["id"]], "note": "test fixtures"}).status_code == 201
    assert api.post("/api/whitelist", json={"kind": "history", "value": "history-curl-pipe-shell"}).status_code == 201
    left = ids(api, category="sensitive", repository_id=repo["id"])
    assert all(path != "/app/.env" for _, path in left) and ("secret-private-key", "/root/.ssh/id_rsa") in left
    assert ids(api, category="history", repository_id=repo["id"]) == set()

    # check items: only one sensitive rule kept, then sensitive files off altogether
    cur = api.get("/api/settings").json()
    upd = api.put("/api/settings", json={"version": cur["version"], "settings": {
        "checks": {"sensitive": True, "sensitive_types": ["secret-private-key"], "baseline": True, "malware": True, "history": True}}})
    assert upd.status_code == 200
    assert wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])["status"] == "succeeded"
    assert {r for r, _ in ids(api, category="sensitive", repository_id=repo["id"], include_suppressed=True)} == {"secret-private-key"}
    upd = api.put("/api/settings", json={"version": upd.json()["version"], "settings": {
        "checks": {"sensitive": False, "baseline": True, "malware": True, "history": True}}})
    assert wait_task(api, api.post("/api/tasks/scan", json=scope).json()["id"])["status"] == "succeeded"
    assert ids(api, category="sensitive", repository_id=repo["id"], include_suppressed=True) == set()
    assert ids(api, category="history", repository_id=repo["id"], include_suppressed=True)  # still checked, still whitelisted
