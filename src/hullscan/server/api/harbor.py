"""Harbor pluggable scanner adapter API at ``/api/v1`` (see :mod:`hullscan.server.harbor_adapter`)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from hullscan.server import harbor_adapter as ha
from hullscan.server.api.deps import RT, Operator, Viewer

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX, tags=["harbor scanner adapter"])


class HarborRegistry(BaseModel):
    """Where Harbor's registry is and how to authorise against it."""

    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?/?$")
    authorization: str = Field(default="", max_length=8192,
                               description="empty, `Basic <base64 of user:password>` or `Bearer <token>`")

    @field_validator("authorization")
    @classmethod
    def _auth(cls, v: str) -> str:
        scheme, _, value = v.partition(" ")
        if not v:
            return v
        if scheme.lower() == "bearer" and value.strip() and value.isprintable():
            return v
        if scheme.lower() == "basic":
            try:
                if ":" in base64.b64decode(value.strip(), validate=True).decode():
                    return v
            except (binascii.Error, UnicodeDecodeError):
                pass
        raise ValueError("authorization must be 'Basic <base64 of user:password>' or 'Bearer <token>'")


class HarborArtifact(BaseModel):
    """The artifact to scan."""

    repository: str = Field(min_length=1, max_length=500, pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
    digest: str = Field(pattern=r"^sha256:[a-f0-9]{64}$")
    tag: str = Field(default="", max_length=128)
    mime_type: str = Field(default="", max_length=200)


class ScanRequest(BaseModel):
    """Harbor's ScanRequest."""

    registry: HarborRegistry
    artifact: HarborArtifact


def error_response(status: int, message: str) -> JSONResponse:
    """The spec's error body with its media type."""
    return _error(status, message)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status, media_type=ha.ERROR_MIME)


@router.get("/metadata", summary="Scanner adapter metadata")
def get_metadata(rt: RT, _: Viewer) -> Response:
    return JSONResponse(ha.metadata(rt), media_type=ha.METADATA_MIME)


@router.post("/scan", status_code=202, summary="Accept a scan request from Harbor")
def accept_scan(body: ScanRequest, rt: RT, user: Operator) -> Response:
    try:
        rid = ha.accept(rt, body.registry.url, body.registry.authorization, body.artifact.repository,
                        body.artifact.digest, body.artifact.tag, body.artifact.mime_type, user.username)
    except ha.RequestRefused as exc:
        return _error(400, str(exc))
    return JSONResponse({"id": rid}, status_code=202, media_type=ha.SCAN_RESPONSE_MIME)


@router.get("/scan/{scan_request_id}/report", summary="The vulnerability report of a scan request",
            responses={302: {"description": "not ready; retry after Refresh-After seconds"}})
def get_report(scan_request_id: str, rt: RT, _: Viewer, accept: str = Header(default="*/*", max_length=500)) -> Response:
    wanted = [a.split(";")[0].strip().lower() for a in accept.split(",")]
    harbor_type = ha.HARBOR_REPORT_MIME.split(";")[0]
    if harbor_type in wanted:
        media_type = ha.HARBOR_REPORT_MIME
    elif any(a in ("*/*", "application/*", "application/vnd.security.vulnerability.report") or a.startswith("application/json")
             for a in wanted):
        media_type = ha.REPORT_MIME
    else:
        return _error(400, f"unsupported report type {accept!r}; this scanner produces {' and '.join(ha.REPORT_MIMES)}")
    state, body = ha.report(rt, scan_request_id)
    if state == "unknown":
        return _error(404, f"no scan request {scan_request_id!r}")
    if state == "pending":
        return Response(status_code=302, headers={"Refresh-After": "5"})
    if state == "failed":
        # a failed scan is reported to Harbor as the spec's internal error
        return _error(500, body["message"])
    return JSONResponse(body, media_type=media_type)


