"""The queue wrapper (app/jobs/queue.py): storage chosen from Settings, periodic work in burst
mode, and the worker command refusing a queue it cannot consume."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.jobs import registry
from app.jobs.queue import get_queue, postgres_dsn, queue_mode


def test_the_storage_follows_the_settings(tmp_path):
    sqlite = Settings(PEERREADY_DATA_DIR=tmp_path)
    assert queue_mode(sqlite) == "sqlite"
    pg = Settings(PEERREADY_DATA_DIR=tmp_path, DATABASE_URL="postgres://u:p%40ss@db.example:5433/peerready")
    assert queue_mode(pg) == "postgres"
    assert postgres_dsn(pg) == "postgresql://u:p%40ss@db.example:5433/peerready"
    assert queue_mode(Settings(PEERREADY_DATA_DIR=tmp_path, PEERREADY_QUEUE="immediate")) == "immediate"
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        postgres_dsn(Settings(PEERREADY_DATA_DIR=tmp_path, PEERREADY_QUEUE="postgres"))


def test_burst_runs_each_periodic_work_once(engine, tmp_path):
    calls = []
    registry.register_periodic(
        registry.Periodic("test_due_work", 5, lambda engine, settings: calls.append(settings))
    )
    try:
        settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path, PEERREADY_QUEUE="sqlite")
        assert get_queue(settings, engine).run_burst() == 0
        assert calls == [settings]
    finally:
        registry._PERIODIC.pop("test_due_work", None)
    with pytest.raises(ValueError):
        registry.register_periodic(registry.Periodic("odd", 7, lambda engine, settings: None))


def test_the_worker_refuses_the_immediate_queue(monkeypatch, tmp_path):
    monkeypatch.setenv("PEERREADY_QUEUE", "immediate")
    monkeypatch.setenv("PEERREADY_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["worker", "--burst"])
    assert result.exit_code == 2 and "a worker has nothing to do" in result.output
