"""The store: SQLAlchemy models, Alembic migrations and query helpers (portable SQL: SQLite and PostgreSQL)."""
