"""Releases: the frozen, disclosed results of a closed cycle (docs/privacy.md, "Releases").

Results page, PDF, CSV, action plan, portfolio, JSON API and the consultant's views read the
LATEST RELEASE of a cycle, never the live scores (app.services.scores keeps those for this module
only). A release is made when a cycle closes (`release_at_close`); the rules of what it may show
and whether a re-release may go out are the disclosure layer's (app.disclosure.release).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from app.db.models import (
    Assessment,
    AssessmentScore,
    AssessmentStatus,
    DomainScore,
    PortfolioSite,
    Release,
    User,
    utcnow,
)
from app.disclosure import policy
from app.disclosure.release import Decision, cells_from_json, cells_to_json, decide_release
from app.disclosure.view import disclose_scorecard
from app.scoring import Scorecard, score_responses
from app.services import audit, instruments_store, scores, site_figures
from app.services.locks import lock_assessment


@dataclass(frozen=True)
class ReleaseState:
    """What a page says about a cycle's results."""

    latest: Release | None
    changed_since: int  # responses added, changed or withdrawn since the latest release
    changes_needed: int  # before a re-release may go out (0: it may, at the next close)
    held_by_audit: bool  # closed with enough changes, yet the audit kept the last release


def latest_release(session: Session, *, assessment_id: int) -> Release | None:
    return session.exec(
        select(Release).where(Release.assessment_id == assessment_id).order_by(col(Release.number).desc())
    ).first()


def released_scorecard(session: Session, *, assessment_id: int) -> tuple[Scorecard, Release] | None:
    """The latest release's scorecard (disclosed once more: the view is idempotent)."""
    release = latest_release(session, assessment_id=assessment_id)
    if release is None:
        return None
    return disclose_scorecard(Scorecard.model_validate(release.scorecard)), release


def _decide(
    session: Session, *, assessment: Assessment, privacy_threshold: int
) -> tuple[Decision, scores.CountedResponses]:
    instrument = instruments_store.instrument_for(session, assessment)
    counted = scores.counted_responses(session, assessment_id=assessment.id, instrument=instrument)
    raw = score_responses(instrument, counted.inputs, privacy_threshold=privacy_threshold)
    earlier = list(
        session.exec(
            select(Release).where(Release.assessment_id == assessment.id).order_by(col(Release.number))
        )
    )
    previous_cells = [c for r in earlier for c in cells_from_json(r.cells)]
    decision = decide_release(
        instrument,
        counted.inputs,
        raw,
        previous_cells=previous_cells,
        previous_fingerprints=earlier[-1].members if earlier else None,
    )
    return decision, counted


def release_at_close(
    session: Session,
    *,
    assessment: Assessment,
    privacy_threshold: int,
    actor: User | str,
    refresh_figures: bool = True,
) -> Release | None:
    """Make the cycle's next release if the rules allow (caller's transaction, under the
    assessment's lock). Returns the new release, or None when the last one stays.

    A new release also makes the site's stored portfolio figures again (app.services.site_figures),
    unless `refresh_figures` is False: the caller then does it for many sites at once."""
    lock_assessment(session, assessment.id)
    decision, counted = _decide(session, assessment=assessment, privacy_threshold=privacy_threshold)
    instrument = instruments_store.instrument_for(session, assessment)
    if not decision.release or decision.scorecard is None:
        if decision.held:
            audit.record(
                session,
                actor=actor,
                action="results.release_held",
                target=f"assessment:{assessment.id}",
                organization_id=assessment.organization_id,
                detail={"reason": decision.held, "changed": decision.changed},
            )
        return None
    previous = latest_release(session, assessment_id=assessment.id)
    scorecard = decision.scorecard
    release = Release(
        assessment_id=assessment.id,
        number=(previous.number + 1) if previous else 1,
        created_at=utcnow(),
        scorecard=scorecard.model_dump(mode="json"),
        n_respondents=scorecard.n_respondents,
        members=decision.fingerprints,
        cells=cells_to_json(decision.cells),
        comments=scores.released_comments(
            session, assessment_id=assessment.id, instrument=instrument, scorecard=scorecard
        ),
    )
    release.n_imported = sum(1 for r in counted.inputs if r.source == "import")
    release.n_web = len(counted.inputs) - release.n_imported
    session.add(release)
    _write_domain_scores(session, assessment_id=assessment.id, scorecard=scorecard)
    session.flush()
    if refresh_figures:  # the portfolio's stored figures of this site, from its new release
        site_figures.refresh(
            session, organization_ids=[assessment.organization_id], privacy_threshold=privacy_threshold
        )
    audit.record(
        session,
        actor=actor,
        action="results.release",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail={
            "release": release.number,
            "respondents": release.n_respondents,
            "imported": release.n_imported,
            "changed": decision.changed,
            "suppressed_cells": len(decision.suppressed),
        },
    )
    return release


def _write_domain_scores(session: Session, *, assessment_id: int, scorecard: Scorecard) -> None:
    """The released site-level condition rows the portfolio queries (one per condition)."""
    session.exec(delete(DomainScore).where(col(DomainScore.assessment_id) == assessment_id))
    session.flush()
    for domain in scorecard.domains:
        session.add(
            DomainScore(
                assessment_id=assessment_id,
                domain_id=domain.domain_id,
                score=domain.score,
                level_id=domain.level_id,
                n=domain.n,
                sd=domain.sd,
            )
        )


def _threshold_of(session: Session, assessment_id: int, privacy_threshold: int | None) -> int:
    if privacy_threshold is not None:
        return privacy_threshold
    stored = session.get(AssessmentScore, assessment_id)
    if stored is not None and stored.scorecard:
        return int(stored.scorecard.get("privacy_threshold", policy.DEFAULT_THRESHOLD))
    return policy.DEFAULT_THRESHOLD


def ensure_released(
    session: Session,
    *,
    assessment: Assessment,
    privacy_threshold: int | None = None,
    refresh_figures: bool = True,
) -> None:
    """A cycle that stopped taking answers without an explicit close (its close date passed), or
    closed before releases existed, gets its first release when its results are first read.
    (`privacy_threshold` None: the one its live scores were computed with.)"""
    if assessment.id is None or latest_release(session, assessment_id=assessment.id) is not None:
        return
    from app.services.assessments import is_accepting_answers

    if assessment.status == AssessmentStatus.closed or not is_accepting_answers(assessment):
        release_at_close(
            session,
            assessment=assessment,
            privacy_threshold=_threshold_of(session, assessment.id, privacy_threshold),
            actor="system",
            refresh_figures=refresh_figures,
        )


def release_missing(session: Session, *, organization_ids: list[int], privacy_threshold: int) -> None:
    """`ensure_released` for every closed cycle of these organizations that has no release yet
    (one query when there is none, which is the usual case)."""
    if not organization_ids:
        return
    released = select(Release.assessment_id).where(Release.assessment_id == Assessment.id).exists()
    missing = session.exec(
        select(Assessment).where(
            col(Assessment.organization_id).in_(organization_ids),
            Assessment.status == AssessmentStatus.closed,
            ~released,
        )
    ).all()
    for assessment in missing:
        ensure_released(session, assessment=assessment, privacy_threshold=privacy_threshold)


def release_missing_in_portfolio(session: Session, *, portfolio_id: int, privacy_threshold: int) -> None:
    """`release_missing` for the sites of a portfolio (one query when nothing is missing). The
    caller makes the stored figures of the sites that got a release (`site_figures.ensure_fresh`)."""
    released = select(Release.assessment_id).where(Release.assessment_id == Assessment.id).exists()
    members = select(PortfolioSite.organization_id).where(PortfolioSite.portfolio_id == portfolio_id)
    missing = session.exec(
        select(Assessment).where(
            col(Assessment.organization_id).in_(members),
            Assessment.status == AssessmentStatus.closed,
            ~released,
        )
    ).all()
    for assessment in missing:
        ensure_released(
            session, assessment=assessment, privacy_threshold=privacy_threshold, refresh_figures=False
        )


def release_state(session: Session, *, assessment: Assessment, privacy_threshold: int) -> ReleaseState:
    latest = latest_release(session, assessment_id=assessment.id)
    if latest is None:
        return ReleaseState(latest=None, changed_since=0, changes_needed=0, held_by_audit=False)
    decision, _ = _decide(session, assessment=assessment, privacy_threshold=privacy_threshold)
    changed = decision.changed
    needed = policy.changes_needed(changed, privacy_threshold) if changed else 0
    closed_after = assessment.status == AssessmentStatus.closed and (
        assessment.closed_at is not None and assessment.closed_at > latest.created_at
    )
    return ReleaseState(
        latest=latest,
        changed_since=changed,
        changes_needed=needed,
        held_by_audit=closed_after and changed > 0 and needed == 0 and decision.held == "audit",
    )


def release_numbers(session: Session, *, assessment_ids: list[int]) -> dict[int, int]:
    """The latest release number of each assessment that has one."""
    if not assessment_ids:
        return {}
    rows = session.exec(
        select(Release.assessment_id, func.max(Release.number))
        .where(col(Release.assessment_id).in_(assessment_ids))
        .group_by(col(Release.assessment_id))
    )
    return dict(rows.all())
