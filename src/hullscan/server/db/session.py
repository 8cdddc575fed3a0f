"""Engine and session factory: SQLite (WAL, foreign keys, one writer at a time) by default, any SQLAlchemy URL
otherwise.

SQLite allows one writer. Left to itself, every request thread that wants to write spins in SQLite's busy
handler (sleeping up to the busy timeout) and the losers fail with "database is locked". Instead, writes on an
SQLite store pass through a :class:`WriteGate`: a process-wide lock taken right before a connection's first
write statement of a transaction and released when that transaction commits or rolls back. Writers of this
process queue on the lock in order (no sleeping and polling), readers never take it (WAL: they read a snapshot
while the writer works), and SQLite's own busy timeout only matters against *other* processes (a CLI command,
a worker), where it is short. A writer that can't get the lock in time gets :class:`StoreBusy`, which the API
answers with 503 and ``Retry-After``.

The gate sits in the DB-API connection (a ``sqlite3.Connection`` subclass passed as ``factory``), so every
write is covered whatever issues it: ORM flushes, ``session.execute(update(...))``, Alembic, savepoints.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

#: statements that need SQLite's write lock (``BEGIN IMMEDIATE``/``EXCLUSIVE`` and ``SAVEPOINT`` start a write)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT", "BEGIN")


class StoreBusy(sqlite3.OperationalError):
    """The store's write lock could not be had in time (SQLAlchemy wraps it in ``OperationalError``)."""


class WriteGate:
    """One writer at a time: a lock with a bounded wait, and how long writers waited (for the metrics)."""

    def __init__(self, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the write lock; :class:`StoreBusy` after ``wait_seconds``."""
        if not self._lock.acquire(timeout=self.wait_seconds):
            raise StoreBusy(f"database is busy: no write slot within {self.wait_seconds:g} s")

    def release(self) -> None:
        """Give the write lock back."""
        self._lock.release()


def _is_write(sql: str) -> bool:
    head = sql.lstrip()[:10].upper()
    return head.startswith(_WRITES)


class _GatedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _GatedCursor:
        conn: _GatedConnection = self.connection  # type: ignore[assignment]
        conn._enter(sql)
        try:
            super().execute(sql, parameters)
            return self
        finally:
            conn._settle()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _GatedCursor:
        conn: _GatedConnection = self.connection  # type: ignore[assignment]
        conn._enter(sql)
        try:
            super().executemany(sql, seq_of_parameters)
            return self
        finally:
            conn._settle()


class _GatedConnection(sqlite3.Connection):
    """A DB-API connection that holds its engine's :class:`WriteGate` from its first write to commit/rollback."""

    gate: WriteGate  # set on the per-engine subclass
    _holds = False

    def cursor(self, factory: Any = _GatedCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def _enter(self, sql: str) -> None:
        if not self._holds and _is_write(sql):
            self.gate.acquire()
            self._holds = True

    def _settle(self) -> None:
        """Release the gate when no transaction is left open (a failed first write, DDL in autocommit)."""
        if self._holds and not self.in_transaction:
            self._holds = False
            self.gate.release()

    def _release(self) -> None:
        if self._holds:
            self._holds = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def make_engine(url: str, busy_timeout: float = 5.0, write_wait: float = 10.0) -> Engine:
    """An engine for ``url``. SQLite gets WAL, enforced foreign keys, a :class:`WriteGate` whose writers wait at most
    ``write_wait`` seconds for their turn, and ``busy_timeout`` seconds of waiting on other processes' writes."""
    if url.startswith("sqlite"):
        gate = WriteGate(write_wait)
        factory = type("GatedConnection", (_GatedConnection,), {"gate": gate})
        # a request may hold one connection for its handler and open another one briefly (auth, a task row):
        # enough connections that request threads never wait for the pool (they are cheap on SQLite)
        engine = create_engine(url, pool_size=20, max_overflow=100,
                               connect_args={"check_same_thread": False, "timeout": busy_timeout, "factory": factory})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_busy(exc: BaseException) -> bool:
    """True for "the store is busy, try again" errors (our write gate, SQLite's lock, PostgreSQL's lock timeouts)."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, StoreBusy):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text
