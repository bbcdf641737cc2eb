"""Live scores: the rules module's scorecard of an assessment, kept up to date in the database.

Every change that can alter results (submit, reopen, import) calls `refresh_scores` in the same
transaction as the change. These live scores are INTERNAL: nobody sees them. What pages, the
PDF, exports, the portfolio and the API show is the cycle's latest release
(app.services.releases), made at close (docs/privacy.md, "Releases").

Which responses count (COUNTING_RULE): SUBMITTED responses only. Pages still say how many are in
progress ("n submitted, m in progress"), but in-progress answers are not in any figure, because:

* privacy: if half-finished responses counted, a lead watching the live results while a known
  colleague fills in the survey would see the numbers move with each of that person's answers;
  a submitted response joins the figures all at once, together with the others;
* stability: a half-answered response shifts scores up and down as it is filled in;
* speed: an autosave cannot change any figure, so it does not rescore the whole assessment (a
  full rescore of 40 respondents costs more than an autosave may take).

Imported paper rows count only once an org lead approved their import. Results are never live:
while a cycle is open, pages show how many have answered per group, nothing else.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    Comment,
    ImportBatch,
    ImportBatchStatus,
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


def counts_in_results():
    """The SQL condition for a response row that counts, as in `counted_responses`: a web
    response, or an imported row whose import an org lead approved (use with an outer join of
    ImportBatch on Response.import_batch_id). Counts of people shown anywhere (the cycle page,
    the report's method notes, `peerready assessments`) follow it, so a pending import's rows
    are never counted as answers before the lead approves them (docs/privacy.md)."""
    return or_(
        col(Response.import_batch_id).is_(None),
        col(ImportBatch.status) == ImportBatchStatus.approved,
    )


def counted_responses(session: Session, *, assessment_id: int, instrument: Instrument) -> CountedResponses:
    """The ResponseInputs the results are computed from (see COUNTING_RULE).

    Answers that are not valid for the pinned instrument (impossible through the web form, but
    possible through manual database edits) are left out and logged rather than breaking results.
    """
    people = session.exec(
        select(Response.id, Response.group, Response.source, Response.language)
        .outerjoin(ImportBatch, col(ImportBatch.id) == Response.import_batch_id)
        .where(
            Response.assessment_id == assessment_id,
            Response.status == ResponseStatus.submitted,
            # Imported rows count only once an org lead approved their import.
            counts_in_results(),
        )
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
    for response_id, group, source, language in people:
        if not instrument.has_group(group):
            log.warning("Ignoring response %s of unknown group %r", response_id, group)
            continue
        counted.inputs.append(
            ResponseInput(
                respondent_id=str(response_id),
                group=group,
                answers=answers.get(response_id, {}),
                source="import" if source == "import" else "web",
                language=language,
            )
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
    """Recompute and store the assessment's live scorecard (same transaction). It is internal:
    what anybody sees is a release (app.services.releases), made from the answers at close.
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
            AssessmentScore.__table__,  # type: ignore[attr-defined]  # sqlmodel types no __table__ on table models
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


def released_comments(
    session: Session, *, assessment_id: int, instrument: Instrument, scorecard: Scorecard
) -> list[dict[str, str | None]]:
    """The comments to freeze into a release: of the counted responses only, and only where
    `comment_visibility` allows (hidden with a hidden row; the group named only when it is shown
    on its own). Sorted by text, not by time, so the order does not hint at who wrote what."""
    counted = counted_responses(session, assessment_id=assessment_id, instrument=instrument)
    ids = [int(i) for i in counted.response_ids]
    if not ids:
        return []
    rows = session.exec(
        select(Comment.domain_id, Comment.text, Response.group)
        .join(Response, col(Response.id) == Comment.response_id)
        .where(col(Response.id).in_(ids))
    ).all()
    shown: list[dict[str, str | None]] = []
    for domain_id, body, group in rows:
        visibility = comment_visibility(scorecard, domain_id, group)
        if visibility == "hidden":
            continue
        label = None
        if visibility == "named" and instrument.has_group(group):
            label = text(instrument.group_by_id(group).label)
        shown.append({"domain_id": domain_id, "text": body, "group_label": label})
    return sorted(shown, key=lambda c: (str(c["domain_id"]), str(c["text"]).lower()))


def comments_for_results(released: list[dict]) -> dict[str, list[ShownComment]]:
    """A release's comments per condition, for the org lead, consultants and admins only (NEVER
    funders). No comment is attributed to a person; which may be shown was decided when the
    release was made (`released_comments`)."""
    result: dict[str, list[ShownComment]] = defaultdict(list)
    for c in released:
        result[str(c["domain_id"])].append(
            ShownComment(str(c["domain_id"]), str(c["text"]), c.get("group_label"))
        )
    return dict(result)
