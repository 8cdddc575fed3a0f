"""Asset sync: list repositories, tags, digests and update times of every registry into the store.

Progress is repositories done / total; every registry and repository problem is logged and makes the task
"partially failed" (or "failed" when nothing could be listed). New repositories join the scan scope when
the "auto-add new repositories" setting is on.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hullscan.server.db.models import Image, ImageTag, Registry, Repository, Task
from hullscan.server.providers.base import ProviderError, RepoInfo, TagInfo
from hullscan.server.registries import provider_of
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import get_settings
from hullscan.server.tasks import add_log, finish


def _registries(rt: Runtime, params: dict[str, Any]) -> list[int]:
    with rt.session() as s:
        q = select(Registry.id).where(Registry.builtin.is_(False)).order_by(Registry.id)
        if params.get("registry_ids"):
            q = q.where(Registry.id.in_([int(x) for x in params["registry_ids"]]))
        return list(s.scalars(q))


def upsert_tag(rt: Runtime, repo_id: int, tag: TagInfo, now: datetime) -> int:
    """Record that ``tag`` of a repository points at ``tag.digest``; returns the image id."""
    with rt.session() as s:
        return _upsert_tag(s, repo_id, tag, now)


def _upsert_tag(s: Any, repo_id: int, tag: TagInfo, now: datetime) -> int:
    image = s.scalar(select(Image).where(Image.digest == tag.digest))
    if image is None:
        image = Image(digest=tag.digest, created_at=now, image_created=tag.pushed_at)
        s.add(image)
        s.flush()
    row = s.scalar(select(ImageTag).where(ImageTag.repository_id == repo_id, ImageTag.tag == tag.tag))
    if row is None:
        row = ImageTag(repository_id=repo_id, tag=tag.tag, image_id=image.id)
        s.add(row)
    row.image_id = image.id
    row.pushed_at = tag.pushed_at or row.pushed_at
    row.updated_at = tag.updated_at or row.updated_at
    row.last_seen_at = now
    return int(image.id)


def _sync_repo(rt: Runtime, registry_id: int, info: RepoInfo, tags: list[TagInfo], auto_add: bool, now: datetime) -> bool:
    """Store one repository and its tags in one transaction (one round of commits per repository, which is what
    bounds a sync of thousands of repositories on PostgreSQL); True when the repository is new. Two syncs of one
    registry can run at once (a new registry's own sync and a "sync now"): when the other stored a row first, the
    unique constraint refuses ours and the transaction is done again over the rows it finds."""
    try:
        return _store_repo(rt, registry_id, info, tags, auto_add, now)
    except IntegrityError:
        return _store_repo(rt, registry_id, info, tags, auto_add, now)


def _store_repo(rt: Runtime, registry_id: int, info: RepoInfo, tags: list[TagInfo], auto_add: bool, now: datetime) -> bool:
    with rt.session() as s:
        repo = s.scalar(select(Repository).where(Repository.registry_id == registry_id, Repository.name == info.name))
        new = repo is None
        if repo is None:
            repo = Repository(registry_id=registry_id, name=info.name, in_scope=auto_add, created_at=now)
            s.add(repo)
        repo.pull_prefix = info.pull_prefix
        repo.last_seen_at = now
        s.flush()
        repo_id = repo.id
        for tag in tags:
            if tag.digest:
                _upsert_tag(s, repo_id, tag, now)
        s.flush()
        # tags that disappeared from the registry
        s.execute(delete(ImageTag).where(ImageTag.repository_id == repo_id, ImageTag.last_seen_at < now))
    return new


#: tag lists fetched at once, and repositories per progress update / stop check
LISTING_THREADS, CHUNK = 8, 32


def _tags(provider: Any, info: RepoInfo) -> tuple[RepoInfo, list[TagInfo], Exception | None]:
    """``info``'s tags, or the error that prevented listing them (raised again by the caller)."""
    try:
        return info, provider.tags(info), None
    except Exception as exc:  # noqa: BLE001 - handed back to the storing thread
        return info, [], exc


def _halt(rt: Runtime, task_id: int, deadline: float) -> str:
    """Why the sync must stop now ("" to go on): a user's stop request or the task's time limit."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        if task is not None and task.stop_requested:
            return "stopped by a user"
    return "time limit reached" if rt.clock() >= deadline else ""


def _listing_error(exc: Exception) -> str:
    """One line for a provider failure, or for an unexpected error while listing (never a crashed sync)."""
    if isinstance(exc, ProviderError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def run_sync(rt: Runtime, task_id: int) -> None:
    """The sync task function."""
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        params = dict(task.params or {})
        deadline = rt.clock() + task.time_limit_seconds
        settings, _ = get_settings(s)
    now = rt.now()
    halted = ""
    failures = 0
    listed: list[tuple[int, str, Any, list[RepoInfo]]] = []
    for registry_id in _registries(rt, params):
        with rt.session() as s:
            row = s.get(Registry, registry_id)
            assert row is not None
            name = row.name
            try:
                provider = provider_of(row, rt.secrets, timeout=rt.config.registry_timeout)
            except ProviderError as exc:
                failures += 1
                add_log(rt, task_id, f"registry {name!r}: {exc.message}", "error")
                continue
        try:
            repos = provider.repositories()
        except Exception as exc:  # noqa: BLE001 - a hostile or broken registry fails its own listing, not the sync
            failures += 1
            add_log(rt, task_id, f"registry {name!r}: cannot list repositories: {_listing_error(exc)}", "error")
            continue
        add_log(rt, task_id, f"registry {name!r}: {len(repos)} repositories")
        listed.append((registry_id, name, provider, repos))
    total = sum(len(r) for *_, r in listed)
    with rt.session() as s:
        task = s.get(Task, task_id)
        assert task is not None
        task.progress_total, task.progress_done = total, 0
    done = new_repos = tags_seen = 0
    with ThreadPoolExecutor(max_workers=LISTING_THREADS, thread_name_prefix="hullscan-sync") as pool:
        for registry_id, name, provider, repos in listed:
            for start in range(0, len(repos), CHUNK):
                halted = halted or _halt(rt, task_id, deadline)
                if halted:
                    break
                # tag lists are fetched in parallel (network-bound); the store is written from this thread only
                for info, tags, error in pool.map(lambda r, p=provider: _tags(p, r), repos[start : start + CHUNK]):
                    try:
                        if error is not None:
                            raise error
                        new_repos += _sync_repo(rt, registry_id, info, tags, settings.auto_add_new_repositories, now)
                        tags_seen += len(tags)
                    except Exception as exc:  # noqa: BLE001 - one repository fails alone; the others are still synced
                        failures += 1
                        add_log(rt, task_id, f"registry {name!r} repository {info.name}: {_listing_error(exc)}", "error")
                    done += 1
                with rt.session() as s:
                    task = s.get(Task, task_id)
                    assert task is not None
                    task.progress_done = done
            if halted:
                break
            with rt.session() as s:
                reg = s.get(Registry, registry_id)
                if reg is not None:
                    reg.last_sync_at = now
    result = {"repositories": total, "new_repositories": new_repos, "tags": tags_seen, "errors": failures}
    if halted:
        add_log(rt, task_id, f"{halted}: {total - done} of {total} repositories not synced", "warning")
        finish(rt, task_id, "stopped", f"{halted}; {total - done} repositories not synced", result)
        return
    add_log(rt, task_id, f"synced {total} repositories ({new_repos} new, "
            f"{'added to' if settings.auto_add_new_repositories else 'not added to'} the scan scope), {tags_seen} tags")
    if failures and not listed:
        finish(rt, task_id, "failed", f"{failures} registries could not be listed", result)
    elif failures:
        finish(rt, task_id, "partially failed", f"{failures} errors (see log)", result)
    else:
        finish(rt, task_id, "succeeded", "", result)
