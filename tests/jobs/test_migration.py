"""Migration 0002_jobs matches the models on both databases, also once huey has created its own
queue tables in the app's PostgreSQL database (Alembic leaves huey_* alone)."""

from __future__ import annotations

from sqlalchemy import inspect

from app.db import migrate
from app.jobs.queue import get_queue, queue_mode
from tests.jobs.conftest import worker_settings


def test_models_and_migrations_agree_with_the_queue_tables_present(engine, tmp_path):
    settings = worker_settings(engine, tmp_path)
    queue = get_queue(settings, engine)
    tables = set(inspect(engine).get_table_names())
    assert {"job", "joblock"} <= tables
    if queue_mode(settings) == "postgres":
        assert {"huey_task", "huey_schedule", "huey_kv"} <= tables
    else:
        assert (tmp_path / "queue.sqlite3").is_file() and not any(t.startswith("huey") for t in tables)
    migrate.check(engine)  # raises when a model change has no migration
    assert queue.pending() == 0
