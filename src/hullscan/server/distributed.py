"""Distributed mode: Celery workers on Redis (or RabbitMQ), the store on PostgreSQL, shared by every process.

Roles (``hullscan server --broker …``, ``hullscan worker``, ``hullscan scheduler``) share one configuration:
the store URL, the broker URL and the data dir. Tasks keep all their state in the store (:mod:`tasks`); the broker
only carries ids:

- ``hullscan.run_task(task_id)`` on the ``hullscan.tasks`` queue runs any task kind of
  :data:`hullscan.server.tasks.TASK_KINDS` (a new kind is one entry there, nothing here);
- a scan task plans its images and fans out ``hullscan.scan_item(task_id, item_id)`` jobs on the
  ``hullscan.scans`` queue, one per digest (:func:`hullscan.server.scanning.run_item`); the last item to finish
  finishes the task.

Delivery is at least once: messages are acknowledged after the job (``acks_late``), a job whose worker process
died is rejected back to the queue (``task_reject_on_worker_lost``), a whole worker that died leaves its message
unacknowledged for the broker to deliver again (Redis: after ``visibility_timeout``), and the scheduler sends
again the items of running tasks that nobody holds (:func:`requeue_lost`). Jobs are idempotent: a digest is
claimed in the store with a lease (two workers never scan it at once; a dead worker's claim lapses) and a
finished item is never scanned again.

The registry rate limits live in Redis (:class:`RedisRateLimiter`, one Lua script: atomic across workers).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from hullscan.server.runtime import Runtime, ServerConfig

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("hullscan.server.distributed")

QUEUE_TASKS = "hullscan.tasks"
QUEUE_SCANS = "hullscan.scans"
QUEUES = (QUEUE_TASKS, QUEUE_SCANS)
#: how long a delivered, unacknowledged message waits before Redis gives it to another worker (seconds)
DEFAULT_VISIBILITY_TIMEOUT = 1800.0
#: the longest a rate-limited job is held back before it asks again (seconds)
MAX_RETRY_WAIT = 300.0


def broker_options(broker_url: str) -> dict[str, Any]:
    """Transport options: Redis's visibility timeout (``HULLSCAN_BROKER_VISIBILITY_TIMEOUT``) and key prefix."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return {}
    opts: dict[str, Any] = {
        "visibility_timeout": float(os.environ.get("HULLSCAN_BROKER_VISIBILITY_TIMEOUT") or DEFAULT_VISIBILITY_TIMEOUT)}
    prefix = os.environ.get("HULLSCAN_BROKER_PREFIX", "")
    if prefix:
        opts["global_keyprefix"] = prefix
    return opts


def make_celery(config: ServerConfig) -> Celery:
    """The Celery application of a cluster: its two queues, late acknowledgement, the two job types."""
    from celery import Celery

    if not config.broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        from hullscan.errors import InputError

        raise InputError(f"unsupported broker URL {config.broker_url!r}: use redis://host:port/db or amqp://user:pw@host:port//")
    app = Celery("hullscan", broker=config.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE_TASKS,
        task_routes={"hullscan.scan_item": {"queue": QUEUE_SCANS}, "hullscan.run_task": {"queue": QUEUE_TASKS}},
        task_ignore_result=True,
        broker_transport_options=broker_options(config.broker_url),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_serializer="json",
        accept_content=["json"],
    )
    app.conf.hullscan_config = config

    @app.task(name="hullscan.run_task", bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_task_job(self: Any, task_id: int) -> None:
        from hullscan.server.tasks import run_task

        run_task(worker_runtime(app), int(task_id))

    @app.task(name="hullscan.scan_item", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
    def scan_item_job(self: Any, task_id: int, item_id: int) -> None:
        from hullscan.server.scanning import run_item

        wait = run_item(worker_runtime(app), int(task_id), int(item_id))
        if wait > 0:  # the registry's rate limit: this job comes back later, the worker takes another one meanwhile
            raise self.retry(countdown=min(wait, MAX_RETRY_WAIT))

    return app


class CeleryQueue:
    """The :class:`hullscan.server.tasks.Queue` of distributed mode: task ids and scan items to the broker."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, task_id: int) -> None:
        """Send a task to the workers."""
        self.app.send_task("hullscan.run_task", args=[task_id], queue=QUEUE_TASKS)

    def dispatch_items(self, task_id: int, item_ids: list[int]) -> None:
        """One job per digest of a scan task."""
        with self.app.producer_or_acquire() as producer:
            for item_id in item_ids:
                self.app.send_task("hullscan.scan_item", args=[task_id, item_id], queue=QUEUE_SCANS, producer=producer)

    def depths(self) -> dict[str, int]:
        """Messages waiting per queue (delivered but unacknowledged ones not counted)."""
        url = self.app.conf.broker_url or ""
        if url.startswith(("redis://", "rediss://")):  # kombu keeps a Redis list per queue (and per priority step)
            import redis

            prefix = (self.app.conf.broker_transport_options or {}).get("global_keyprefix", "")
            client = redis.Redis.from_url(url)
            try:
                steps = ("", "\x06\x163", "\x06\x166", "\x06\x169")
                return {name: sum(int(client.llen(f"{prefix}{name}{step}")) for step in steps)  # type: ignore[arg-type,misc]
                        for name in QUEUES}
            finally:
                client.close()
        out: dict[str, int] = {}
        with self.app.connection_for_read() as conn:  # AMQP: a passive declare answers the message count
            for name in QUEUES:
                try:
                    out[name] = int(conn.channel().queue_declare(queue=name, passive=True).message_count)
                except Exception:  # noqa: BLE001 - a queue nobody declared yet is empty
                    out[name] = 0
        return out

    def depth(self) -> int:
        """Messages waiting in all queues."""
        return sum(self.depths().values())

    def workers(self, timeout: float = 1.0) -> int:
        """Workers answering a ping."""
        replies = self.app.control.ping(timeout=timeout) or []
        return len(replies)

    def check(self) -> str:
        """"" when the broker answers, else the error."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return ""
        except Exception as exc:  # noqa: BLE001 - any failure is the answer of a health check
            return f"{type(exc).__name__}: {exc}"

    def shutdown(self) -> None:
        """Nothing runs here: the workers are other processes."""


_runtimes: dict[int, Runtime] = {}
_runtime_lock = threading.Lock()


def worker_runtime(app: Celery) -> Runtime:
    """This worker process's runtime (built on first use, once per process: prefork children get their own
    store connections)."""
    pid = os.getpid()
    with _runtime_lock:
        rt = _runtimes.get(pid)
        if rt is None:
            rt = build_distributed_runtime(app.conf.hullscan_config, app)
            _runtimes[pid] = rt
        return rt


def build_distributed_runtime(config: ServerConfig, app: Celery | None = None) -> Runtime:
    """A runtime whose queue is the broker and whose rate limits are in Redis (when there is one)."""
    from hullscan.server.runtime import build_runtime

    app = app or make_celery(config)
    rt = build_runtime(config)
    rt.queue = CeleryQueue(app)
    redis_url = config.redis_url or (config.broker_url if config.broker_url.startswith(("redis://", "rediss://")) else "")
    if redis_url:
        rt.rate_limiter = RedisRateLimiter(redis_url)
    return rt


class RedisRateLimiter:
    """Per-registry scan rate limits (images per hour) shared by every worker through Redis.

    Same semantics as the store's bucket (:mod:`hullscan.server.ratelimit`): at most one token, so two images of a
    registry start at least ``3600/rate`` seconds apart cluster-wide. One Lua script reads and moves the registry's
    "next start" time atomically, so concurrent workers can never both take the same slot.
    """

    SCRIPT = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
if now + 1e-6 >= nxt then
  redis.call('SET', KEYS[1], tostring(now + interval), 'PX', math.ceil(interval * 1000) + 60000)
  return '0'
end
return tostring(nxt - now)
"""

    def __init__(self, url: str, prefix: str = "hullscan:rate:") -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix = prefix
        self._script = self.client.register_script(self.SCRIPT)

    def __call__(self, registry_id: int, rate_per_hour: int | None, now: float) -> float:
        """0.0 when a start is allowed now (and taken), else the seconds to wait."""
        if not rate_per_hour:
            return 0.0
        result = self._script(keys=[f"{self.prefix}{registry_id}"], args=[repr(now), repr(3600.0 / rate_per_hour)])
        return float(result)


def requeue_lost(rt: Runtime, older_than: float) -> int:
    """Send again the pending items of running scan tasks that no live claim covers and that were not sent in the
    last ``older_than`` seconds (a worker and its message lost with it, a broker restarted without its data).
    Duplicates are harmless: a job finds its item finished or its digest claimed. Returns the items sent."""
    from hullscan.server.db.models import Image, Task, TaskItem

    dispatch = getattr(rt.queue, "dispatch_items", None)
    if not callable(dispatch):
        return 0
    now = rt.clock()
    with rt.session() as s:
        rows = s.execute(
            select(TaskItem.id, TaskItem.task_id, TaskItem.dispatched_at, Image.scan_claim_task, Image.scan_claim_expires)
            .join(Task, Task.id == TaskItem.task_id)
            .join(Image, Image.id == TaskItem.image_id)
            .where(Task.status == "running", Task.kind == "scan", TaskItem.status == "pending")
        ).all()
        lost: dict[int, list[int]] = {}
        for item_id, task_id, sent, claim_task, claim_expires in rows:
            claimed = claim_task is not None and claim_expires is not None and claim_expires >= now
            if claimed or (sent is not None and sent > now - older_than):
                continue
            lost.setdefault(task_id, []).append(item_id)
        for task_id, ids in lost.items():
            s.execute(update(TaskItem).where(TaskItem.id.in_(ids)).values(dispatched_at=now)
                      .execution_options(synchronize_session=False))
    for task_id, ids in lost.items():
        dispatch(task_id, ids)
        log.warning("task %s: %d images sent to the workers again (their job was lost)", task_id, len(ids))
    return sum(len(v) for v in lost.values())


def run_worker(config: ServerConfig, concurrency: int, queues: list[str], pool: str, log_level: str) -> None:
    """Run a Celery worker of the cluster until interrupted."""
    from hullscan.server import jsonlog

    jsonlog.configure(log_level)
    app = make_celery(config)
    build_distributed_runtime(config, app).engine.dispose()  # migrate the store before taking jobs
    argv = ["worker", f"--loglevel={log_level.upper()}", f"--concurrency={max(concurrency, 1)}", f"--pool={pool}",
            f"--queues={','.join(queues or QUEUES)}", "--without-gossip", "--without-mingle"]
    app.worker_main(argv)
