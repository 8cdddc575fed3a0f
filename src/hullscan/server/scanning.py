"""Scan tasks: choose the images (scope, registry types, time range), then scan each unique digest once.

Per image: stop/time-limit check, the registry's rate limit (shared token bucket), a claim on the digest (two
tasks reaching it at once: the second waits and takes the first one's outcome), the quota (one unit per new
digest), ``hullscan.scan.scan``, then one transaction storing the scan, the inventory, the findings and the
item's outcome. The task resumes after a restart from its items: finished items stay
finished, the one in flight is scanned again and replaces its findings atomically.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hullscan.errors import HullscanError, RegistryUnavailableError, TimeLimitError
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
from hullscan.server.fleet import record_packages
from hullscan.server.leases import holder_id
from hullscan.server.ratelimit import try_acquire
from hullscan.server.registries import pull_options
from hullscan.server.results import replace_findings, store_inventory
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import ScanSettings, get_settings
from hullscan.server.tasks import FINAL, add_log, finish, finish_once
from hullscan.server.timeutil import aware

log = logging.getLogger("hullscan.server.scanning")

TIME_LIMIT = "not scanned: time limit"
STOPPED = "not scanned: stopped"
NO_QUOTA = "not scanned: quota exhausted"
UNREACHABLE = "not scanned: registry unreachable"


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
        chosen = bool(params.get("repository_ids"))
        if not chosen:  # repositories chosen by id are scanned whether in the scope or not
            q = q.where(Repository.in_scope.is_(True))
        if params.get("registry_types") or not chosen:  # ... and whatever the settings' registry types
            q = q.where(Registry.type.in_(list(types)))
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
        if not targets and params.get("repository_ids"):
            settings_now, _ = get_settings(s)
            why = (f"no image of the chosen repositories was updated in the last {settings_now.time_range_days} days "
                   "(settings: time_range_days)") if settings_now.time_range_days else "the chosen repositories have no images (sync first?)"
            task = s.get(Task, task_id)
            assert task is not None
            task.result = {**(task.result or {}), "note": why}
        for t in targets:
            s.add(TaskItem(task_id=task_id, image_id=t.image_id, registry_id=t.registry_id, reference=t.reference))
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total = len(targets)
        task.result = {**(task.result or {}), "deadline": rt.clock() + task.time_limit_seconds, "planned": True}
    add_log(rt, task_id, f"scan covers {len(targets)} images")
    if not targets and params.get("repository_ids"):
        with rt.session() as s:
            task = s.get(Task, task_id)
            note = (task.result or {}).get("note", "") if task else ""
        add_log(rt, task_id, f"nothing to scan: {note}", "warning")


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
        reg_kwargs["same_host_redirects"] = True  # the caller named the host: never follow it elsewhere
    checks: tuple[str, ...] = ()
    if settings.checks.sensitive and settings.checks.sensitive_types:
        checks = ("vulnerability", "baseline", "malicious", "history", *settings.checks.sensitive_types)
    return ScanOptions(
        scanners=settings.scanners(),
        cache_dir=rt.cache_dir,
        db_path=rt.vuln_db_path,
        registry=RegistryOptions(**reg_kwargs, max_retry_seconds=rt.config.pull_retry_seconds),
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
        rate = _current_rate(rt, registry_id, rate)  # an edit of the registry's limit applies to waiting tasks too
        wait = _acquire(rt, registry_id, rate)
        if wait <= 0:
            return True
        if rt.clock() + wait > deadline or _stop_requested(rt, task_id):
            return False
        if not logged:
            add_log(rt, task_id, f"rate limit of registry {registry_id} ({rate} images/hour): waiting {wait:.0f}s")
            logged = True
        rt.sleep(min(wait, 5.0))


def _acquire(rt: Runtime, registry_id: int, rate: int | None) -> float:
    """A token of the registry's rate limit: through the runtime's shared limiter (Redis, distributed mode) or the
    store's bucket; 0.0 when taken, else seconds to wait."""
    if rt.rate_limiter is not None:
        return rt.rate_limiter(registry_id, rate, rt.clock())
    return try_acquire(rt.sessions, registry_id, rate, rt.clock())


def _current_rate(rt: Runtime, registry_id: int, fallback: int | None) -> int | None:
    with rt.session() as s:
        reg = s.get(Registry, registry_id)
        return reg.rate_limit if reg is not None else fallback


def _stop_requested(rt: Runtime, task_id: int) -> bool:
    with rt.session() as s:
        task = s.get(Task, task_id)
        return bool(task and task.stop_requested)


def _claim(rt: Runtime, task_id: int, image_id: int, deadline: float, owner: str) -> tuple[str, str] | None:
    """Claim the image for this run of the task's job: None means go on and scan it. While another running task
    holds the claim (two tasks reached the same digest at once), wait for that scan and return its outcome instead
    of pulling and scanning the digest a second time; a stop or the time limit while waiting gives "not scanned".

    A claim is a lease renewed while its scan runs (:class:`_Heartbeat`): the claim of a worker that died lapses
    after ``claim_lease_seconds`` and is taken over, and the claim of a task that is no longer running is void."""
    waited_since: datetime | None = None
    lease = rt.config.claim_lease_seconds
    while True:
        now = rt.clock()
        with rt.session() as s:
            image = s.get(Image, image_id)
            assert image is not None
            if (waited_since is not None and image.scan_claim_task is None and image.last_scanned_at is not None
                    and aware(image.last_scanned_at) >= waited_since and image.scan_status in ("succeeded", "failed")):
                return image.scan_status, image.scan_error  # the other scan, just finished
            running = select(Task.id).where(Task.status == "running")
            claimed = cast(CursorResult[Any], s.execute(  # an UPDATE's result is a CursorResult (rowcount)
                update(Image)
                .where(Image.id == image_id, or_(Image.scan_claim_task.is_(None), Image.scan_claim_owner == owner,
                                                 Image.scan_claim_task.not_in(running), Image.scan_claim_expires < now))
                .values(scan_claim_task=task_id, scan_claim_owner=owner, scan_claim_expires=now + lease)
                .execution_options(synchronize_session=False)
            )).rowcount
            s.refresh(image)
            holder, digest = image.scan_claim_task, image.digest
        if claimed:
            return None
        if waited_since is None:
            waited_since = rt.now()
            add_log(rt, task_id, f"{digest} is being scanned by {'another worker of this task' if holder == task_id else f'task {holder}'}: "
                    "waiting for its result")
        if _stop_requested(rt, task_id):
            return STOPPED, "stopped while waiting for another task's scan of the same digest"
        if rt.clock() >= deadline:
            return TIME_LIMIT, "the time limit came while waiting for another task's scan of the same digest"
        rt.sleep(min(1.0, max(lease / 4, 0.05)))


class _Heartbeat:
    """Renews a digest claim every quarter lease while its scan runs (a thread; stopped on exit)."""

    def __init__(self, rt: Runtime, image_id: int, owner: str) -> None:
        self.rt, self.image_id, self.owner = rt, image_id, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hullscan-claim-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:  # noqa: PYI034 - a private context manager, never subclassed
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        lease = self.rt.config.claim_lease_seconds
        while not self._stop.wait(max(lease / 4, 0.05)):
            try:
                with self.rt.session() as s:
                    s.execute(update(Image).where(Image.id == self.image_id, Image.scan_claim_owner == self.owner)
                              .values(scan_claim_expires=self.rt.clock() + lease).execution_options(synchronize_session=False))
            except Exception:  # a store hiccup: the next beat tries again (the lease outlasts three missed beats)
                log.warning("could not renew the claim of image %s", self.image_id, exc_info=True)


def _set_item(rt: Runtime, item_id: int, status: str, error: str) -> str:
    """Record an item's outcome that is not a scan of its own (unless another run of its job recorded one
    meanwhile); returns the item's reference."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        if item.status == "pending":
            item.status, item.error = status, error
        return item.reference


def _item_outcome(rt: Runtime, item_id: int) -> tuple[str, str] | None:
    """The item's recorded outcome, None while pending."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        return None if item is None or item.status == "pending" else (item.status, item.error)


def _release(rt: Runtime, image_id: int, owner: str) -> None:
    with rt.session() as s:
        s.execute(update(Image).where(Image.id == image_id, Image.scan_claim_owner == owner)
                  .values(scan_claim_task=None, scan_claim_owner="", scan_claim_expires=None)
                  .execution_options(synchronize_session=False))


def _scan_item(rt: Runtime, task_id: int, item_id: int, settings: ScanSettings, deadline: float) -> tuple[str, str]:
    """Scan one item (or take the outcome of another task scanning the same digest); returns (status, error).
    Idempotent: an item another run of its job (a redelivered message) already finished is not scanned again."""
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        image_id = item.image_id
    owner = holder_id("scan")
    other = _claim(rt, task_id, image_id, deadline, owner)
    if other is not None:
        done = _item_outcome(rt, item_id)
        if done is not None:  # the other holder was this very item's job
            return done
        reference = _set_item(rt, item_id, *other)
        if other[0] in ("succeeded", "failed"):
            add_log(rt, task_id, f"{reference}: the same digest was just scanned by another task: its result is used")
        return other
    try:
        done = _item_outcome(rt, item_id)
        if done is not None:
            return done
        with _Heartbeat(rt, image_id, owner):
            return _scan_claimed(rt, task_id, item_id, settings, deadline)
    finally:
        _release(rt, image_id, owner)


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
            charged = quota.consume(s, digest, task_id)
        except quota.QuotaExhausted as exc:
            item.status, item.error = NO_QUOTA, str(exc)
            return NO_QUOTA, str(exc)
    try:
        status, error = _run_scan_fn(rt, task_id, item_id, reference, options, deadline)
    except BaseException:
        if charged:
            _refund(rt, digest, task_id)
        raise
    if status != "succeeded" and charged:  # a failed pull or scan costs no quota
        _refund(rt, digest, task_id)
    return status, error


def _refund(rt: Runtime, digest: str, task_id: int) -> None:
    with rt.session() as s:
        quota.refund(s, digest, task_id)


def _run_scan_fn(rt: Runtime, task_id: int, item_id: int, reference: str, options: Any, deadline: float) -> tuple[str, str]:
    """Pull and scan, store the outcome; (status, error) where status ``unreachable`` is a failure the circuit
    breaker counts (the registry did not answer)."""
    started, t0 = rt.now(), rt.clock()
    unreachable = False
    # the task's time limit also stops a scan in flight (between entries, layers and stages)
    options = replace(options, deadline=time.monotonic() + max(deadline - rt.clock(), 0.0))
    try:
        from hullscan.checks import selection

        # the same check selection as `hullscan image`: --checks, default-off checks, masked config secrets
        report = selection.apply(rt.scan_fn(reference, options), options)
    except TimeLimitError as exc:
        _set_item(rt, item_id, TIME_LIMIT, str(exc))
        return TIME_LIMIT, str(exc)
    except RegistryUnavailableError as exc:  # counted by the task's circuit breaker
        error, unreachable = str(exc) or type(exc).__name__, True
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
    if unreachable:
        return "unreachable", error
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
        if error:
            item.status, item.error = "failed", error
            if image.scan_status == "succeeded":
                # the last good result stays (inventory, findings, status); the failed attempt is recorded beside
                # it: in its Scan row, the task item, and the image's scan_error
                image.scan_error = f"the latest scan attempt failed ({rt.now().isoformat(timespec='seconds')}): {error}"
            else:
                image.last_scanned_at = rt.now()
                image.scan_status, image.scan_error = "failed", error
            return
        image.last_scanned_at = rt.now()
        store_inventory(image, report)
        record_packages(s, image.id, image.inventory)  # the fleet's package index, for re-matching
        image.inventory_fingerprint = _db_fingerprint(rt)
        replace_findings(s, image.id, report.findings, rt.now(), scan.id)
        whitelist.apply(s, rt.now(), [image.id])
        scan.summary = {"findings": len(report.findings), "packages": len(report.packages), "notes": list(report.notes)[:20]}
        item.status = "succeeded"
        image.scan_status, image.scan_error = "succeeded", ""


def _db_fingerprint(rt: Runtime) -> str:
    from hullscan.server.rematch import db_fingerprint

    return db_fingerprint(rt.vuln_db_path)


def plan_once(rt: Runtime, task_id: int, plan: Callable[[Runtime, int, dict[str, Any]], None]) -> ScanSettings:
    """Plan a task's items with ``plan(rt, task_id, params)`` unless an earlier run did (a resumed task keeps its
    plan); the scan settings its items are scanned with. Shared by registry and runtime scans."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params, planned = dict(task.params or {}), bool((task.result or {}).get("planned"))
        settings, _ = get_settings(s)
    if not planned:
        plan(rt, task_id, params)
    return settings


def run_scan(rt: Runtime, task_id: int) -> None:
    """The scan task function."""
    settings = plan_once(rt, task_id, _plan)
    dispatch = getattr(rt.queue, "dispatch_items", None)
    if callable(dispatch):  # distributed mode: one job per digest, run by any worker; the last one finishes the task
        with rt.session() as s:
            pending = list(s.scalars(select(TaskItem.id).where(TaskItem.task_id == task_id, TaskItem.status == "pending")
                                     .order_by(TaskItem.id)))
            s.execute(update(TaskItem).where(TaskItem.task_id == task_id, TaskItem.status == "pending")
                      .values(dispatched_at=rt.clock()).execution_options(synchronize_session=False))
        if pending:
            try:
                dispatch(task_id, pending)
                add_log(rt, task_id, f"{len(pending)} images handed to the workers")
            except Exception as exc:  # noqa: BLE001 - a broker outage: the items stay pending, the scheduler re-sends them
                add_log(rt, task_id, f"the broker did not take the {len(pending)} images ({type(exc).__name__}: {exc}); "
                        "the scheduler sends them again", "warning")
        finish_items(rt, task_id)
        return
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
    threshold = max(1, rt.config.breaker_threshold)
    failures: dict[int | None, int] = {}  # consecutive connection failures per registry (the circuit breaker)
    broken: set[int | None] = set()
    for item_id, reference, registry_id in items:
        if registry_id in broken:
            _set_item(rt, item_id, UNREACHABLE, f"registry {registry_id} did not answer {threshold} times in a row")
            continue
        if _stop_requested(rt, task_id):
            stopped = "stopped by a user"
            break
        if rt.clock() >= deadline or not _wait_for_rate(rt, task_id, registry_id, rates.get(registry_id or -1), deadline):
            stopped = "" if _stop_requested(rt, task_id) else f"time limit of {limit}s reached"
            stopped = stopped or "stopped by a user"
            break
        status, error = _scan_item(rt, task_id, item_id, settings, deadline)
        if status == "unreachable":
            status = "failed"
            failures[registry_id] = failures.get(registry_id, 0) + 1
            if failures[registry_id] >= threshold:
                broken.add(registry_id)
                add_log(rt, task_id, f"registry {registry_id} unreachable {threshold} times in a row: its other "
                        f"images are not scanned in this task ({UNREACHABLE})", "error")
        elif status in ("succeeded", "failed"):
            failures[registry_id] = 0
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


def _counts(s: Any, task_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status, n in s.execute(select(TaskItem.status, func.count(TaskItem.id)).where(TaskItem.task_id == task_id)
                               .group_by(TaskItem.status)):
        counts[status] = int(n)
    return counts


def _final(counts: dict[str, int], stopped: str, note: str = "") -> tuple[str, str]:
    """The task's final status and error from its items' outcomes (``note``: why chosen repositories gave nothing)."""
    ok = counts.get("succeeded", 0)
    failed = counts.get("failed", 0) + counts.get(NO_QUOTA, 0) + counts.get(UNREACHABLE, 0)
    if note and not counts:  # repositories chosen by name gave nothing to scan: say why instead of a silent success
        return "failed", f"nothing to scan: {note}"
    if stopped:
        return "stopped", f"{stopped}; {sum(v for k, v in counts.items() if k.startswith('not scanned'))} images not scanned"
    if failed and not ok:
        return "failed", f"all {failed} images failed (see log)"
    if failed:
        return "partially failed", f"{failed} of {ok + failed} images failed (see log)"
    return "succeeded", ""


def _finish_scan(rt: Runtime, task_id: int, stopped: str) -> None:
    with rt.session() as s:
        counts = _counts(s, task_id)
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_done = sum(counts.values())
        note = str((task.result or {}).get("note", "")) if not counts else ""
    status, error = _final(counts, stopped, note)
    finish(rt, task_id, status, error, {"counts": counts, **({"note": note} if note else {})})


def finish_items(rt: Runtime, task_id: int) -> bool:
    """Distributed mode: update the task's progress from its items and, once none is pending, finish it (exactly
    once: the conditional update of a running task decides between workers finishing their last items together).
    True when this call finished the task."""
    with rt.session() as s:
        counts = _counts(s, task_id)
        done = sum(v for k, v in counts.items() if k != "pending")
        s.execute(update(Task).where(Task.id == task_id).values(progress_done=done).execution_options(synchronize_session=False))
        task = s.get(Task, task_id)
        limit = task.time_limit_seconds if task else 0
    if counts.get("pending"):
        return False
    stopped = ("stopped by a user" if counts.get(STOPPED) else f"time limit of {limit}s reached" if counts.get(TIME_LIMIT) else "")
    status, error = _final(counts, stopped)
    return finish_once(rt, task_id, status, error, {"counts": counts})


def run_item(rt: Runtime, task_id: int, item_id: int) -> float:
    """Distributed mode: the job of one digest of a scan task. Returns 0.0 when done, or the seconds to wait before
    running it again (the registry's rate limit). Safe to run twice (a redelivered message): a finished item is
    left as it is, and a digest being scanned by another worker is waited for, not scanned again."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        item = s.get(TaskItem, item_id)
        if task is None or item is None or task.status in FINAL:
            return 0.0
        if item.status != "pending":
            done = True
        else:
            done = False
            deadline = float((task.result or {}).get("deadline") or rt.clock() + task.time_limit_seconds)
            stop, registry_id, reference = task.stop_requested, item.registry_id, item.reference
            reg = s.get(Registry, registry_id) if registry_id else None
            rate = reg.rate_limit if reg else None
            settings, _ = get_settings(s)
    if done:
        finish_items(rt, task_id)
        return 0.0
    if stop:
        _set_item(rt, item_id, STOPPED, "stopped by a user")
    elif rt.clock() >= deadline:
        _set_item(rt, item_id, TIME_LIMIT, "the task's time limit was reached before this image's turn")
    else:
        wait = _acquire(rt, registry_id, rate) if registry_id is not None else 0.0
        if wait > 0:
            if rt.clock() + wait <= deadline:
                return wait
            _set_item(rt, item_id, TIME_LIMIT, "the registry's rate limit would pass the task's time limit")
        else:
            status, error = _scan_item(rt, task_id, item_id, settings, deadline)
            if status != "succeeded":
                add_log(rt, task_id, f"image {reference} {status}: {error}", "error")
    finish_items(rt, task_id)
    return 0.0


def expire_overdue(rt: Runtime) -> list[int]:
    """Distributed mode: scan tasks past their time limit (plus one claim lease, for the scans stopping in flight)
    have their unscanned items marked and are finished. Returns the tasks finished."""
    now = rt.clock()
    with rt.session() as s:
        rows = s.execute(select(Task.id, Task.result).where(Task.status == "running", Task.kind == "scan")).all()
    out = []
    for task_id, result in rows:
        deadline = (result or {}).get("deadline")
        if deadline and now > float(deadline) + rt.config.claim_lease_seconds:
            n = _mark_rest(rt, task_id, TIME_LIMIT)
            if n:
                add_log(rt, task_id, f"time limit reached: {n} images not scanned", "warning")
            if finish_items(rt, task_id):
                out.append(task_id)
    return out
