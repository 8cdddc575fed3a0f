"""Settings: unknown check ids are refused with the valid ones listed; registry versions in the product's
spellings; registry addresses editable (and verified again)."""

from __future__ import annotations

from typing import Any

from tests.helpers.registry_server import RegistryServer


def test_unknown_sensitive_check_ids_are_422_listing_the_valid_ones(api: Any) -> None:
    version = api.get("/api/settings").json()["version"]
    resp = api.put("/api/settings", json={"version": version, "settings": {"checks": {"sensitive_types": [
        "sensitive-ssh-private-key", "sensitve-pem-private-key"]}}})
    assert resp.status_code == 422, resp.text
    message = resp.json()["message"]
    assert "sensitve-pem-private-key" in message and "sensitive-pem-private-key" in message  # the typo, the valid id
    ok = api.put("/api/settings", json={"version": version, "settings": {"checks": {"sensitive_types": [
        "sensitive-ssh-private-key", "secret-aws-*"]}}})
    assert ok.status_code == 200, ok.text


def test_registry_versions_in_the_products_spellings_and_editable_addresses(api: Any, registry: RegistryServer) -> None:
    host, port = registry.host.split(":")
    added = api.post("/api/registries", json={"name": "spelled", "type": "registry", "version": "V2", "protocol": "http",
                                              "ip": host, "port": int(port), "rate_limit": 100})
    assert added.status_code == 201, added.text
    assert added.json()["version"] == "v2"
    rid = added.json()["id"]
    moved = api.put(f"/api/registries/{rid}", json={"port": 1})  # a new address is verified before it is kept
    assert moved.status_code == 400 and moved.json()["code"] == "NetworkConnectError"
    assert api.get(f"/api/registries/{rid}").json()["port"] == int(port)
    renamed = api.put(f"/api/registries/{rid}", json={"domain": "localhost", "ip": "", "version": "V2"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["domain"] == "localhost" and renamed.json()["ip"] == ""
    assert api.put(f"/api/registries/{rid}", json={"domain": "", "ip": ""}).status_code == 422
    assert api.put(f"/api/registries/{rid}", json={"ip": "not-an-ip"}).status_code == 422


def test_scope_change_answers_the_repositorys_real_tag_count(api: Any, rt: Any) -> None:
    from hullscan.server.db.models import Image, ImageTag, Registry, Repository

    with rt.session() as s:
        reg = Registry(name="tags", type="registry", domain="tags.example")
        s.add(reg)
        s.flush()
        repo = Repository(registry_id=reg.id, name="team/app")
        image = Image(digest="sha256:" + "7" * 64)
        s.add_all([repo, image])
        s.flush()
        s.add_all([ImageTag(repository_id=repo.id, image_id=image.id, tag=t) for t in ("1.0", "latest")])
        repo_id = repo.id
    listed = {r["id"]: r for r in api.get("/api/repositories").json()["items"]}
    assert listed[repo_id]["tags"] == 2
    changed = api.put(f"/api/repositories/{repo_id}/scope", json={"in_scope": False})
    assert changed.status_code == 200 and changed.json()["tags"] == 2 and changed.json()["in_scope"] is False
