"""Starting a server process: runtime, recovery of interrupted tasks, workers, scheduler, then uvicorn."""

from __future__ import annotations

import logging
from typing import Any

from hullscan.server.runtime import ServerConfig

log = logging.getLogger("hullscan.server")


def run_server(config: ServerConfig, host: str, port: int, log_level: str = "info") -> None:
    """Serve until interrupted."""
    import uvicorn

    from hullscan.server import jsonlog
    from hullscan.server.app import create_app
    from hullscan.server.runtime import build_runtime
    from hullscan.server.scheduler import Scheduler
    from hullscan.server.tasks import InProcessQueue, recover

    jsonlog.configure(log_level)
    queue: Any
    if config.broker_url:  # distributed: the workers run the tasks, `hullscan scheduler` the schedule
        from hullscan.server.distributed import build_distributed_runtime

        rt = build_distributed_runtime(config)
        queue = rt.queue
    else:
        rt = build_runtime(config)
        queue = InProcessQueue(rt, config.workers)
        rt.queue = queue
        for task_id in recover(rt):
            queue.enqueue(task_id)
    from hullscan.server.vulnupdate import ensure_database
    from hullscan.server.web.setup import announce_setup

    ensure_database(rt)  # first start: build the vulnerability database (a task in Task Management)
    announce_setup(rt, host, port)  # no administrator yet: the console's first page creates one
    scheduler = Scheduler(rt, config.tick_seconds)
    if config.scheduler:
        scheduler.start()
    log.info("hullscan server on http://%s:%d (data dir %s)", host, port, config.data_dir,
             extra={"data_dir": str(config.data_dir), "db": rt.engine.url.render_as_string(hide_password=True)})
    try:
        uvicorn.run(create_app(rt), host=host, port=port, log_config=None, log_level=log_level)
    finally:
        scheduler.stop()
        queue.shutdown()


def run_scheduler(config: ServerConfig, log_level: str = "info") -> None:
    """The scheduler role of a cluster: tick while leading, until interrupted."""
    import signal

    from hullscan.server import jsonlog
    from hullscan.server.distributed import build_distributed_runtime
    from hullscan.server.scheduler import Scheduler

    jsonlog.configure(log_level)
    rt = build_distributed_runtime(config)
    scheduler = Scheduler(rt, config.tick_seconds)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop_soon())
    log.info("hullscan scheduler %s (tick %ss)", scheduler.holder, config.tick_seconds)
    try:
        scheduler.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
