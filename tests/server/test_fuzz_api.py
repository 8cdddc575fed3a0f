"""A schemathesis pass over the OpenAPI schema (authenticated, bounded examples): no request yields a 5xx.

Bodies that would make the server contact a registry (with a host the API accepts) are pinned to a closed port on 127.0.0.1, so the
fuzzer never reaches the network; no queue is attached, so created tasks stay pending.
"""

from __future__ import annotations

import atexit
import ipaddress
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hullscan.server.api.registries import _HOSTNAME
from hullscan.server.app import create_app
from tests.server.conftest import admin_token, make_runtime
from tests.server.recorded import free_port

_DATA = Path(tempfile.mkdtemp(prefix="hullscan-fuzz-"))
atexit.register(shutil.rmtree, _DATA, True)
RT = make_runtime(_DATA)
TOKEN = admin_token(RT)
APP = create_app(RT)
CLOSED_PORT = free_port()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers={"Authorization": f"Bearer {TOKEN}"})

pytestmark = pytest.mark.sqlite_only  # the CLI / API schema, not the store's SQL


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _pin_network(case: Any) -> None:
    if isinstance(case.body, dict):
        if case.path.startswith("/api/registries"):
            # only hosts the API accepts are pinned: the fuzzer's invalid ones (control characters...) must get a 422
            if isinstance(case.body.get("domain"), str) and _HOSTNAME.fullmatch(case.body["domain"]):
                case.body["domain"] = "127.0.0.1"
            if isinstance(case.body.get("ip"), str) and _is_ip(case.body["ip"]):
                case.body["ip"] = "127.0.0.1"
            case.body["port"] = CLOSED_PORT
        if case.path == "/api/settings" and isinstance(case.body.get("settings"), dict):
            case.body["settings"].pop("webhook_urls", None)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    if case.path.startswith("/api/registries") and case.method.upper() in ("POST", "PUT") and not isinstance(case.body, dict):
        return  # can't pin a non-object body to localhost; the schema rejects it anyway
    _pin_network(case)
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
