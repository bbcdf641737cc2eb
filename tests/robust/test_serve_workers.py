"""`peerready serve --workers N` starts N uvicorn worker processes from the app factory (each
process builds its own app from the same settings)."""

from __future__ import annotations

import uvicorn
from click.testing import CliRunner

from app.cli import cli


def test_serve_with_workers_runs_the_factory_in_n_processes(monkeypatch, tmp_path):
    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setenv("PEERREADY_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["serve", "--workers", "4", "--port", "8123"])
    assert result.exit_code == 0, result.output
    ((args, kwargs),) = calls
    assert args == ("app.web.main:create_app",)
    assert kwargs["factory"] is True and kwargs["workers"] == 4 and kwargs["port"] == 8123
    assert "4 worker processes; each opens at most 10 database connections." in result.output


def test_reload_and_workers_do_not_go_together(monkeypatch, tmp_path):
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv("PEERREADY_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["serve", "--workers", "2", "--reload"])
    assert result.exit_code == 2
    assert "--reload runs one process" in result.output
