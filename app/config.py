"""Settings, read from the environment (and a `.env` file). Every setting is documented in README.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("PEERREADY_ENV")
    )
    data_dir: Path = Field(default=Path("data"), validation_alias=AliasChoices("PEERREADY_DATA_DIR"))
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PEERREADY_DATABASE_URL")
    )
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET, validation_alias=AliasChoices("SECRET_KEY", "PEERREADY_SECRET_KEY")
    )
    instruments_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("PEERREADY_INSTRUMENTS_DIR")
    )
    # Smallest respondent group whose figures may be shown on their own.
    privacy_threshold: int = Field(
        default=3, ge=1, validation_alias=AliasChoices("PEERREADY_PRIVACY_THRESHOLD")
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=10_000, validation_alias=AliasChoices("PEERREADY_MAX_BODY_BYTES")
    )
    session_max_age: int = Field(
        default=8 * 3600, ge=300, validation_alias=AliasChoices("PEERREADY_SESSION_MAX_AGE")
    )
    # Failed logins before an account is locked; the lock doubles each time from login_lockout_seconds.
    login_max_failures: int = Field(
        default=5, ge=1, validation_alias=AliasChoices("PEERREADY_LOGIN_MAX_FAILURES")
    )
    login_lockout_seconds: int = Field(
        default=60, ge=1, validation_alias=AliasChoices("PEERREADY_LOGIN_LOCKOUT_SECONDS")
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=AliasChoices("PEERREADY_BASE_URL")
    )
    # Background jobs (app/jobs). "auto": huey on PostgreSQL when DATABASE_URL is PostgreSQL, else
    # a SQLite queue file in the data folder. "immediate" runs each job inside the call that starts
    # it (tests, or a one-process setup with no worker).
    queue: Literal["auto", "sqlite", "postgres", "immediate"] = Field(
        default="auto", validation_alias=AliasChoices("PEERREADY_QUEUE")
    )
    job_retries: int = Field(default=2, ge=0, le=10, validation_alias=AliasChoices("PEERREADY_JOB_RETRIES"))
    job_retry_delay: float = Field(
        default=10.0, ge=0, le=3600, validation_alias=AliasChoices("PEERREADY_JOB_RETRY_DELAY")
    )

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and (self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
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


@lru_cache
def get_settings() -> Settings:
    return Settings()


def load_settings_or_exit() -> Settings:
    """Settings for command-line entry points: a clear message and exit status 2 instead of a
    traceback when they are invalid (for example the development SECRET_KEY in production)."""
    import sys

    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"  - {where + ': ' if where else ''}{message}")
        sys.stderr.write("PeerReady cannot start: the settings are not valid.\n" + "\n".join(problems) + "\n")
        raise SystemExit(2) from None
