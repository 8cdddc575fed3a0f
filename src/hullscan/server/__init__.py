"""The security center server: registries, asset sync, scan tasks, results store and REST API.

Embedded default: one process, SQLite (WAL) in the data dir, in-process workers and scheduler::

    hullscan admin create [--data-dir D]          # first admin; prints an API token once
    hullscan server --host 127.0.0.1 --port 8080 [--data-dir D] [--db-url postgresql+psycopg://...]

Layout: ``db/`` (SQLAlchemy models, Alembic migrations applied on start), ``providers/`` (Harbor v2/v1,
Quay v1, GitLab v4, Distribution v2), ``tasks.py`` (task rows + Queue protocol + InProcessQueue; the task
functions ``sync``/``scan``/``rematch`` take ``(Runtime, task_id)`` so a Celery queue can run them unchanged),
``scheduler.py`` (daily sync, scan cycle, DB-change re-match, retention, whitelist expiry), ``api/`` (FastAPI
routers; every endpoint but ``/healthz`` needs a Bearer API token or Basic user/password), ``harbor_adapter.py``
(Harbor pluggable scanner API), ``pushhooks.py`` (push webhooks), ``metrics.py`` (Prometheus ``/metrics``).

Heavy libraries (SQLAlchemy, FastAPI...) are imported by the modules of this package only, never by
``hullscan image``.
"""
