"""The purchased quota of image scans: one unit per unique digest, consumed atomically (shared by all workers)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hullscan.server.db.models import Quota, QuotaUsage


class QuotaExhausted(Exception):
    """No quota left for a new digest."""


@dataclass(frozen=True)
class QuotaStatus:
    """Purchased, used and remaining image scans."""

    purchased: int
    used: int

    @property
    def remaining(self) -> int:
        """Units left."""
        return max(self.purchased - self.used, 0)


def status(session: Session) -> QuotaStatus:
    """The current quota."""
    row = session.get(Quota, 1)
    return QuotaStatus(row.purchased if row else 0, row.used if row else 0)


def already_consumed(session: Session, digests: list[str]) -> set[str]:
    """Which of ``digests`` were scanned before (free to rescan)."""
    found: set[str] = set()
    for i in range(0, len(digests), 500):
        chunk = digests[i : i + 500]
        found.update(session.scalars(select(QuotaUsage.digest).where(QuotaUsage.digest.in_(chunk))))
    return found


def would_consume(session: Session, digests: list[str]) -> int:
    """How many units scanning ``digests`` would take."""
    unique = sorted(set(digests))
    return len(unique) - len(already_consumed(session, unique))


def consume(session: Session, digest: str, task_id: int | None = None) -> bool:
    """Take one unit for ``digest`` unless it was scanned before. True when a unit was taken.

    Runs in a savepoint: the conditional ``UPDATE ... WHERE used < purchased`` and the unique usage row
    make it safe with concurrent workers. QuotaExhausted when nothing is left.
    """
    if already_consumed(session, [digest]):
        return False
    try:
        with session.begin_nested():  # an exception inside rolls the savepoint back (the unit is not taken)
            res = session.execute(update(Quota).where(Quota.id == 1, Quota.used < Quota.purchased).values(used=Quota.used + 1))
            if res.rowcount != 1:  # type: ignore[attr-defined]
                raise _NothingLeft
            session.add(QuotaUsage(digest=digest, task_id=task_id))
            session.flush()
    except _NothingLeft:
        st = status(session)
        raise QuotaExhausted(f"scan quota exhausted: {st.used} of {st.purchased} image scans used; buy more to scan new images") from None
    except IntegrityError:  # another worker consumed it for the same digest meanwhile
        return False
    return True


class _NothingLeft(Exception):
    """Inside :func:`consume`: the conditional update found no unit left."""


def set_purchased(session: Session, purchased: int) -> QuotaStatus:
    """Set the purchased amount (admin)."""
    session.execute(update(Quota).where(Quota.id == 1).values(purchased=purchased))
    return status(session)


def usage_count(session: Session) -> int:
    """Rows of consumed quota (equals ``used`` unless edited by hand)."""
    return int(session.scalar(select(func.count()).select_from(QuotaUsage)) or 0)
