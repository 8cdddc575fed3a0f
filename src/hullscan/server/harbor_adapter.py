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
HARBOR_REPORT_MIME = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
REPORT_MIMES = (REPORT_MIME, HARBOR_REPORT_MIME)
SCAN_RESPONSE_MIME = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
METADATA_MIME = "application/vnd.scanner.adapter.metadata+json; version=1.0"
ERROR_MIME = "application/vnd.scanner.adapter.error+json; version=1.0"
CONSUMES = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"]
HARBOR_SEVERITY = {"UNKNOWN": "Unknown", "NEGLIGIBLE": "Negligible", "LOW": "Low", "MEDIUM": "Medium",
                   "HIGH": "High", "CRITICAL": "Critical"}
SEVERITY_ORDER = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
#: what a Harbor is told when its scan did not succeed (the full error, which can hold a remote server's words,
#: stays in the task log)
OUTCOMES = {
    "failed": "the artifact could not be pulled or scanned",
    "not scanned: quota exhausted": "not scanned: quota exhausted",
    "not scanned: registry unreachable": "not scanned: registry unreachable",
    "not scanned: time limit": "not scanned: time limit",
    "not scanned: stopped": "not scanned: stopped",
}


class RequestRefused(ValueError):
    """A scan request this adapter will not act on (400 to Harbor)."""


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def allowed_registry(rt: Runtime, url: str) -> bool:
    """True when ``url`` is a registry added to hullscan or on ``ServerConfig.harbor_registries``: the adapter
    never contacts a host a caller just names (cloud metadata, loopback services, the internal network)."""
    from hullscan.server.db.models import Registry

    host, port = _host_port(url)
    for entry in rt.config.harbor_registries:
        h, _, p = entry.strip().lower().rstrip("/").rpartition(":") if ":" in entry else (entry.strip().lower(), "", "")
        if h == host and (not p or int(p) == port):
            return True
    with rt.session() as s:
        for reg in s.scalars(select(Registry).where(Registry.builtin.is_(False))):
            names = {(reg.domain or "").lower().rstrip("."), (reg.ip or "").lower()} - {""}
            reg_port = reg.port or (443 if reg.protocol == "https" else 80)
            if host in names and port == reg_port:
                return True
    return False


def db_updated_at(rt: Runtime) -> str:
    """When the vulnerability database was last changed (its file's modification time), "" when absent."""
    import os
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(os.stat(rt.vuln_db_path).st_mtime, tz=UTC).isoformat(timespec="seconds")
    except OSError:
        return ""


def metadata(rt: Runtime | None = None) -> dict[str, Any]:
    """The scanner adapter metadata."""
    from hullscan import __version__

    return {
        "scanner": {"name": "hullscan", "vendor": "hullscan", "version": str(__version__)},
        "capabilities": [{"consumes_mime_types": CONSUMES, "produces_mime_types": list(REPORT_MIMES)}],
        "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                       "harbor.scanner-adapter/vulnerability-database-updated-at": db_updated_at(rt) if rt else ""},
    }


def accept(rt: Runtime, registry_url: str, authorization: str, repository: str, digest: str, tag: str,
           mime_type: str, user: str) -> str:
    """Record a scan request and start its task; returns the request id. RequestRefused for an artifact type this
    scanner does not read or a registry that is not configured."""
    if mime_type and mime_type not in CONSUMES:
        raise RequestRefused(f"unsupported artifact type {mime_type!r}; this scanner reads {', '.join(CONSUMES)}")
    if not allowed_registry(rt, registry_url):
        raise RequestRefused("the registry is not one this scanner may contact: add it to hullscan's registries or "
                             "to the server's harbor_registries allow-list")
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
            outcome = OUTCOMES.get(item.status if item else "failed", OUTCOMES["failed"])
            return "failed", {"message": f"{outcome} (hullscan task {task.id} has the details)"}
        rows = s.scalars(select(FindingRow).where(FindingRow.image_id == image.id, FindingRow.category == "vulnerability",
                                                  FindingRow.suppressed_by.is_(None))
                         .order_by(FindingRow.severity_rank.desc(), FindingRow.rule_id, FindingRow.package_name)).all()
        layers = {lay.get("diff_id"): lay.get("digest") for lay in (image.inventory or {}).get("layers") or []}
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
            if f.layer:  # the blob digest of the layer (the manifest's) and its diff_id (the config's)
                entry["layer"] = {"digest": layers.get(f.layer) or "", "diff_id": f.layer}
            vulns.append(entry)
        worst = max((v["severity"] for v in vulns), key=SEVERITY_ORDER.index, default="Unknown")
        body = {
            "generated_at": iso(image.last_scanned_at),
            "artifact": {"repository": req.repository, "digest": req.digest, "tag": req.tag, "mime_type": req.mime_type},
            "scanner": metadata(rt)["scanner"],
            "severity": worst,
            "vulnerabilities": vulns,
        }
        return "done", body
