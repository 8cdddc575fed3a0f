"""Named leases in the store: one holder at a time until the lease expires (clock seconds).

Used for what must run exactly once across a cluster: the scheduler's leadership (several ``hullscan
scheduler`` processes may run; one ticks) and the analysis of one layer (a worker analyses it, the others wait
for its result). Taking a lease is a conditional ``UPDATE ... WHERE holder = me OR expires < now`` or the insert
of the row (its primary key decides between two first takers), so it behaves the same on SQLite and
PostgreSQL without advisory locks. A holder that dies simply stops renewing; its lease lapses.
"""

from __future__ import annotations

import os
import socket
import uuid

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hullscan.server.db.models import Lease


def holder_id(role: str = "") -> str:
    """A name no other process (or other run in this process) uses: host, pid and a random part."""
    return f"{role + '@' if role else ''}{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(sessions: sessionmaker[Session], name: str, holder: str, seconds: float, now: float) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; True when ``holder`` holds it afterwards."""
    with sessions() as s:
        res = s.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires < now))
            .values(holder=holder, expires=now + seconds)
            .execution_options(synchronize_session=False)
        )
        s.commit()
        if res.rowcount == 1:  # type: ignore[attr-defined]
            return True
        if s.get(Lease, name) is not None:
            return False
        try:
            s.add(Lease(name=name, holder=holder, expires=now + seconds))
            s.commit()
            return True
        except IntegrityError:  # another process inserted it first
            s.rollback()
            return False


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give the lease up (only when ``holder`` still holds it)."""
    with sessions() as s:
        s.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder).execution_options(synchronize_session=False))
        s.commit()


def current(sessions: sessionmaker[Session], name: str, now: float) -> str:
    """Who holds ``name`` now ("" when nobody or lapsed)."""
    with sessions() as s:
        row = s.get(Lease, name)
        return row.holder if row is not None and row.expires >= now else ""
