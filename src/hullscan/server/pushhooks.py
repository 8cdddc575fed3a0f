"""Push webhooks from registries: turn a push notification into a scan of the pushed digest.

* Harbor: ``PUSH_ARTIFACT`` (2.x) / ``pushImage`` (1.x) with ``event_data.resources[].digest/tag/resource_url``.
* Quay: repository push notifications (``docker_url``, ``updated_tags``; no digest: resolved through the
  configured Quay registry's tag API).
* GitLab and plain registries: the Distribution notification envelope (``events[].action == "push"``,
  ``target.digest/repository/tag``, ``request.host``), which GitLab's container registry sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hullscan.server.db.models import Image, Registry, Repository
from hullscan.server.providers.base import ProviderError, RepoInfo, TagInfo
from hullscan.server.registries import provider_of
from hullscan.server.runtime import Runtime
from hullscan.server.scansettings import get_settings
from hullscan.server.sync import upsert_tag
from hullscan.server.tasks import add_log, create_task


class PushError(ValueError):
    """The notification can't be used (wrong shape, unknown registry); the message says why."""


@dataclass(frozen=True)
class Push:
    """One pushed image."""

    host: str
    repository: str
    digest: str
    tag: str = ""


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?")
_REPO = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def _push(host: str, repository: str, digest: str, tag: str) -> Push:
    """A validated push: a registry host[:port], a repository path and a sha256 digest, as references allow."""
    if not _HOST.fullmatch(host):
        raise PushError(f"invalid registry host {host[:100]!r}")
    if len(repository) > 255 or not _REPO.fullmatch(repository):
        raise PushError(f"invalid repository name {repository[:100]!r}")
    if not _DIGEST.fullmatch(digest):
        raise PushError(f"invalid digest {digest[:100]!r} (sha256:<64 hex> expected)")
    return Push(host, repository, digest, tag[:128])


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PushError(f"{what} must be a JSON object")
    return value


def parse_harbor(body: Any) -> list[Push]:
    """Pushes in a Harbor webhook."""
    body = _dict(body, "Harbor webhook")
    if body.get("type") not in ("PUSH_ARTIFACT", "pushImage"):
        return []
    data = _dict(body.get("event_data"), "event_data")
    repo = _dict(data.get("repository") or {}, "event_data.repository")
    full = str(repo.get("repo_full_name") or "")
    if not data.get("resources"):
        raise PushError("a Harbor push event needs event_data.resources")
    out: list[Push] = []
    for res in data.get("resources") or []:
        res = _dict(res, "resource")
        url = str(res.get("resource_url") or "")
        host = url.split("/", 1)[0] if "/" in url else ""
        digest = str(res.get("digest") or "")
        if not (host and full and digest.startswith("sha256:")):
            raise PushError("Harbor resource needs resource_url, repository.repo_full_name and a sha256 digest")
        out.append(_push(host, full, digest, str(res.get("tag") or "")))
    return out


def parse_distribution(body: Any) -> list[Push]:
    """Pushes in a Distribution notification envelope (GitLab container registry, plain registries)."""
    body = _dict(body, "notification")
    out: list[Push] = []
    for ev in body.get("events") or []:
        ev = _dict(ev, "event")
        if ev.get("action") != "push":
            continue
        target = _dict(ev.get("target") or {}, "event.target")
        media = str(target.get("mediaType") or "")
        if "manifest" not in media and "index" not in media:
            continue  # blob pushes
        host = str(_dict(ev.get("request") or {}, "event.request").get("host") or "")
        digest, repo = str(target.get("digest") or ""), str(target.get("repository") or "")
        if not (host and repo and digest.startswith("sha256:")):
            raise PushError("push event needs request.host, target.repository and a sha256 target.digest")
        out.append(_push(host, repo, digest, str(target.get("tag") or "")))
    return out


def resolve_quay(rt: Runtime, body: Any) -> list[Push]:
    """Pushes in a Quay notification, digests looked up through the configured Quay registry."""
    body = _dict(body, "Quay notification")
    docker_url, repo = str(body.get("docker_url") or ""), str(body.get("repository") or "")
    tags = [str(t) for t in body.get("updated_tags") or []]
    if not docker_url or not repo:
        raise PushError("Quay notification needs docker_url and repository")
    host = docker_url.split("/", 1)[0]
    with rt.session() as s:
        reg = next((r for r in s.scalars(select(Registry).where(Registry.type == "quay")) if _netloc(r) == host), None)
        if reg is None:
            raise PushError(f"no Quay registry is configured for {host!r}")
        provider = provider_of(reg, rt.secrets)
    try:
        listed = provider.tags(RepoInfo(repo, f"{host}/{repo}", (("ns", repo.split('/', 1)[0]),)))
    except ProviderError as exc:
        raise PushError(f"cannot resolve the pushed tags on {host}: {exc.message}") from None
    return [Push(host, repo, t.digest, t.tag) for t in listed if t.tag in tags and t.digest]


def _netloc(reg: Registry) -> str:
    host = reg.domain or reg.ip
    return f"{host}:{reg.port}" if reg.port else host


def schedule(rt: Runtime, pushes: list[Push], source: str, user: str) -> dict[str, Any]:
    """Record the pushed tags and start one scan task for the pushed digests."""
    if not pushes:
        return {"task_id": None, "images": 0}
    with rt.session() as s:  # only registries added to hullscan: a notification must not make the server pull from
        # any host it names (an internal address, a registry nobody vetted), and never anonymously
        known = {_netloc(r): r.id for r in s.scalars(select(Registry).where(Registry.builtin.is_(False)))}
    unknown = sorted({p.host for p in pushes} - set(known))
    if unknown:
        raise PushError(f"no registry is configured for {', '.join(map(repr, unknown))}: add it before sending its notifications")
    now = rt.now()
    image_ids: list[int] = []
    for push in pushes:
        prefix = f"{push.host}/{push.repository}"
        with rt.session() as s:
            settings, _ = get_settings(s)
            repo = s.scalar(select(Repository).where(Repository.pull_prefix == prefix))
            if repo is None:
                registry_id = known[push.host]
                repo = s.scalar(select(Repository).where(Repository.registry_id == registry_id, Repository.name == push.repository))
                if repo is None:
                    repo = Repository(registry_id=registry_id, name=push.repository, pull_prefix=prefix,
                                      in_scope=settings.auto_add_new_repositories, created_at=now)
                    s.add(repo)
                    s.flush()
            repo_id = repo.id
        if push.tag:
            image_ids.append(upsert_tag(rt, repo_id, TagInfo(push.tag, push.digest, now, now), now))
        else:
            with rt.session() as s:
                image = s.scalar(select(Image).where(Image.digest == push.digest))
                if image is None:
                    image = Image(digest=push.digest, created_at=now)
                    s.add(image)
                    s.flush()
                image_ids.append(image.id)
    task_id = create_task(rt, "scan", {"image_ids": sorted(set(image_ids))}, user=user, trigger="webhook")
    add_log(rt, task_id, f"{source} push webhook: " + ", ".join(f"{p.host}/{p.repository}@{p.digest}" for p in pushes))
    return {"task_id": task_id, "images": len(set(image_ids))}
