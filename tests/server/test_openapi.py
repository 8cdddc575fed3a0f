"""OpenAPI: one documented error body that is what the server returns, the error statuses documented on every
operation, readable operation ids."""

from __future__ import annotations

from typing import Any

import jsonschema


def test_errors_are_documented_as_returned(api: Any) -> None:
    doc = api.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas  # FastAPI's {detail}: never sent
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(ops) > 40
    for path, method, op in ops:
        for status in ("401", "403", "404", "409", "422", "429"):
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ErrorBody", (path, method, status)
    validator = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/ErrorBody", "components": doc["components"]})
    answers = [api.get("/api/findings/999999"), api.get("/api/findings", params={"page": 0}),
               api.put("/api/findings/1/state", json={"state": "bogus"}), api.get("/api/users", headers={"Authorization": ""})]
    assert [a.status_code for a in answers] == [404, 422, 422, 401]
    for answer in answers:
        validator.validate(answer.json())
    assert answers[1].json()["errors"][0]["loc"] == ["query", "page"]


def test_operation_ids_are_readable_and_unique(api: Any) -> None:
    doc = api.get("/openapi.json").json()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert {"list_findings", "set_state", "add_registry", "delete_token", "accept_scan"} <= set(ids)
    assert all(i.isidentifier() and "__" not in i for i in ids)
