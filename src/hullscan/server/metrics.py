"""Prometheus metrics of one server (its own CollectorRegistry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable


class Metrics:
    """Scans, task outcomes, scan durations and queue depth."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.scans = Counter("hullscan_scans_total", "Image scans by outcome", ["status"], registry=self.registry)
        self.tasks = Counter("hullscan_tasks_total", "Finished tasks by status", ["status"], registry=self.registry)
        self.durations = Histogram(
            "hullscan_scan_duration_seconds", "Duration of one image scan", registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
        )
        self.queue_depth = Gauge("hullscan_queue_depth", "Tasks waiting to run", registry=self.registry)
        self.queue_messages = Gauge("hullscan_queue_messages", "Distributed mode: messages waiting per broker queue",
                                    ["queue"], registry=self.registry)
        self.workers = Gauge("hullscan_workers", "Distributed mode: workers answering a ping (-1: broker down)",
                             registry=self.registry)

    def scan_done(self, status: str, seconds: float) -> None:
        """Count one image scan."""
        self.scans.labels(status=status).inc()
        self.durations.observe(seconds)

    def task_finished(self, status: str) -> None:
        """Count one finished task."""
        self.tasks.labels(status=status).inc()

    def track_queue(self, depth: Callable[[], float]) -> None:
        """Read the queue depth at scrape time."""
        self.queue_depth.set_function(depth)

    def cluster(self, depths: dict[str, int], workers: int) -> None:
        """Record the broker's queue depths and the worker count (read at scrape time)."""
        for name, depth in depths.items():
            self.queue_messages.labels(queue=name).set(depth)
        self.workers.set(workers)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
