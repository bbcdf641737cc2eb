"""What every `peerready` command that touches the database needs first, and the checks several
commands share."""

from __future__ import annotations

from collections.abc import Sequence

import click
from sqlalchemy.engine import Engine

from app.config import Settings


def ready_engine(settings: Settings) -> Engine:
    """The configured database, migrated to the latest schema."""
    from app.db import migrate
    from app.db.engine import engine_from_settings

    engine = engine_from_settings(settings)
    migrate.upgrade(engine)
    return engine


def check_language(lang: str | None, available: Sequence[str], *, what: str) -> None:
    """Refuse a `--lang` the command cannot write in, as `click.Choice` refuses one (`peerready
    report --lang xx`): a usage error, exit 2, one line naming the languages there are. Without
    this an unknown code fell back to the source language in silence."""
    if lang is not None and lang not in available:
        choices = ", ".join(repr(code) for code in available)
        raise click.BadParameter(f"{lang!r} is not one of {choices} ({what}).", param_hint="'--lang'")
