"""Stored scores: the rules module's scorecard of an assessment, kept up to date in the database.

Every change that can alter results (submit, reopen, import) calls `refresh_scores` in the same
transaction as the change, so the results page, the portfolio and the PDF read stored data and
always agree.

Which responses count (COUNTING_RULE): SUBMITTED responses only. Pages still say how many are in
progress ("n submitted, m in progress"), but in-progress answers are not in any figure, because:

* privacy: if half-finished responses counted, a lead watching the live results while a known
  colleague fills in the survey would see the numbers move with each of that person's answers;
  a submitted response joins the figures all at once, together with the others;
* stability: a half-answered response shifts scores up and down as it is filled in;
* speed: an autosave cannot change any figure, so it does not rescore the whole assessment (a
  full rescore of 40 respondents costs more than an autosave may take).

Results are still live while a cycle is open: each submission (and each reopen) updates them.
The portfolio and PDF read the same stored scorecard, so they follow the same rule.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, delete, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    Comment,
    DomainScore,
    Response,
    ResponseStatus,
    utcnow,
)
from app.db.upsert import upsert
from app.disclosure.view import comment_visibility
from app.errors import NotFound
from app.i18n import N_
from app.instruments.models import Instrument, text
from app.scoring import ResponseInput, Scorecard, score_responses
from app.services import instruments_store, locks

log = logging.getLogger("peerready.scores")

COUNTING_RULE = N_("Submitted responses only; answers still in progress are not included.")


@dataclass
class CountedResponses:
    inputs: list[ResponseInput]
    response_ids: list[int] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return len(self.inputs)


def counted_responses(session: Session, *, assessment_id: int, instrument: Instrument) -> CountedResponses:
    """The ResponseInputs the results are computed from (see COUNTING_RULE).

    Answers that are not valid for the pinned instrument (impossible through the web form, but
    possible through manual database edits) are left out and logged rather than breaking results.
    """
    people = session.exec(
        select(Response.id, Response.group)
        .where(Response.assessment_id == assessment_id, Response.status == ResponseStatus.submitted)
        .order_by(col(Response.id))
    ).all()
    rows = session.exec(
        select(Answer.response_id, Answer.item_id, Answer.value)
        .join(Response, col(Response.id) == Answer.response_id)
        .where(Response.assessment_id == assessment_id, Response.status == ResponseStatus.submitted)
    )
    answers: dict[int, dict[str, str]] = defaultdict(dict)
    for response_id, item_id, value in rows:
        if (
            instrument.has_item(item_id)
            and instrument.option(instrument.item_by_id(item_id), value) is not None
        ):
            answers[response_id][item_id] = value
        else:
            log.warning("Ignoring invalid stored answer %s=%r of response %s", item_id, value, response_id)
    counted = CountedResponses(inputs=[])
    for response_id, group in people:
        if not instrument.has_group(group):
            log.warning("Ignoring response %s of unknown group %r", response_id, group)
            continue
        counted.inputs.append(
            ResponseInput(respondent_id=str(response_id), group=group, answers=answers.get(response_id, {}))
        )
        counted.response_ids.append(response_id)
    return counted


def refresh_scores(
    session: Session,
    *,
    assessment_id: int,
    privacy_threshold: int,
    instrument: Instrument | None = None,
) -> Scorecard:
    """Recompute and store the assessment's scorecard and per-condition rows (same transaction).
    `privacy_threshold` is the app's setting (PEERREADY_PRIVACY_THRESHOLD), passed by the caller.

    Takes the assessment's write lock first (a no-op when the caller already holds it), so two
    refreshes never interleave: each reads every response committed before it, and the last
    one to commit stores the scorecard of all of them. The score row is upserted, because a
    results page may compute the first scorecard of a new cycle while a submit does the same."""
    locks.lock_assessment(session, assessment_id)
    if instrument is None:
        assessment = session.get(Assessment, assessment_id)
        if assessment is None:
            raise NotFound("No such assessment.")
        instrument = instruments_store.instrument_for(session, assessment)
    counted = counted_responses(session, assessment_id=assessment_id, instrument=instrument)
    scorecard = score_responses(instrument, counted.inputs, privacy_threshold=privacy_threshold)

    session.execute(
        upsert(
            session,
            AssessmentScore.__table__,  # type: ignore[arg-type]
            values={
                "assessment_id": assessment_id,
                "scorecard": scorecard.model_dump(mode="json"),
                "n_respondents": len(counted.inputs),
                "n_submitted": counted.submitted,  # the same as n_respondents under COUNTING_RULE
                "computed_at": utcnow(),
            },
            key=["assessment_id"],
        )
    )
    cached = session.identity_map.get(session.identity_key(AssessmentScore, assessment_id))
    if cached is not None:  # loaded earlier in this session: read the upserted row next time
        session.expire(cached)

    existing = {
        row.domain_id: row
        for row in session.exec(select(DomainScore).where(DomainScore.assessment_id == assessment_id))
    }
    for domain in scorecard.domains:
        row = existing.pop(domain.domain_id, None) or DomainScore(
            assessment_id=assessment_id, domain_id=domain.domain_id
        )
        row.score = domain.score
        row.level_id = domain.level_id
        row.n = domain.n
        row.sd = domain.sd
        session.add(row)
    if existing:
        session.exec(delete(DomainScore).where(col(DomainScore.id).in_([r.id for r in existing.values()])))
    session.flush()
    return scorecard


def stored_scorecard(session: Session, *, assessment_id: int) -> tuple[Scorecard, AssessmentScore] | None:
    stored = session.get(AssessmentScore, assessment_id)
    if stored is None or not stored.scorecard:
        return None
    return Scorecard.model_validate(stored.scorecard), stored


def scorecard_or_refresh(
    session: Session, *, assessment: Assessment, privacy_threshold: int
) -> tuple[Scorecard, AssessmentScore]:
    """The stored scorecard; computed once for an assessment that has none yet (a new cycle)."""
    found = stored_scorecard(session, assessment_id=assessment.id)
    if found is None:
        refresh_scores(session, assessment_id=assessment.id, privacy_threshold=privacy_threshold)
        found = stored_scorecard(session, assessment_id=assessment.id)
    assert found is not None
    return found


@dataclass(frozen=True)
class ShownComment:
    domain_id: str
    text: str
    group_label: str | None  # None when the group is too small to name


def comments_for_results(
    session: Session, *, assessment_id: int, instrument: Instrument, scorecard: Scorecard
) -> dict[str, list[ShownComment]]:
    """Free-text comments per condition, for the org lead, consultants and admins only (NEVER
    funders). No comment is attributed to a person; a comment is shown only when the row of
    the condition its writer belongs to is shown, and its group is named only when the group is
    shown on its own (app.disclosure.view.comment_visibility).
    Like the figures, only submitted responses' comments are shown (COUNTING_RULE)."""
    rows = session.exec(
        select(Comment.domain_id, Comment.text, Response.group)
        .join(Response, col(Response.id) == Comment.response_id)
        .where(Response.assessment_id == assessment_id, Response.status == ResponseStatus.submitted)
    ).all()
    result: dict[str, list[ShownComment]] = defaultdict(list)
    for domain_id, body, group in rows:
        # A comment follows the figure it sits beside (app.disclosure.view.comment_visibility).
        visibility = comment_visibility(scorecard, domain_id, group)
        if visibility == "hidden":
            continue
        label = None
        if visibility == "named" and instrument.has_group(group):
            label = text(instrument.group_by_id(group).label)
        result[domain_id].append(ShownComment(domain_id, body, label))
    # Sorted by text, not by time, so the order does not hint at who wrote what.
    return {d: sorted(c, key=lambda x: x.text.lower()) for d, c in result.items()}
