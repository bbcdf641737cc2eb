"""Reports ready before the click: when something an assessment's PDF shows changes, a `report`
job re-renders its PDFs into the content-keyed cache, so the download is a file read.

What counts as a change is seen at the ORM level, whatever service made it (a flush listener on
every session bound to a watched engine): the stored scorecard (`AssessmentScore`,
`DomainScore`), the commentary, the organization's action plan (`PlanItem`, shown in the report of
each of its cycles), the cycle itself (its name, status, dates or the instrument snapshot it is
pinned to) and the organization's name. A changed scorecard also changes the report of the next
cycle (its "since the previous cycle" part).

The jobs start once the session commits (never for a rollback), started by PeerReady itself (no
person). One job per assessment: a change made while that assessment's job is still waiting joins
it (the job reads the data when it runs). A change made while it is already rendering is covered
at download time: the download finds no file for the new content and starts the job again.

`watch(engine, settings)` turns this on for an engine (create_app and data-changing commands call
it); PEERREADY_PREPARE_REPORTS=false turns it off, and so does the immediate queue (no background
to prepare in: the download starts the job, which then runs inside it).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Set as AbstractSet
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.config import Settings
from app.db.models import (
    Assessment,
    AssessmentScore,
    Commentary,
    DomainScore,
    InstrumentVersion,
    Job,
    Organization,
    PlanItem,
)

log = logging.getLogger("peerready.jobs")

REPORT_KIND = "report"
_ASSESSMENTS = "peerready.report_prepare.assessments"
_ORGANIZATIONS = "peerready.report_prepare.organizations"
_VERSIONS = "peerready.report_prepare.versions"
_FOLLOWERS = "peerready.report_prepare.followers"
# A cycle's own columns the report does not show: changing them re-renders nothing.
_ASSESSMENT_COLUMNS_NOT_SHOWN = frozenset({"expected_respondents", "created_by_id"})

_WATCHED: weakref.WeakKeyDictionary[Engine, Settings] = weakref.WeakKeyDictionary()
_WATCHED_LOCK = threading.Lock()


def watch(engine: Engine, settings: Settings) -> None:
    """Prepare reports after every committed change made through `engine` (or stop, when the
    settings turn it off). The latest call for an engine wins."""
    from app.jobs.queue import queue_mode

    with _WATCHED_LOCK:
        # Immediate mode has no background: preparing would render inside every change; the
        # download renders on demand instead.
        if settings.prepare_reports and queue_mode(settings) != "immediate":
            _WATCHED[engine] = settings
        else:
            _WATCHED.pop(engine, None)


def unwatch(engine: Engine) -> None:
    with _WATCHED_LOCK:
        _WATCHED.pop(engine, None)


def _engine_of(session: Session) -> Engine | None:
    try:
        bind = session.get_bind()
    except Exception:  # an unbound session changes nothing we watch
        return None
    return bind if isinstance(bind, Engine) else bind.engine


def _settings_for(session: Session) -> Settings | None:
    if not _WATCHED:
        return None
    engine = _engine_of(session)
    return _WATCHED.get(engine) if engine is not None else None


def _changed_columns(obj: Any) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


@event.listens_for(Session, "before_flush")
def _collect(session: Session, flush_context: Any, instances: Any) -> None:
    """Note what a flush is about to change (attribute history is still there before it)."""
    if _settings_for(session) is None:
        return
    info = session.info
    assessments: set[int] = info.setdefault(_ASSESSMENTS, set())
    organizations: set[int] = info.setdefault(_ORGANIZATIONS, set())
    versions: set[int] = info.setdefault(_VERSIONS, set())
    followers: set[int] = info.setdefault(_FOLLOWERS, set())
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, AssessmentScore | DomainScore | Commentary):
            if obj.assessment_id is not None:
                assessments.add(obj.assessment_id)
                if isinstance(obj, AssessmentScore):
                    followers.add(obj.assessment_id)
        elif isinstance(obj, PlanItem):
            if obj.organization_id is not None:
                organizations.add(obj.organization_id)
        elif isinstance(obj, Assessment):
            if obj in session.dirty and obj.id is not None:
                if _changed_columns(obj) - _ASSESSMENT_COLUMNS_NOT_SHOWN:
                    assessments.add(obj.id)
        elif isinstance(obj, Organization):
            if obj in session.dirty and obj.id is not None and "name" in _changed_columns(obj):
                organizations.add(obj.id)
        elif isinstance(obj, InstrumentVersion):
            if obj in session.dirty and obj.id is not None:
                versions.add(obj.id)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        for key in (_ASSESSMENTS, _ORGANIZATIONS, _VERSIONS, _FOLLOWERS):
            session.info.pop(key, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # SQLAlchemy also calls after_commit when a SAVEPOINT (begin_nested) is released; the outer
    # transaction still holds its locks then, so a job written now on another connection would
    # wait for this very request (SQLite's write lock): wait for the real commit.
    if session.in_nested_transaction():
        return
    info = session.info
    assessments = info.pop(_ASSESSMENTS, None) or set()
    organizations = info.pop(_ORGANIZATIONS, None) or set()
    versions = info.pop(_VERSIONS, None) or set()
    followers = info.pop(_FOLLOWERS, None) or set()
    if not (assessments or organizations or versions):
        return
    settings = _settings_for(session)
    engine = _engine_of(session)
    if settings is None or engine is None:
        return
    try:
        prepare_reports(
            engine,
            settings,
            assessment_ids=assessments,
            organization_ids=organizations,
            version_ids=versions,
            previous_ids=followers,
        )
    except Exception:
        # The caller's change is committed; a report that could not be queued is prepared at
        # its next download instead.
        log.exception("Could not queue report preparation")


def affected_assessments(
    session: Session,
    *,
    assessment_ids: set[int],
    organization_ids: AbstractSet[int] = frozenset(),
    version_ids: AbstractSet[int] = frozenset(),
    previous_ids: AbstractSet[int] = frozenset(),
) -> list[int]:
    """Every assessment whose report shows one of these changes (one query)."""
    conditions = []
    if assessment_ids:
        conditions.append(col(Assessment.id).in_(sorted(assessment_ids)))
    if organization_ids:
        conditions.append(col(Assessment.organization_id).in_(sorted(organization_ids)))
    if version_ids:
        conditions.append(col(Assessment.instrument_version_id).in_(sorted(version_ids)))
    if previous_ids:
        conditions.append(col(Assessment.previous_assessment_id).in_(sorted(previous_ids)))
    if not conditions:
        return []
    return list(session.exec(select(Assessment.id).where(or_(*conditions)).order_by(col(Assessment.id))))


def prepare_reports(
    engine: Engine,
    settings: Settings,
    *,
    assessment_ids: set[int],
    organization_ids: AbstractSet[int] = frozenset(),
    version_ids: AbstractSet[int] = frozenset(),
    previous_ids: AbstractSet[int] = frozenset(),
) -> list[Job]:
    """Start (or join) a `report` job for each affected assessment; returns the jobs."""
    from app.services import jobs  # jobs imports the queue; keep this module light to import

    started: list[Job] = []
    with Session(engine, expire_on_commit=False) as session:
        ids = affected_assessments(
            session,
            assessment_ids=assessment_ids,
            organization_ids=organization_ids,
            version_ids=version_ids,
            previous_ids=previous_ids,
        )
        for assessment_id in ids:
            try:
                started.append(
                    jobs.start(
                        session,
                        REPORT_KIND,
                        params={"assessment_id": assessment_id},
                        user=None,
                        settings=settings,
                    )
                )
            except Exception:
                session.rollback()
                log.exception("Could not queue the report of assessment %s", assessment_id)
    return started
