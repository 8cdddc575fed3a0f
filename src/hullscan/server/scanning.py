"""Scan tasks: choose the images (scope, registry types, time range), then scan each unique digest once.

Per image: stop/time-limit check, the registry's rate limit (shared token bucket), a claim on the digest (two
tasks reaching it at once: the second waits and takes the first one's outcome), the quota (one unit per new
digest), ``hullscan.scan.scan``, then one transaction storing the scan, the inventory, the findings and the
item's outcome. The task resumes after a restart from its items: finished items stay
finished, the one in flight is scanned again and replaces its findings atomically.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import IntegrityError

from hullscan.errors import HullscanError, TimeLimitError
from hullscan.server import quota, whitelist
from hullscan.server.db.models import (
    HarborScanRequest,
    Image,
    ImageTag,
    Registry,
    Repository,
    Scan,
    Task,
    TaskItem,
)
from hullscan.server.ratelimit import try_acquire
from hullscan.server.registries import pull_options
from hullscan.server.results import replace_findings, store_inventory
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import ScanSettings, get_settings
from hullscan.server.tasks import add_log, finish
from hullscan.server.timeutil import aware

TIME_LIMIT = "not scanned: time limit"
STOPPED = "not scanned: stopped"
NO_QUOTA = "not scanned: quota exhausted"


@dataclass(frozen=True)
class Target:
    """One image a scan covers."""

    image_id: int
    digest: str
    registry_id: int | None
    reference: str


def select_targets(session: Any, params: dict[str, Any], settings: ScanSettings, now: datetime) -> list[Target]:
    """The unique images a scan with ``params`` covers, in a stable order."""
    explicit = [int(x) for x in params.get("image_ids") or []]
    types = params.get("registry_types") or settings.registry_types
    q = (
        select(ImageTag, Repository, Registry, Image)
        .join(Repository, ImageTag.repository_id == Repository.id)
        .join(Registry, Repository.registry_id == Registry.id)
        .join(Image, ImageTag.image_id == Image.id)
        .order_by(Registry.id, Repository.name, ImageTag.tag)
    )
    if explicit:
        q = q.where(Image.id.in_(explicit))
    else:
        q = q.where(Repository.in_scope.is_(True), Registry.type.in_(list(types)))
    if params.get("registry_ids"):
        q = q.where(Registry.id.in_([int(x) for x in params["registry_ids"]]))
    if params.get("repository_ids"):
        q = q.where(Repository.id.in_([int(x) for x in params["repository_ids"]]))
    cutoff = now - timedelta(days=settings.time_range_days) if settings.time_range_days and not explicit else None
    out: dict[int, Target] = {}
    for tag, repo, reg, image in session.execute(q):
        if image.id in out:
            continue
        if cutoff is not None:
            when = tag.updated_at or tag.pushed_at or image.image_created
            if when is None or aware(when) < cutoff:
                continue
        prefix = repo.pull_prefix or f"{reg.domain or reg.ip}{':' + str(reg.port) if reg.port else ''}/{repo.name}"
        out[image.id] = Target(image.id, image.digest, reg.id, f"{prefix}@{image.digest}")
    return list(out.values())


def precheck(session: Any, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    """How many images a scan covers and how much quota it would consume."""
    settings, _ = get_settings(session)
    targets = select_targets(session, params, settings, now)
    digests = [t.digest for t in targets]
    need = quota.would_consume(session, digests)
    st = quota.status(session)
    return {
        "images": len(targets),
        "quota_needed": need,
        "quota_remaining": st.remaining,
        "quota_sufficient": need <= st.remaining,
    }


def _plan(rt: Runtime, task_id: int, params: dict[str, Any]) -> None:
    """First run: fix the task's items."""
    with rt.session() as s:
        if params.get("harbor_request"):
            req = s.get(HarborScanRequest, params["harbor_request"])
            image = s.scalar(select(Image).where(Image.digest == req.digest)) if req else None
            targets = [Target(image.id, image.digest, None, _harbor_ref(req))] if req and image else []
        else:
            settings, _ = get_settings(s)
            targets = select_targets(s, params, settings, rt.now())
        for t in targets:
            s.add(TaskItem(task_id=task_id, image_id=t.image_id, registry_id=t.registry_id, reference=t.reference))
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = len(targets)
        task.result = {**(task.result or {}), "deadline": rt.clock() + task.time_limit_seconds, "planned": True}
    add_log(rt, task_id, f"scan covers {len(targets)} images")


def _harbor_ref(req: HarborScanRequest) -> str:
    host = req.registry_url.split("://", 1)[-1].rstrip("/")
    return f"{host}/{req.repository}@{req.digest}"


def _options(rt: Runtime, settings: ScanSettings, reg: Registry | None, harbor: HarborScanRequest | None,
             item_credentials: str = "") -> Any:
    from hullscan.options import RegistryOptions, ScanOptions

    reg_kwargs = pull_options(reg, rt.secrets)
    if item_credentials and reg is None:  # an image of no configured registry: e.g. a pod's imagePullSecret
        reg_kwargs = _item_pull_options(rt, rt.secrets.decrypt_json(item_credentials) or {})
    if harbor is not None:
        auth = rt.secrets.decrypt(harbor.authorization_enc)
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            user, _, pw = base64.b64decode(value).decode(errors="replace").partition(":")
            reg_kwargs = {"username": user, "password": pw}
        elif scheme.lower() == "bearer":
            reg_kwargs = {"registry_token": value}
        reg_kwargs["insecure"] = harbor.registry_url.startswith("http://")
    checks: tuple[str, ...] = ()
    if settings.checks.sensitive and settings.checks.sensitive_types:
        checks = ("vulnerability", "baseline", "malicious", "history", *settings.checks.sensitive_types)
    return ScanOptions(
        scanners=settings.scanners(),
        cache_dir=rt.cache_dir,
        db_path=rt.vuln_db_path,
        registry=RegistryOptions(**reg_kwargs),
        checks=checks,
        quiet=True,
    )


def _item_pull_options(rt: Runtime, creds: dict[str, Any]) -> dict[str, Any]:
    """RegistryOptions keywords from a task item's own credentials (``username``, ``password``, ``ca_pem``)."""
    out: dict[str, Any] = {"username": creds.get("username") or None, "password": creds.get("password") or None}
    ca_pem = str(creds.get("ca_pem") or "")
    if ca_pem:
        import hashlib

        folder = rt.config.data_dir / "ca"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(ca_pem.encode()).hexdigest()[:24]}.pem"
        if not path.exists():
            path.write_text(ca_pem)
        out["ca_bundle"] = str(path)
    return out


def _mark_rest(rt: Runtime, task_id: int, status: str) -> int:
    with rt.session() as s:
        rows = s.scalars(select(TaskItem).where(TaskItem.task_id == task_id, TaskItem.status == "pending")).all()
        for row in rows:
            row.status = status
        return len(rows)


def _wait_for_rate(rt: Runtime, task_id: int, registry_id: int | None, rate: int | None, deadline: float) -> bool:
    """Block until the registry's bucket gives a token; False when the deadline or a stop comes first."""
    if registry_id is None:
        return True
    logged = False
    while True:
        wait = try_acquire(rt.sessions, registry_id, rate, rt.clock())
        if wait <= 0:
            return True
        if rt.clock() + wait > deadline or _stop_requested(rt, task_id):
            return False
        if not logged:
            add_log(rt, task_id, f"rate limit of registry {registry_id} ({rate} images/hour): waiting {wait:.0f}s")
            logged = True
        rt.sleep(min(wait, 5.0))


def _stop_requested(rt: Runtime, task_id: int) -> bool:
    with rt.session() as s:
        task = s.get(Task, task_id)
        return bool(task and task.stop_requested)


def _claim(rt: Runtime, task_id: int, image_id: int, deadline: float) -> tuple[str, str] | None:
    """Claim the image for this task: None means go on and scan it. While another running task holds the claim
    (two tasks reached the same digest at once), wait for that scan and return its outcome instead of pulling and
    scanning the digest a second time; a stop or the time limit while waiting gives "not scanned"."""
    waited_since: datetime | None = None
    while True:
        with rt.session() as s:
            image = s.get(Image, image_id)
            assert image is not None
            if (waited_since is not None and image.scan_claim_task is None and image.last_scanned_at is not None
                    and aware(image.last_scanned_at) >= waited_since and image.scan_status in ("succeeded", "failed")):
                return image.scan_status, image.scan_error  # the other task's scan, just finished
            running = select(Task.id).where(Task.status == "running")
            claimed = cast(CursorResult[Any], s.execute(  # an UPDATE's result is a CursorResult (rowcount)
                update(Image)
                .where(Image.id == image_id, or_(Image.scan_claim_task.is_(None), Image.scan_claim_task == task_id,
                                                 Image.scan_claim_task.not_in(running)))
                .values(scan_claim_task=task_id)
                .execution_options(synchronize_session=False)
            )).rowcount
            s.refresh(image)
            holder, digest = image.scan_claim_task, image.digest
        if claimed:
            return None
        if waited_since is None:
            waited_since = rt.now()
            add_log(rt, task_id, f"{digest} is being scanned by task {holder}: waiting for its result")
        if _stop_requested(rt, task_id):
            return STOPPED, "stopped while waiting for another task's scan of the same digest"
        if rt.clock() >= deadline:
            return TIME_LIMIT, "the time limit came while waiting for another task's scan of the same digest"
        rt.sleep(1.0)


def _set_item(rt: Runtime, item_id: int, status: str, error: str) -> str:
    """Record an item's outcome that is not a scan of its own; returns the item's reference."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        item.status, item.error = status, error
        return item.reference


def _release(rt: Runtime, task_id: int, image_id: int) -> None:
    with rt.session() as s:
        s.execute(update(Image).where(Image.id == image_id, Image.scan_claim_task == task_id)
                  .values(scan_claim_task=None).execution_options(synchronize_session=False))


def _scan_item(rt: Runtime, task_id: int, item_id: int, settings: ScanSettings, deadline: float) -> tuple[str, str]:
    """Scan one item (or take the outcome of another task scanning the same digest); returns (status, error)."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        image_id = item.image_id
    other = _claim(rt, task_id, image_id, deadline)
    if other is not None:
        reference = _set_item(rt, item_id, *other)
        if other[0] in ("succeeded", "failed"):
            add_log(rt, task_id, f"{reference}: the same digest was just scanned by another task: its result is used")
        return other
    try:
        return _scan_claimed(rt, task_id, item_id, settings, deadline)
    finally:
        _release(rt, task_id, image_id)


def _scan_claimed(rt: Runtime, task_id: int, item_id: int, settings: ScanSettings, deadline: float) -> tuple[str, str]:
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        image = s.get(Image, item.image_id)
        assert image is not None
        reg = s.get(Registry, item.registry_id) if item.registry_id else None
        task = s.get(Task, task_id)
        harbor_id = (task.params or {}).get("harbor_request") if task else None
        harbor = s.get(HarborScanRequest, harbor_id) if harbor_id else None
        reference, digest = item.reference, image.digest
        try:
            options = _options(rt, settings, reg, harbor, item.credentials_enc)
        except HullscanError as exc:  # e.g. credentials encrypted with another key: this image fails, named in the log
            item.status, item.error = "failed", str(exc)
            return "failed", str(exc)
        try:
            quota.consume(s, digest, task_id)
        except quota.QuotaExhausted as exc:
            item.status, item.error = NO_QUOTA, str(exc)
            return NO_QUOTA, str(exc)
    started, t0 = rt.now(), rt.clock()
    # the task's time limit also stops a scan in flight (between entries, layers and stages)
    options = replace(options, deadline=time.monotonic() + max(deadline - rt.clock(), 0.0))
    try:
        from hullscan.checks import selection

        # the same check selection as `hullscan image`: --checks, default-off checks, masked config secrets
        report = selection.apply(rt.scan_fn(reference, options), options)
    except TimeLimitError as exc:
        _set_item(rt, item_id, TIME_LIMIT, str(exc))
        return TIME_LIMIT, str(exc)
    except HullscanError as exc:
        error = str(exc) or type(exc).__name__
    except Exception as exc:  # a crashing scanner fails this image only
        error = f"{type(exc).__name__}: {exc}"
    else:
        error = ""
    duration = max(rt.clock() - t0, 0.0)
    rt.metrics.scan_done("failed" if error else "succeeded", duration)
    for attempt in range(3):
        try:
            _store(rt, task_id, item_id, None if error else report, error, started, duration)
            break
        except IntegrityError:  # another worker stored the same digest's findings at the same moment: re-read, retry
            if attempt == 2:
                raise
    return ("failed", error) if error else ("succeeded", "")


def _store(rt: Runtime, task_id: int, item_id: int, report: Any, error: str, started: datetime, duration: float) -> None:
    """One transaction: the scan row, the image's inventory and findings, the item's outcome."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        image = s.get(Image, item.image_id)  # type: ignore[union-attr]
        assert item is not None and image is not None
        scan = Scan(image_id=image.id, task_id=task_id, status="failed" if error else "succeeded", error=error,
                    started_at=started, finished_at=rt.now(), duration_seconds=duration)
        s.add(scan)
        s.flush()
        image.last_scanned_at = rt.now()
        if error:
            item.status, item.error = "failed", error
            image.scan_status, image.scan_error = "failed", error
            return
        store_inventory(image, report)
        image.inventory_fingerprint = _db_fingerprint(rt)
        replace_findings(s, image.id, report.findings, rt.now(), scan.id)
        whitelist.apply(s, rt.now(), [image.id])
        scan.summary = {"findings": len(report.findings), "packages": len(report.packages), "notes": list(report.notes)[:20]}
        item.status = "succeeded"
        image.scan_status, image.scan_error = "succeeded", ""


def _db_fingerprint(rt: Runtime) -> str:
    from hullscan.server.rematch import db_fingerprint

    return db_fingerprint(rt.vuln_db_path)


def run_scan(rt: Runtime, task_id: int) -> None:
    """The scan task function."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params, planned = dict(task.params or {}), bool((task.result or {}).get("planned"))
        settings, _ = get_settings(s)
    if not planned:
        _plan(rt, task_id, params)
    run_items(rt, task_id, settings)


def run_items(rt: Runtime, task_id: int, settings: ScanSettings) -> None:
    """Scan a planned task's pending items (deadline, stop, rate limits, claims, quota), then finish the task.
    Shared by registry scans and runtime scans (:mod:`hullscan.server.runtime_scan`)."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        deadline = float(task.result["deadline"])
        limit = task.time_limit_seconds
        items = [(i.id, i.reference, i.registry_id) for i in
                 s.scalars(select(TaskItem).where(TaskItem.task_id == task_id, TaskItem.status == "pending").order_by(TaskItem.id))]
        rates = {r.id: r.rate_limit for r in s.scalars(select(Registry))}
    stopped = ""
    for item_id, reference, registry_id in items:
        if _stop_requested(rt, task_id):
            stopped = "stopped by a user"
            break
        if rt.clock() >= deadline or not _wait_for_rate(rt, task_id, registry_id, rates.get(registry_id or -1), deadline):
            stopped = "" if _stop_requested(rt, task_id) else f"time limit of {limit}s reached"
            stopped = stopped or "stopped by a user"
            break
        status, error = _scan_item(rt, task_id, item_id, settings, deadline)
        if status != "succeeded":
            add_log(rt, task_id, f"image {reference} {status}: {error}", "error")
        with rt.session() as s:
            task = s.get(Task, task_id)
            assert task is not None
            task.progress_done = int(s.scalar(select(_count()).where(TaskItem.task_id == task_id, TaskItem.status != "pending")) or 0)
    if stopped:
        n = _mark_rest(rt, task_id, TIME_LIMIT if stopped.startswith("time limit") else STOPPED)
        add_log(rt, task_id, f"{stopped}: {n} images not scanned", "warning")
    _finish_scan(rt, task_id, stopped)


def _count() -> Any:
    from sqlalchemy import func

    return func.count(TaskItem.id)


def _finish_scan(rt: Runtime, task_id: int, stopped: str) -> None:
    with rt.session() as s:
        counts: dict[str, int] = {}
        for (status,) in s.execute(select(TaskItem.status).where(TaskItem.task_id == task_id)):
            counts[status] = counts.get(status, 0) + 1
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_done = sum(counts.values())
    ok, failed = counts.get("succeeded", 0), counts.get("failed", 0) + counts.get(NO_QUOTA, 0)
    result = {"counts": counts}
    if stopped:
        finish(rt, task_id, "stopped", f"{stopped}; {sum(v for k, v in counts.items() if k.startswith('not scanned'))} images not scanned", result)
    elif failed and not ok:
        finish(rt, task_id, "failed", f"all {failed} images failed (see log)", result)
    elif failed:
        finish(rt, task_id, "partially failed", f"{failed} of {ok + failed} images failed (see log)", result)
    else:
        finish(rt, task_id, "succeeded", "", result)
