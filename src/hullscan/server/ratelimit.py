"""Per-registry scan rate limit (images per hour) as a token bucket in the store, shared by every worker.

The bucket holds at most one token and refills at ``rate/3600`` tokens per second, so two images of one
registry are never started closer than ``3600/rate`` seconds apart. Updates are compare-and-swap
(``UPDATE ... WHERE tokens = old AND updated = old``), which works the same on SQLite and PostgreSQL.
The clock is injected so tests can run an hour in milliseconds.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hullscan.server.db.models import RateBucket

CAPACITY = 1.0


def try_acquire(sessions: sessionmaker[Session], registry_id: int, rate_per_hour: int | None, now: float) -> float:
    """Take a token: 0.0 when taken, else the seconds to wait before trying again. ``None`` rate: unlimited."""
    if not rate_per_hour:
        return 0.0
    per_second = rate_per_hour / 3600.0
    for _ in range(50):
        with sessions() as s:
            row = s.get(RateBucket, registry_id)
            if row is None:
                try:
                    s.add(RateBucket(registry_id=registry_id, tokens=CAPACITY - 1.0, updated=now))
                    s.commit()
                    return 0.0
                except IntegrityError:
                    s.rollback()
                    continue
            tokens = min(CAPACITY, row.tokens + max(now - row.updated, 0.0) * per_second)
            if tokens < 1.0 - 1e-9:
                return (1.0 - tokens) / per_second
            res = s.execute(
                update(RateBucket)
                .where(RateBucket.registry_id == registry_id, RateBucket.tokens == row.tokens, RateBucket.updated == row.updated)
                .values(tokens=tokens - 1.0, updated=max(now, row.updated))
            )
            s.commit()
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return 0.0
    return 1.0
