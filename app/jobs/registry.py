"""Job kinds: what a job does, registered by name.

A kind has two halves:
- `prepare(session, params, user, settings) -> Prepared` runs when someone starts the job (in the
  web request or the CLI): it checks the parameters and the user's access, and says what the job
  concerns (organization or portfolio, for later access checks), its lock key and its time limit.
- `run(ctx, params) -> Output` runs in the worker. It reports progress through `ctx.progress(...)`,
  which is also where a cancel request, the time limit or a worker's shutdown stop it between steps.

New kinds (e.g. sending an invitation email) register themselves with `register(JobKind(...))` in
their own module, listed in BUILTIN_MODULES so the worker process loads them too.

Periodic work ("send the reminders that are due") registers with `register_periodic(Periodic(...))`:
the worker runs it every `every_minutes` minutes, and `peerready worker --burst` runs it once. It must
be idempotent: find what is due in the database, do it, mark it done.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db.models import User
from app.errors import BadInput

if TYPE_CHECKING:
    from app.jobs.runner import JobContext

BUILTIN_MODULES = ("app.jobs.kinds.reports", "app.jobs.kinds.portfolio", "app.jobs.kinds.email")


@dataclass(frozen=True)
class Prepared:
    """What `prepare` decided: stored on the job row."""

    title: str
    params: dict[str, Any]
    organization_id: int | None = None
    portfolio_id: int | None = None
    lock_key: str | None = None
    timeout_seconds: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Output:
    """What a finished job leaves: a file under the data folder (or none) and details to show."""

    path: Path | None = None
    filename: str | None = None
    media_type: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    prepare: Callable[[Session, dict[str, Any], User | None, Settings], Prepared]
    run: Callable[[JobContext, dict[str, Any]], Output]
    # None: use the PEERREADY_JOB_RETRIES setting. 0 for work that must not run twice.
    retries: int | None = None
    # Written to the audit log when someone downloads the job's file.
    audit_action: str = "job.download"
    # What its progress counts ("sites"): a cancelled job then says "Cancelled after 3 of 50 sites".
    unit: str | None = None


@dataclass(frozen=True)
class Periodic:
    name: str
    every_minutes: int
    run: Callable[[Engine, Settings], None]


_KINDS: dict[str, JobKind] = {}
_PERIODIC: dict[str, Periodic] = {}
_loaded = False


def register(kind: JobKind) -> JobKind:
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def register_periodic(work: Periodic) -> Periodic:
    if not 1 <= work.every_minutes <= 60 or 60 % work.every_minutes:
        raise ValueError("every_minutes must divide 60 (1, 2, 5, 10, 15, 30, 60).")
    _PERIODIC[work.name] = work
    return work


def periodic_work() -> list[Periodic]:
    _load_builtins()
    return [_PERIODIC[name] for name in sorted(_PERIODIC)]


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def get_kind(name: str) -> JobKind:
    _load_builtins()
    kind = _KINDS.get(name)
    if kind is None:
        raise BadInput(f"Unknown kind of job: {name[:64]!r}.")
    return kind


def kind_names() -> list[str]:
    _load_builtins()
    return sorted(_KINDS)
