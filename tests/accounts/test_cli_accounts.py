"""`peerready create-admin` / `set-password`, and settings errors shown without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from app.db.engine import make_engine
from app.db.models import AuditEvent, Role, User
from app.services.accounts import verify_password

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], *, data_dir: Path, stdin: str = "", env: dict[str, str] | None = None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PEERREADY_", "SECRET_KEY"))}
    environment.update(
        {"PEERREADY_DATA_DIR": str(data_dir), "PEERREADY_ENV": "development", "PYTHONPATH": str(ROOT)}
    )
    environment.update(env or {})
    environment.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=data_dir.parent,
        env=environment,
        timeout=60,
    )


def _users(data_dir: Path) -> list[User]:
    engine = make_engine(f"sqlite:///{data_dir / 'peerready.sqlite3'}")
    with Session(engine) as session:
        users = list(session.exec(select(User)))
        actions = [event.action for event in session.exec(select(AuditEvent))]
    engine.dispose()
    return users, actions


def test_create_admin_from_stdin_then_set_password(tmp_path):
    data_dir = tmp_path / "data"
    created = _run(
        ["create-admin", "--email", "Boss@Example.org", "--name", "Boss", "--password-stdin"],
        data_dir=data_dir,
        stdin="a-strong-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "Created administrator boss@example.org" in created.stdout
    users, actions = _users(data_dir)
    assert [(u.email, u.name, u.role) for u in users] == [("boss@example.org", "Boss", Role.admin)]
    assert verify_password("a-strong-password", users[0].password_hash)
    assert "user.created" in actions

    again = _run(
        ["create-admin", "--email", "boss@example.org", "--password-stdin"],
        data_dir=data_dir,
        stdin="another-strong-password\n",
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr

    reset = _run(
        ["set-password", "--email", "boss@example.org", "--password-stdin"],
        data_dir=data_dir,
        stdin="a-brand-new-password\n",
    )
    assert reset.returncode == 0, reset.stderr
    users, actions = _users(data_dir)
    assert verify_password("a-brand-new-password", users[0].password_hash)
    assert "password.reset" in actions


def test_create_admin_refuses_a_short_password_and_creates_nothing(tmp_path):
    data_dir = tmp_path / "data"
    result = _run(
        ["create-admin", "--email", "a@example.org", "--password-stdin"], data_dir=data_dir, stdin="short\n"
    )
    assert result.returncode == 1
    assert "at least 10 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert _users(data_dir)[0] == []


def test_create_admin_prompts_twice(tmp_path):
    data_dir = tmp_path / "data"
    mismatch = _run(
        ["create-admin", "--email", "a@example.org"],
        data_dir=data_dir,
        stdin="a-strong-password\nsomething-else-1\n",
    )
    assert mismatch.returncode != 0
    assert _users(data_dir)[0] == []
    match = _run(
        ["create-admin", "--email", "a@example.org"],
        data_dir=data_dir,
        stdin="a-strong-password\na-strong-password\n",
    )
    assert match.returncode == 0, match.stderr


def test_production_with_default_secret_gives_a_clear_error_not_a_traceback(tmp_path):
    result = _run(
        ["create-admin", "--email", "a@example.org", "--password-stdin"],
        data_dir=tmp_path / "data",
        stdin="a-strong-password\n",
        env={"PEERREADY_ENV": "production"},
    )
    assert result.returncode == 2
    assert "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_refuse_default_or_short_secret_in_production():
    import pytest
    from pydantic import ValidationError

    from app.config import Settings

    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(PEERREADY_ENV="production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(PEERREADY_ENV="production", SECRET_KEY="too-short")
    assert Settings(PEERREADY_ENV="production", SECRET_KEY="x" * 40).secret_key == "x" * 40
    assert Settings(PEERREADY_ENV="development").secret_key  # development may use the default
