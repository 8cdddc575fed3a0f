"""The stores and brokers tests run against: SQLite files, and the PostgreSQL and Redis that ``scripts/test-services``
starts (or the machine's own), named by ``HULLSCAN_TEST_PG_URL`` and ``HULLSCAN_TEST_REDIS_URL``.

Every PostgreSQL database a test asks for is created fresh (``hs_<random>``) and dropped when the test ends;
Redis users get a database number (1..15, so the machine's own Redis serves too) and a key prefix of their own
(:func:`redis_prefix`); no test flushes a Redis database.
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_ENV = "HULLSCAN_TEST_PG_URL"
REDIS_ENV = "HULLSCAN_TEST_REDIS_URL"
NO_PG = f"no PostgreSQL for the tests (${PG_ENV} unset: run through scripts/test or scripts/test-services)"
NO_REDIS = f"no Redis for the tests (${REDIS_ENV} unset: run through scripts/test or scripts/test-services)"


def pg_base() -> str:
    """``postgresql+psycopg://user@host:port`` of a server where tests may create databases ("" when none)."""
    return os.environ.get(PG_ENV, "").rstrip("/")


def redis_base() -> str:
    """``redis://host:port`` of the test Redis ("" when none)."""
    return os.environ.get(REDIS_ENV, "").rstrip("/")


def _admin():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(f"{pg_base()}/postgres", isolation_level="AUTOCOMMIT", poolclass=_null_pool())


def _null_pool():  # type: ignore[no-untyped-def]
    from sqlalchemy.pool import NullPool

    return NullPool


def create_pg_database(prefix: str = "hs") -> str:
    """A new empty database on the test server; returns its SQLAlchemy URL."""
    from sqlalchemy import text

    if not pg_base():
        pytest.skip(NO_PG)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{pg_base()}/{name}"


def drop_pg_database(url: str) -> None:
    """Drop a database made by :func:`create_pg_database` (its open connections are ended first)."""
    from sqlalchemy import text

    name = url.rsplit("/", 1)[-1]
    engine = _admin()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


_redis_db_counter = iter(range(10**9))


def redis_url() -> str:
    """A Redis URL for one test (a database number 1..15, spread over xdist workers)."""
    if not redis_base():
        pytest.skip(NO_REDIS)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker[2:] or 0) * 7 if worker.startswith("gw") and worker[2:].isdigit() else 0
    return f"{redis_base()}/{1 + (offset + next(_redis_db_counter)) % 15}"


def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"hstest-{uuid.uuid4().hex[:10]}:"
