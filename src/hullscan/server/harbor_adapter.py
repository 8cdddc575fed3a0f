"""Harbor pluggable scanner API (harbor-scanner-adapter spec v1.x): lets a Harbor use hullscan as its scanner.

``GET /api/v1/metadata`` describes the scanner, ``POST /api/v1/scan`` accepts a scan request (registry URL
and authorization, repository, digest) and answers ``202 {"id"}``, ``GET /api/v1/scan/{id}/report`` answers
``302`` with ``Refresh-After`` until done, then the report in ``application/vnd.security.vulnerability.report;
version=1.1``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from hullscan.server.db.models import FindingRow, HarborScanRequest, Image, Task, TaskItem
from hullscan.server.runtime import Runtime
from hullscan.server.tasks import create_task
from hullscan.server.timeutil import iso

REPORT_MIME = "application/vnd.security.vulnerability.report; version=1.1"
SCAN_RESPONSE_MIME = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
METADATA_MIME = "application/vnd.scanner.adapter.metadata+json; version=1.0"
ERROR_MIME = "application/vnd.scanner.adapter.error+json; version=1.0"
CONSUMES = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"]
HARBOR_SEVERITY = {"UNKNOWN": "Unknown", "NEGLIGIBLE": "Negligible", "LOW": "Low", "MEDIUM": "Medium",
                   "HIGH": "High", "CRITICAL": "Critical"}
SEVERITY_ORDER = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]


def metadata() -> dict[str, Any]:
    """The scanner adapter metadata."""
    from hullscan import __version__

    return {
        "scanner": {"name": "hullscan", "vendor": "hullscan", "version": str(__version__)},
        "capabilities": [{"consumes_mime_types": CONSUMES, "produces_mime_types": [REPORT_MIME]}],
        "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                       "harbor.scanner-adapter/vulnerability-database-updated-at": ""},
    }


def accept(rt: Runtime, registry_url: str, authorization: str, repository: str, digest: str, tag: str,
           mime_type: str, user: str) -> str:
    """Record a scan request and start its task; returns the request id."""
    now = rt.now()
    rid = uuid.uuid4().hex
    with rt.session() as s:
        image = s.scalar(select(Image).where(Image.digest == digest))
        if image is None:
            s.add(Image(digest=digest, created_at=now))
        s.add(HarborScanRequest(id=rid, registry_url=registry_url, authorization_enc=rt.secrets.encrypt(authorization),
                                repository=repository, digest=digest, tag=tag, mime_type=mime_type, created_at=now))
    task_id = create_task(rt, "scan", {"harbor_request": rid}, user=user, trigger="harbor")
    with rt.session() as s:
        req = s.get(HarborScanRequest, rid)
        assert req is not None
        req.task_id = task_id
    return rid


def report(rt: Runtime, rid: str) -> tuple[str, dict[str, Any]]:
    """(state, body): state is ``unknown``, ``pending``, ``failed`` (body has the message) or ``done``."""
    with rt.session() as s:
        req = s.get(HarborScanRequest, rid)
        if req is None:
            return "unknown", {}
        task = s.get(Task, req.task_id) if req.task_id else None
        if task is None or task.status in ("pending", "running"):
            return "pending", {}
        image = s.scalar(select(Image).where(Image.digest == req.digest))
        # the outcome of this request's own task (its one item), not whatever the image's latest scan was
        item = s.scalar(select(TaskItem).where(TaskItem.task_id == task.id).order_by(TaskItem.id))
        if item is None or item.status != "succeeded" or image is None:
            return "failed", {"message": (item.error if item else "") or task.error or f"scan {task.status}"}
        rows = s.scalars(select(FindingRow).where(FindingRow.image_id == image.id, FindingRow.category == "vulnerability",
                                                  FindingRow.suppressed_by.is_(None))
                         .order_by(FindingRow.severity_rank.desc(), FindingRow.rule_id, FindingRow.package_name)).all()
        vulns = []
        for f in rows:
            vuln = (f.detail or {}).get("vuln") or {}
            entry: dict[str, Any] = {
                "id": f.rule_id, "package": f.package_name, "version": f.package_version,
                "fix_version": (f.fixed_versions or [""])[0], "severity": HARBOR_SEVERITY.get(f.severity, "Unknown"),
                "description": f.description or f.title, "links": list(vuln.get("references") or [])[:20],
            }
            if f.cvss_score is not None:
                entry["preferred_cvss"] = {"score_v3": f.cvss_score, "vector_v3": vuln.get("cvss_vector", "")}
            if f.layer:
                entry["layer"] = {"digest": f.layer, "diff_id": f.layer}
            vulns.append(entry)
        worst = max((v["severity"] for v in vulns), key=SEVERITY_ORDER.index, default="Unknown")
        body = {
            "generated_at": iso(image.last_scanned_at),
            "artifact": {"repository": req.repository, "digest": req.digest, "tag": req.tag, "mime_type": req.mime_type},
            "scanner": metadata()["scanner"],
            "severity": worst,
            "vulnerabilities": vulns,
        }
        return "done", body
