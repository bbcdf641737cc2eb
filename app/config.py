"""Settings, read from the environment (and a `.env` file). Every setting is documented in README.md.

There is ONE `Settings` object per process: `create_app(settings=...)` keeps it on
`app.state.settings` (routes reach it through `app.web.deps.SettingsDep`) and each `peerready`
command loads it once with `load_settings_or_exit()`. Services never read settings or the
environment themselves: they take what they need (`privacy_threshold=`, `instruments_dir=`, ...)
as keyword-only arguments, so a test or a worker that builds its own `Settings` gets exactly those.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.paths import INSTRUMENTS_DIR

DEVELOPMENT_SECRET = "development-only-secret-change-me"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=_env("PEERREADY_ENV")
    )
    data_dir: Path = Field(default=Path("data"), validation_alias=_env("PEERREADY_DATA_DIR"))
    database_url: str | None = Field(
        default=None, validation_alias=_env("DATABASE_URL", "PEERREADY_DATABASE_URL")
    )
    # PostgreSQL connection pool per process (SQLite ignores both). With the defaults a process
    # holds at most 10 connections: 4 web workers + 1 queue worker stay at 50, well under
    # PostgreSQL's default max_connections=100 (room left for psql, migrations and backups).
    db_pool_size: int = Field(default=5, ge=1, le=100, validation_alias=_env("PEERREADY_DB_POOL_SIZE"))
    db_max_overflow: int = Field(default=5, ge=0, le=100, validation_alias=_env("PEERREADY_DB_MAX_OVERFLOW"))
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET, validation_alias=_env("SECRET_KEY", "PEERREADY_SECRET_KEY")
    )
    instruments_dir: Path = Field(default=INSTRUMENTS_DIR, validation_alias=_env("PEERREADY_INSTRUMENTS_DIR"))
    # A folder whose templates override the shipped ones (the shipped stay reachable as "default:...").
    templates_dir: Path | None = Field(default=None, validation_alias=_env("PEERREADY_TEMPLATES_DIR"))
    # Smallest respondent group whose figures may be shown on their own.
    privacy_threshold: int = Field(default=3, ge=1, validation_alias=_env("PEERREADY_PRIVACY_THRESHOLD"))
    max_body_bytes: int = Field(
        default=1_000_000, ge=10_000, validation_alias=_env("PEERREADY_MAX_BODY_BYTES")
    )
    session_max_age: int = Field(default=8 * 3600, ge=300, validation_alias=_env("PEERREADY_SESSION_MAX_AGE"))
    # Failed logins before an account is locked; the lock doubles each time from login_lockout_seconds.
    login_max_failures: int = Field(default=5, ge=1, validation_alias=_env("PEERREADY_LOGIN_MAX_FAILURES"))
    login_lockout_seconds: int = Field(
        default=60, ge=1, validation_alias=_env("PEERREADY_LOGIN_LOCKOUT_SECONDS")
    )
    # Background jobs (app/jobs). "auto": huey on PostgreSQL when DATABASE_URL is PostgreSQL, else
    # a SQLite queue file in the data folder. "immediate" runs each job inside the call that starts
    # it (tests, or a one-process setup with no worker).
    queue: Literal["auto", "sqlite", "postgres", "immediate"] = Field(
        default="auto", validation_alias=_env("PEERREADY_QUEUE")
    )
    job_retries: int = Field(default=2, ge=0, le=10, validation_alias=_env("PEERREADY_JOB_RETRIES"))
    job_retry_delay: float = Field(
        default=10.0, ge=0, le=3600, validation_alias=_env("PEERREADY_JOB_RETRY_DELAY")
    )
    # Re-render an assessment's PDFs in the background when what they show changes (app/services/
    # report_prepare.py), so downloads are cache hits; and how many cached PDFs to keep.
    prepare_reports: bool = Field(default=True, validation_alias=_env("PEERREADY_PREPARE_REPORTS"))
    report_cache_keep: int = Field(
        default=1000, ge=10, le=1_000_000, validation_alias=_env("PEERREADY_REPORT_CACHE_KEEP")
    )
    # Where `peerready serve` (and so scripts/start.sh) listens unless --host/--port are given.
    host: str = Field(default="127.0.0.1", min_length=1, validation_alias=_env("PEERREADY_HOST"))
    port: int = Field(default=8000, ge=1, le=65535, validation_alias=_env("PEERREADY_PORT"))
    # Public address; empty means http://<host>:<port>.
    base_url: str = Field(default="", validation_alias=_env("PEERREADY_BASE_URL"))
    # Email (invitations, reminders, password resets). No SMTP host: nothing is sent, every
    # message goes to the outbox that administrators read at /admin/outbox.
    smtp_host: str = Field(default="", validation_alias=_env("PEERREADY_SMTP_HOST"))
    smtp_port: int = Field(default=587, ge=1, le=65535, validation_alias=_env("PEERREADY_SMTP_PORT"))
    smtp_user: str = Field(default="", validation_alias=_env("PEERREADY_SMTP_USER"))
    smtp_password: str = Field(default="", validation_alias=_env("PEERREADY_SMTP_PASSWORD"))
    smtp_starttls: bool = Field(default=True, validation_alias=_env("PEERREADY_SMTP_STARTTLS"))
    mail_from: str = Field(
        default="PeerReady <peerready@localhost>", validation_alias=_env("PEERREADY_MAIL_FROM")
    )

    @field_validator("instruments_dir", "templates_dir")
    @classmethod
    def _must_be_a_folder(cls, value: Path | None) -> Path | None:
        # Refused at start-up with a clear message rather than a broken page later.
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @model_validator(mode="after")
    def _check_and_complete(self) -> Settings:
        if self.env == "production" and (self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the URLs hosting providers hand out and use the psycopg 3 driver.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'peerready.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def report_cache_dir(self) -> Path:
        return self.data_dir / "report-cache"


def environment_names() -> dict[str, tuple[str, ...]]:
    """Each setting's environment variable names (the README documents every one)."""
    names: dict[str, tuple[str, ...]] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[name] = (
            tuple(str(a) for a in alias.choices) if isinstance(alias, AliasChoices) else (name.upper(),)
        )
    return names


def load_settings_or_exit() -> Settings:
    """Settings for command-line entry points: a clear message and exit status 2 instead of a
    traceback when they are invalid (for example the development SECRET_KEY in production)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # Locations are the variable names (PEERREADY_...), as the README lists them.
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"  - {where + ': ' if where else ''}{message}")
        sys.stderr.write("PeerReady cannot start: the settings are not valid.\n" + "\n".join(problems) + "\n")
        raise SystemExit(2) from None
