"""Store-wide counts the console shows on many pages (open findings per category and severity, the dashboard's
trend and riskiest assets), computed once and shared for a short while.

With a million findings each of these is a pass over an index (0.1 s and more); a page that needed three of
them would miss its 300 ms budget. They are kept per runtime for :data:`TTL` seconds and recomputed sooner
when the store's *marker* moves: the newest scan id and the whitelist rules (both read through primary keys,
so checking costs nothing), or when the console itself changed a finding's state. A change made through the
REST API shows up within :data:`TTL` at the latest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select

from hullscan.server.db.models import FindingRow, Scan, WhitelistRule
from hullscan.server.runtime import Runtime

TTL = 60.0
T = TypeVar("T")
_lock = threading.Lock()
_cache: dict[tuple[int, str], tuple[float, tuple[Any, ...], Any]] = {}


def _marker(rt: Runtime) -> tuple[Any, ...]:
    with rt.session() as s:
        return (s.scalar(select(func.max(Scan.id))), s.scalar(select(func.max(WhitelistRule.id))),
                s.scalar(select(func.count(WhitelistRule.id))))


def cached(rt: Runtime, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, reused while fresh (see the module doc)."""
    key = (id(rt), name)
    marker = _marker(rt)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[1] == marker and now - hit[0] < TTL:
            return hit[2]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _cache[key] = (now, marker, value)
    return value


def invalidate(rt: Runtime) -> None:
    """Forget this runtime's counts (after a change made in the console)."""
    with _lock:
        for key in [k for k in _cache if k[0] == id(rt)]:
            del _cache[key]


def open_counts(rt: Runtime) -> dict[str, dict[str, int]]:
    """Open, not whitelisted findings per category and severity."""

    def compute() -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with rt.session() as s:
            cols = (FindingRow.category, FindingRow.ecosystem, FindingRow.severity)  # the covering index's order
            for cat, _, sev, n in s.execute(select(*cols, func.count(FindingRow.id))
                                            .where(FindingRow.state == "open", FindingRow.suppressed_by.is_(None))
                                            .group_by(*cols)):
                per = out.setdefault(cat, {})
                per[sev] = per.get(sev, 0) + int(n)
        return out

    return cached(rt, "open_counts", compute)
