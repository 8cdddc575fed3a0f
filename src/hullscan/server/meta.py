"""Small named values of the server kept in the store (``meta``): set with one upsert statement, so that two
tasks setting the same key at once (two re-matches, two schedulers) never collide on its primary key."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hullscan.server.db.models import Meta


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise NotImplementedError(f"no upsert for {name}")  # the store runs on SQLite or PostgreSQL


def get_meta(session: Session, key: str) -> str | None:
    """The value of ``key``, None when unset."""
    row = session.get(Meta, key)
    return row.value if row is not None else None


def set_meta(session: Session, key: str, value: str, overwrite: bool = True) -> None:
    """Set ``key`` (``overwrite=False``: only when it is not set yet), whoever set it a moment ago."""
    stmt = _insert(session)(Meta).values(key=key, value=value)
    if overwrite:
        stmt = stmt.on_conflict_do_update(index_elements=[Meta.key], set_={"value": value})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Meta.key])
    session.execute(stmt)
    session.expire_all()
