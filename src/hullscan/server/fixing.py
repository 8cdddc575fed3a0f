"""Fix tasks ("Image Risk Fix"): patch the OS vulnerabilities of the images in the fix scope and push each result
to the same repository under ``<tag><suffix>`` (:func:`hullscan.fix.service.fix_image`).

Which images: the repositories of ``ScanSettings.image_fix.repository_ids`` (or the ``repository_ids`` /
``image_ids`` a manual start names, always within that scope), only tags updated (or, never updated, created)
within ``image_fix.time_range_days``; an image outside the scope or the time range is never fixed. Per image: the
stop flag and the time limit, the registry's rate limit (the scans' token bucket), then the fix; its outcome is the
task item (``patched`` / ``refused: <reason>`` / ``failed``), its log lines the task's log and its full fix log
``task.result["fixes"][reference]`` (``GET /api/tasks/{id}/fixes``). Quota as for scans: the rescan of a patched
image (a new digest) takes one unit; with none left the image is "not fixed: quota exhausted". When the fix is on,
a finished scan task starts a fix task for the images it scanned (:func:`fix_after_scan`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hullscan.errors import HullscanError
from hullscan.server import quota
from hullscan.server.db.models import Image, ImageTag, Registry, Repository, Task, TaskItem
from hullscan.server.registries import pull_options
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import ImageFixSettings, get_settings
from hullscan.server.tasks import add_log, add_logs, finish
from hullscan.server.timeutil import aware


def select_fix_targets(session: Any, params: dict[str, Any], fix: ImageFixSettings,
                       now: datetime) -> list[tuple[int, int, str]]:
    """``(image_id, registry_id, host/repo:tag)`` of the images a fix covers, one tag per image, stable order."""
    scope = set(fix.repository_ids)
    wanted = [int(x) for x in params.get("repository_ids") or []]
    repos = [r for r in wanted if r in scope] if wanted else sorted(scope)
    if not repos:
        return []
    q = (select(ImageTag, Repository, Registry, Image)
         .join(Repository, ImageTag.repository_id == Repository.id)
         .join(Registry, Repository.registry_id == Registry.id)
         .join(Image, ImageTag.image_id == Image.id)
         .where(Repository.id.in_(repos))
         .order_by(Registry.id, Repository.name, ImageTag.tag))
    images = {int(x) for x in params.get("image_ids") or []}
    cutoff = now - timedelta(days=fix.time_range_days) if fix.time_range_days else None
    out: dict[int, tuple[int, int, str]] = {}
    for tag, repo, reg, image in session.execute(q):
        if image.id in out or (images and image.id not in images) or tag.tag.endswith(fix.tag_suffix):
            continue
        if cutoff is not None:
            when = tag.updated_at or tag.pushed_at or image.image_created
            if when is None or aware(when) < cutoff:
                continue
        prefix = repo.pull_prefix or f"{reg.domain or reg.ip}{':' + str(reg.port) if reg.port else ''}/{repo.name}"
        out[image.id] = (image.id, reg.id, f"{prefix}:{tag.tag}")
    return list(out.values())


def _options(rt: Runtime, fix: ImageFixSettings, reg: Registry | None, reference: str, distro_key: str) -> Any:
    from hullscan.fix.service import FixOptions
    from hullscan.options import RegistryOptions, ScanOptions

    registry = RegistryOptions(**pull_options(reg, rt.secrets))
    scan = ScanOptions(scanners=frozenset({"vuln"}), cache_dir=rt.cache_dir, db_path=rt.vuln_db_path,
                       registry=registry, quiet=True)
    mirrors = fix.mirrors.get(distro_key, [])
    repo = reference.rsplit(":", 1)[0]
    return FixOptions(scan=scan, push=repo, tag_suffix=fix.tag_suffix,
                      apt_sources=[m for m in mirrors if m.startswith("deb ")],
                      apk_repositories=[m for m in mirrors if not m.startswith("deb ")])


def fix_after_scan(rt: Runtime, scan_task_id: int) -> int | None:
    """When the image fix is on, a fix task for the images a finished scan task scanned (within the fix scope and
    time range); its id, or None."""
    with rt.session() as s:
        settings, _ = get_settings(s)
        fix = settings.image_fix
        if not fix.enabled or not fix.repository_ids:
            return None
        images = sorted(set(s.scalars(select(TaskItem.image_id).where(TaskItem.task_id == scan_task_id,
                                                                      TaskItem.status == "succeeded"))))
        if not images or not select_fix_targets(s, {"image_ids": images}, fix, rt.now()):
            return None
    from hullscan.server.tasks import create_task

    return create_task(rt, "fix", {"image_ids": images}, trigger="after-scan")


def _distro_key(rt: Runtime, image_id: int) -> str:
    """``<os id>:<codename or version>`` of the image's last scan (for the mirrors setting), or ''."""
    with rt.session() as s:
        image = s.get(Image, image_id)
        inventory = getattr(image, "inventory", None) or {}
    os_info = inventory.get("os") if isinstance(inventory, dict) else None
    if not isinstance(os_info, dict):
        return ""
    if os_info.get("id") == "alpine":
        return "alpine:" + ".".join(str(os_info.get("version_id", "")).split(".")[:2])
    return f"{os_info.get('id', '')}:{os_info.get('codename') or os_info.get('version_id', '')}"


def _stop_requested(rt: Runtime, task_id: int) -> bool:
    with rt.session() as s:
        task = s.get(Task, task_id)
        return bool(task and task.stop_requested)


def run_fix(rt: Runtime, task_id: int) -> None:
    """The fix task function."""
    from hullscan.fix.service import fix_image
    from hullscan.server.scanning import _wait_for_rate

    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params = dict(task.params or {})
        settings, _ = get_settings(s)
        fix = settings.image_fix
        planned = bool((task.result or {}).get("planned"))
        if not planned:
            targets = select_fix_targets(s, params, fix, rt.now())
            for target_image, target_registry, ref in targets:
                s.add(TaskItem(task_id=task_id, image_id=target_image, registry_id=target_registry, reference=ref))
            task.progress_total = len(targets)
            task.result = {"deadline": rt.clock() + task.time_limit_seconds, "planned": True, "fixes": {}}
    if not planned:
        add_log(rt, task_id, f"fix covers {len(targets)} images")
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        deadline = float((task.result or {})["deadline"])
        items = [(i.id, i.image_id, i.registry_id, i.reference) for i in
                 s.scalars(select(TaskItem).where(TaskItem.task_id == task_id, TaskItem.status == "pending")
                           .order_by(TaskItem.id))]
    counts = {"patched": 0, "refused": 0, "failed": 0}
    for item_id, image_id, reg_id, reference in items:
        if _stop_requested(rt, task_id) or rt.clock() >= deadline:
            _set(rt, item_id, "not fixed: stopped" if _stop_requested(rt, task_id) else "not fixed: time limit", "")
            continue
        with rt.session() as s:
            row = s.get(Registry, reg_id) if reg_id else None
            rate = row.rate_limit if row is not None else None
        if not _wait_for_rate(rt, task_id, reg_id, rate, deadline):
            _set(rt, item_id, "not fixed: time limit", "rate limit")
            continue
        with rt.session() as s:  # the rescan of the patched image is a scan of a new digest: one unit of quota
            left = quota.status(s).remaining
        if left < 1:
            _set(rt, item_id, "not fixed: quota exhausted", "no scan quota left for the patched image's rescan")
            continue
        try:
            with rt.session() as s:
                reg = s.get(Registry, reg_id) if reg_id else None
                options = _options(rt, fix, reg, reference, _distro_key(rt, image_id))
            result = fix_image(reference, options)
        except HullscanError as exc:
            _set(rt, item_id, "failed", str(exc))
            add_log(rt, task_id, f"{reference}: fix failed: {exc}", "error")
            counts["failed"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a crashing fix fails this image only
            _set(rt, item_id, "failed", f"{type(exc).__name__}: {exc}")
            add_log(rt, task_id, f"{reference}: fix failed: {type(exc).__name__}: {exc}", "error")
            counts["failed"] += 1
            continue
        log = result.to_dict()
        log.pop("vex", None)
        lines = [f"{reference}: {result.status}" + (f" ({result.reason}: {result.message})" if result.reason else "")]
        lines += [f"{reference}: upgraded {u.name} {u.old or '(new)'} -> {u.new}" for u in result.upgraded]
        lines += [f"{reference}: not fixed {u.package}: {u.reason}: {u.message}" for u in result.unfixed]
        if result.pushed_to:
            lines.append(f"{reference}: pushed {result.pushed_to}; vulnerabilities before {result.before}, "
                         f"after {result.after}")
        add_logs(rt, task_id, lines, "info" if result.status == "patched" else "warning")
        if result.status == "patched":
            with rt.session() as s:
                try:
                    quota.consume(s, result.patched_digest, task_id)
                except quota.QuotaExhausted as exc:  # spent by another task meanwhile: the image is pushed anyway
                    add_log(rt, task_id, f"{reference}: {exc}", "warning")
        status = "patched" if result.status == "patched" else f"refused: {result.reason}"
        counts["patched" if result.status == "patched" else "refused"] += 1
        _set(rt, item_id, status, "" if result.status == "patched" else result.message, log)
    with rt.session() as s:
        done = s.scalars(select(TaskItem).where(TaskItem.task_id == task_id)).all()
    final = "failed" if counts["failed"] and not counts["patched"] else (
        "partially failed" if counts["failed"] else "succeeded")
    if any(i.status.startswith("not fixed") for i in done):
        final = "stopped" if _stop_requested(rt, task_id) else "partially failed"
    finish(rt, task_id, final, result={"counts": counts})


def _set(rt: Runtime, item_id: int, status: str, error: str, log: dict[str, Any] | None = None) -> None:
    with rt.session() as s:
        item = s.get(TaskItem, item_id)
        assert item is not None
        item.status, item.error = status, error[:4000]
        task = s.get(Task, item.task_id)
        if task is not None:
            task.progress_done = (task.progress_done or 0) + 1
            if log is not None:
                result = dict(task.result or {})
                result["fixes"] = {**result.get("fixes", {}), item.reference: log}
                task.result = result
